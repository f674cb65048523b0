// Live, reliability: a long `record` (the bundled workload, mixed scenario,
// looping, for USCOPE_LONGRUN_S seconds, default 60: far more uffd activity
// than an hour of a real VMM's postcopy) stays within bounded memory and
// writes a valid file. The recorder's RSS is sampled every second from
// /proc (and its JS heap by a measuring-only --import preload): peak RSS
// under 300 MiB; from 20 s to the end the JS heap and the RSS grow by less
// than 30 MiB (medians of 10 s windows). The file must read as complete;
// `report` must agree with the workload's own counts. Prints the file's
// bytes per event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { requireLive, tmp, workloadBinary, readTruth } from './support.js';
import { bpfIdsOf, cli, idsLeft, memoryOf, runCli, type BpfIds } from '../fixtures/reliability/harness.js';
import { openRecording } from '../../src/recording/reader.js';
import type { Summary } from '../../src/stats/summary.js';

const SECONDS = Number(process.env.USCOPE_LONGRUN_S ?? 60);
const MiB = 2 ** 20;

test(`long run: record ${SECONDS} s of the looping mixed workload with bounded memory and a valid file`, { timeout: (SECONDS + 120) * 1000 }, async (t) => {
  if (!requireLive(t)) return;
  const file = tmp('long.uscope');
  const truthPath = tmp('truth.json');
  const heapLog = tmp('heap.log');
  const preload = tmp('measure.mjs');
  // measures only (no gc(), no flags): process.memoryUsage() once a second
  writeFileSync(
    preload,
    `import { appendFileSync } from 'node:fs';\nconst t0 = Date.now();\nsetInterval(() => { const m = process.memoryUsage(); appendFileSync(${JSON.stringify(heapLog)}, JSON.stringify({ s: (Date.now() - t0) / 1000, heap: m.heapUsed, ext: m.external }) + '\\n'); }, 1000).unref();\n`,
  );
  const rec = spawn(
    process.execPath,
    ['--import', pathToFileURL(preload).href, cli, 'record', '-o', file, '--duration', String(SECONDS), '--', workloadBinary, '--scenario', 'mixed', '--loops', '0', '--pages', '256', '--quiet', '--json', truthPath],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  rec.stderr.on('data', (d) => (stderr += d));
  let done = false;
  const exit = new Promise<number | null>((resolve) => rec.on('exit', (c) => ((done = true), resolve(c))));
  const t0 = Date.now();
  const samples: Array<{ s: number; rss: number; hwm: number; bytes: number }> = [];
  let ids: BpfIds = { progs: [], maps: [] };
  while (!done) {
    const m = memoryOf(rec.pid!);
    let bytes = 0;
    try {
      bytes = statSync(file).size;
    } catch {
      /* not yet */
    }
    if (m) samples.push({ s: (Date.now() - t0) / 1000, rss: m.rss, hwm: m.hwm, bytes });
    if (ids.progs.length === 0) ids = bpfIdsOf(rec.pid!);
    await sleep(1000);
  }
  const code = await exit;
  assert.equal(code, 0, `record failed: ${stderr}`);
  assert.ok(samples.length >= Math.min(SECONDS, 25), `sampled ${samples.length} times`);

  const size = statSync(file).size;
  const rec0 = openRecording(file);
  const st = rec0.status();
  assert.ok(st.complete, 'the recording has its trailer');
  assert.deepEqual(st.damage, []);
  const c = st.counters as { producedTotal: number; lostTotal: number; delivered: number };
  assert.equal(st.records, c.delivered, 'every delivered record is in the file');
  assert.equal(st.records + c.lostTotal, c.producedTotal, 'delivered + lost == produced');

  const peak = Math.max(...samples.map((x) => Math.max(x.rss, x.hwm)));
  const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[xs.length >> 1] : NaN);
  // windows: 10 s from 20 s on, and the last 10 s of the capture
  const from = Math.min(20, SECONDS / 3);
  const endS = Math.min(SECONDS, samples[samples.length - 1].s);
  const win = <T extends { s: number }>(xs: T[], a: number, b: number) => xs.filter((x) => x.s >= a && x.s < b);
  const rssEarly = median(win(samples, from, from + 10).map((x) => x.rss));
  const rssLate = median(win(samples, endS - 10, endS + 0.5).map((x) => x.rss));
  const heap = readFileSync(heapLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { s: number; heap: number; ext: number });
  const heapEarly = median(win(heap, from, from + 10).map((x) => x.heap));
  const heapLate = median(win(heap, endS - 10, endS + 0.5).map((x) => x.heap));
  const growth = rssLate - rssEarly;
  const heapGrowth = heapLate - heapEarly;
  const bytesPerEvent = size / st.records;
  const secs = (Date.now() - t0) / 1000;
  const mb = (n: number) => (n / MiB).toFixed(1);
  const figures =
    `${st.records} records in ${secs.toFixed(0)} s (${(st.records / secs).toFixed(0)}/s), file ${mb(size)} MiB = ${bytesPerEvent.toFixed(1)} bytes/record; ` +
    `recorder RSS ${mb(rssEarly)} MiB at ${from}-${from + 10} s, ${mb(rssLate)} MiB in the last 10 s (growth ${mb(growth)} MiB), peak ${mb(peak)} MiB; ` +
    `JS heap ${mb(heapEarly)} -> ${mb(heapLate)} MiB; lost ${c.lostTotal}`;
  t.diagnostic(figures);
  if (process.env.USCOPE_LONGRUN_SAMPLES) t.diagnostic(JSON.stringify(samples.map((x) => [Math.round(x.s), Math.round(x.rss / MiB), Math.round(x.bytes / MiB)])));
  assert.ok(peak < 300 * MiB, `peak RSS ${mb(peak)} MiB >= 300 MiB`);
  assert.ok(heapGrowth < 30 * MiB, `JS heap grew ${mb(heapGrowth)} MiB from ${from} s to the end`);
  // the records themselves are 16..120 bytes; chunk headers and counters add little
  assert.ok(bytesPerEvent > 16 && bytesPerEvent < 200, `bytes/record ${bytesPerEvent}`);

  const truth = readTruth(truthPath);
  const rep = await runCli(['report', '--json', file], { timeoutMs: 120_000 });
  assert.equal(rep.code, 0, rep.stderr);
  const s = JSON.parse(rep.stdout) as Summary;
  // a record of ABI 2 decodes into several events (a fault record: its fault, wait, wake-up and end), or none (a thread's name)
  assert.equal((s.source as { undecodableRecords?: number }).undecodableRecords, 0, 'every record decoded');
  assert.equal(s.events.lost, c.lostTotal, 'the report shows the loss the recorder counted');
  assert.equal((s.source as { complete?: boolean }).complete, true);
  assert.equal(s.model.open_faults, 0);
  assert.equal(s.faults.ended.open_at_end, 0);
  if (c.lostTotal === 0) {
    // nothing lost: the tool saw exactly what the workload did
    assert.equal(s.faults.missing, truth.faults.missing, 'missing faults');
    assert.equal(s.faults.wp, truth.faults.wp, 'wp faults');
    assert.equal(s.faults.minor, truth.faults.minor, 'minor faults');
    assert.equal(s.faults.async, truth.faults.wp_async, 'async faults');
    assert.equal(s.messages.pagefault.missing, truth.messages.pagefault.missing);
  } else t.diagnostic(`records were lost (${c.lostTotal}): counts not compared`);
  assert.deepEqual(await idsLeft(ids), { progs: [], maps: [] }, 'its programs and maps are gone from the kernel');
  assert.ok(growth < 30 * MiB, `RSS grew ${mb(growth)} MiB from ${from} s to the end (JS heap ${mb(heapGrowth)} MiB)`);
});
