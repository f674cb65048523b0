// Record size benchmark: what `uffdscope record` writes per fault.
//
//   node dist/bench/record_size.js [--quick] [--rounds N] [--pages N] [--threads N]
//
// Each round records the bundled workload at its full rate (postcopy, a
// handler thread, no handler delay: every fault a blocking MISSING fault
// resolved by UFFDIO_COPY) with the real CLI, `uffdscope record -o FILE --
// WORKLOAD`, then walks the file: records and record bytes (every record in
// it, the once-per-thread, once-per-VMA and setup ones included) divided by
// the faults the workload counted itself. Also: records lost, and the file's
// size per fault (chunk headers and the preamble included).
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  boostSession,
  cliPath,
  emit,
  emitSpread,
  log,
  mustSucceed,
  numOpt,
  parseArgs,
  readJson,
  requireRoot,
  runRetry,
  saveResults,
  spread,
  workloadBinary,
} from './lib/common.js';
import { openRecording } from '../src/recording/reader.js';
import { CHUNK_RECORDS, RECORD_SIZE_OFFSET } from '../src/recording/format.js';

interface Round {
  faults: number;
  records: number;
  bytes: number;
  fileBytes: number;
  lost: number;
}

/** Records and their bytes in a recording, from each record's size field. */
function walk(path: string): { records: number; bytes: number; lost: number } {
  const rec = openRecording(path);
  let records = 0;
  let bytes = 0;
  const it = rec.chunks();
  let r = it.next();
  while (!r.done) {
    const c = r.value;
    if (c.kind === CHUNK_RECORDS) {
      const dv = new DataView(c.payload.buffer, c.payload.byteOffset, c.payload.byteLength);
      for (let off = 0; off < c.payload.byteLength; records++) off += dv.getUint16(off + RECORD_SIZE_OFFSET, true);
      bytes += c.payload.byteLength;
    }
    r = it.next();
  }
  const counters = r.value.counters as { lostTotal?: number } | null;
  if (typeof counters?.lostTotal !== 'number') throw new Error(`${path}: no counters snapshot (lost records unknown)`);
  return { records, bytes, lost: counters.lostTotal };
}

async function main(): Promise<void> {
  await boostSession();
  const a = parseArgs();
  requireRoot();
  const rounds = a.rounds ?? (a.quick ? 1 : 5);
  const pages = numOpt(a, 'pages', a.quick ? 4096 : 16384);
  const threads = numOpt(a, 'threads', 2);
  const dir = mkdtempSync(join(a.tmp, 'uffdscope-record-size-'));
  const out: Round[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      const rec = join(dir, `r${i}.uscope`);
      const truth = join(dir, `r${i}.json`);
      mustSucceed(
        'uffdscope record',
        await runRetry(cliPath, ['record', '-o', rec, '--', workloadBinary, '--scenario', 'postcopy', '--pages', String(pages), '--threads', String(threads), '--handler-delay-us', '0', '--quiet', '--json', truth]),
      );
      const faults = readJson<{ faults: { total: number } }>(truth).faults.total;
      const w = walk(rec);
      const round: Round = { faults, ...w, fileBytes: statSync(rec).size };
      out.push(round);
      log(`record_size: round ${i + 1}/${rounds}: ${faults} faults, ${w.records} records (${(w.records / faults).toFixed(3)}/fault), ${w.bytes} bytes (${(w.bytes / faults).toFixed(1)}/fault), lost ${w.lost}`);
      rmSync(rec, { force: true });
    }
  } finally {
    if (!a.keep) rmSync(dir, { recursive: true, force: true });
  }
  const g = 'record_size';
  const wl = `postcopy --pages ${pages} --threads ${threads} --handler-delay-us 0 under \`uffdscope record\`; every record in the file over the workload's own fault count`;
  const perFault = (f: (r: Round) => number) => spread(out.map((r) => f(r) / r.faults));
  const recs = perFault((r) => r.records);
  const bytes = perFault((r) => r.bytes);
  emitSpread({ group: g, name: 'record_size.records_per_fault', unit: 'records', target: '<= 3', met: recs.max <= 3, note: wl }, recs);
  emitSpread({ group: g, name: 'record_size.bytes_per_fault', unit: 'B', target: '<= 250', met: bytes.max <= 250, note: `record bytes; ${wl}` }, bytes);
  emitSpread({ group: g, name: 'record_size.file_bytes_per_fault', unit: 'B', target: '', note: `the file's size (preamble and chunk headers included); ${wl}` }, perFault((r) => r.fileBytes));
  const lost = out.reduce((s, r) => s + r.lost, 0);
  emit({ group: g, name: 'record_size.lost_records', value: lost, unit: 'records', target: '0', met: lost === 0, note: `records lost by all ${rounds} runs at the workload's full fault rate, default ring buffer` });
  const file = saveResults(g, { rounds, pages, threads });
  log(`record_size: figures saved to ${file}`);
}

main().catch((e) => {
  log(`record_size: ${(e as Error)?.stack ?? String(e)}`);
  process.exit(1);
});
