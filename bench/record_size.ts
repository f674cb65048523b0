// Record size benchmark: what `uffdscope record` writes per fault.
//
//   node dist/bench/record_size.js [--quick] [--rounds N] [--pages N] [--threads N]
//
// Each round records the bundled workload at its full rate (postcopy, a
// handler thread, no handler delay: every fault a blocking MISSING fault
// resolved by UFFDIO_COPY) with the real CLI, `uffdscope record -o FILE --
// WORKLOAD`, twice: with --pages N and 2N. It walks each file for its
// records and record bytes. Per fault: what the N more faults of the larger
// run added, (records(2N) - records(N)) / (faults(2N) - faults(N)), so the
// records every run has once (threads' names, the VMA, uffd creation,
// API/REGISTER/UNREGISTER, processes) are not counted; the larger run's
// totals over its faults are reported too. Also: records lost, and the
// file's size per fault (chunk headers and the preamble included).
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
  const small: Round[] = [];
  const large: Round[] = [];
  const once = async (name: string, n: number): Promise<Round> => {
    const rec = join(dir, `${name}.uscope`);
    const truth = join(dir, `${name}.json`);
    mustSucceed(
      'uffdscope record',
      await runRetry(cliPath, ['record', '-o', rec, '--', workloadBinary, '--scenario', 'postcopy', '--pages', String(n), '--threads', String(threads), '--handler-delay-us', '0', '--quiet', '--json', truth]),
    );
    const faults = readJson<{ faults: { total: number } }>(truth).faults.total;
    const round: Round = { faults, ...walk(rec), fileBytes: statSync(rec).size };
    rmSync(rec, { force: true });
    log(`record_size: ${name}: ${faults} faults, ${round.records} records, ${round.bytes} bytes, lost ${round.lost}`);
    return round;
  };
  try {
    for (let i = 0; i < rounds; i++) {
      small.push(await once(`r${i}-n`, pages));
      large.push(await once(`r${i}-2n`, 2 * pages));
    }
  } finally {
    if (!a.keep) rmSync(dir, { recursive: true, force: true });
  }
  const g = 'record_size';
  const wl = `postcopy --pages ${pages} and ${2 * pages} --threads ${threads} --handler-delay-us 0 under \`uffdscope record\``;
  const added = (f: (r: Round) => number) => spread(large.map((r, i) => (f(r) - f(small[i])) / (r.faults - small[i].faults)));
  const allIn = (f: (r: Round) => number) => spread(large.map((r) => f(r) / r.faults));
  const recs = added((r) => r.records);
  const bytes = added((r) => r.bytes);
  const marginal = `what ${pages} more faults added, per fault (records sent once per run left out); ${wl}`;
  emitSpread({ group: g, name: 'record_size.records_per_fault', unit: 'records', target: '<= 3', met: recs.max <= 3, note: marginal }, recs);
  emitSpread({ group: g, name: 'record_size.bytes_per_fault', unit: 'B', target: '<= 250', met: bytes.max <= 250, note: `record bytes, ${marginal}` }, bytes);
  const whole = `the ${2 * pages}-page run's every record over its faults; ${wl}`;
  emitSpread({ group: g, name: 'record_size.records_per_fault_all_in', unit: 'records', target: '', note: whole }, allIn((r) => r.records));
  emitSpread({ group: g, name: 'record_size.file_bytes_per_fault', unit: 'B', target: '', note: `the file's size (preamble and chunk headers included), ${whole}` }, allIn((r) => r.fileBytes));
  const lost = [...small, ...large].reduce((s, r) => s + r.lost, 0);
  emit({ group: g, name: 'record_size.lost_records', value: lost, unit: 'records', target: '0', met: lost === 0, note: `records lost by all ${2 * rounds} runs at the workload's full fault rate, default ring buffer` });
  const file = saveResults(g, { rounds, pages, threads });
  log(`record_size: figures saved to ${file}`);
}

main().catch((e) => {
  log(`record_size: ${(e as Error)?.stack ?? String(e)}`);
  process.exit(1);
});
