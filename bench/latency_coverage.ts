// What a fault's latency covers: uffdscope's interval (the fault tracepoint
// to the thread back on a CPU) against the workload's own timing of the same
// page's first touch (CLOCK_BOOTTIME just before and after it).
//
//   node dist/bench/latency_coverage.js [--quick] [--rounds N] [--pages N] [--threads N] [--delay-us N]
//
// Each round records the bundled workload (postcopy: every page one blocking
// MISSING fault) with `uffdscope record -o FILE -- WORKLOAD --page-times P`,
// exports it as NDJSON and joins each `resume` event (address, fault time,
// back-on-CPU time) to the workload's line for that page. Per fault:
//   before = fault tracepoint - touch start (exception entry, and the clock read)
//   after  = touch end - back on a CPU (return to user, and the clock read)
// The kernel guarantees the tool's interval lies inside the workload's: a
// fault outside it is a bug, counted (target 0).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { boostSession, cliPath, emit, emitSpread, log, mustSucceed, numOpt, parseArgs, requireRoot, runRetry, saveResults, spread, workloadBinary } from './lib/common.js';

interface Joined {
  before: number;
  after: number;
  app: number;
  tool: number;
}

/** page address -> [touch start, touch end] from the workload's --page-times file */
function pageTimes(path: string): Map<string, [number, number]> {
  const m = new Map<string, [number, number]>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const [addr, t0, t1] = line.split(' ');
    if (addr && t1) m.set(BigInt(addr).toString(16), [Number(t0), Number(t1)]);
  }
  return m;
}

/** Every resume event of the NDJSON export joined to its page's own timing. */
function joinFaults(ndjson: string, pages: Map<string, [number, number]>): { joined: Joined[]; outside: number; unmatched: number } {
  const joined: Joined[] = [];
  let outside = 0;
  let unmatched = 0;
  for (const line of readFileSync(ndjson, 'utf8').split('\n')) {
    if (!line.includes('"type":"resume"')) continue;
    const e = JSON.parse(line) as { ts_ns: number; address: string; fault_ts_ns: number };
    const page = (BigInt(e.address) & ~0xfffn).toString(16);
    const t = pages.get(page);
    if (t === undefined) {
      unmatched++;
      continue;
    }
    const [t0, t1] = t;
    if (e.fault_ts_ns < t0 || e.ts_ns > t1) outside++;
    joined.push({ before: e.fault_ts_ns - t0, after: t1 - e.ts_ns, app: t1 - t0, tool: e.ts_ns - e.fault_ts_ns });
  }
  return { joined, outside, unmatched };
}

async function main(): Promise<void> {
  await boostSession();
  const a = parseArgs();
  requireRoot();
  const rounds = a.rounds ?? (a.quick ? 1 : 3);
  const pages = numOpt(a, 'pages', a.quick ? 1024 : 4096);
  const threads = numOpt(a, 'threads', 2);
  const delayUs = numOpt(a, 'delay-us', 0);
  const dir = mkdtempSync(join(a.tmp, 'uffdscope-coverage-'));
  const all: Joined[] = [];
  let outside = 0;
  let unmatched = 0;
  let faults = 0;
  try {
    for (let i = 0; i < rounds; i++) {
      const rec = join(dir, `r${i}.uscope`);
      const times = join(dir, `r${i}.pages`);
      const nd = join(dir, `r${i}.ndjson`);
      mustSucceed(
        'uffdscope record',
        await runRetry(cliPath, ['record', '-o', rec, '--', workloadBinary, '--scenario', 'postcopy', '--pages', String(pages), '--threads', String(threads), '--handler-delay-us', String(delayUs), '--quiet', '--page-times', times]),
      );
      mustSucceed('uffdscope export', await runRetry(cliPath, ['export', '--format', 'ndjson', '-o', nd, rec]));
      const r = joinFaults(nd, pageTimes(times));
      all.push(...r.joined);
      outside += r.outside;
      unmatched += r.unmatched;
      faults += pages;
      log(`latency_coverage: round ${i + 1}/${rounds}: ${r.joined.length} of ${pages} faults joined, ${r.outside} outside the workload's timing`);
    }
  } finally {
    if (!a.keep) rmSync(dir, { recursive: true, force: true });
  }
  const g = 'latency_coverage';
  const wl = `postcopy --pages ${pages} --threads ${threads} --handler-delay-us ${delayUs}, ${rounds} round(s), under \`uffdscope record\``;
  emit({ group: g, name: 'latency_coverage.waits_joined', value: all.length, unit: 'faults', target: '', note: `waited faults of ${faults} (one resolved before it slept has no back-on-CPU time), each joined to its page's timing; ${wl}` });
  emit({ group: g, name: 'latency_coverage.unmatched', value: unmatched, unit: 'faults', target: '0', met: unmatched === 0, note: `back-on-CPU events at a page the workload did not time; ${wl}` });
  emit({ group: g, name: 'latency_coverage.outside_workload_timing', value: outside, unit: 'faults', target: '0', met: outside === 0, note: `faults whose interval is not inside the workload's own; ${wl}` });
  emitSpread({ group: g, name: 'latency_coverage.before_ns', unit: 'ns', target: '', note: `fault tracepoint - the workload's touch start (exception entry before the tracepoint); ${wl}` }, spread(all.map((j) => j.before)));
  emitSpread({ group: g, name: 'latency_coverage.after_ns', unit: 'ns', target: '', note: `the workload's touch end - back on a CPU (return to user); ${wl}` }, spread(all.map((j) => j.after)));
  emitSpread({ group: g, name: 'latency_coverage.app_ns', unit: 'ns', target: '', note: `the workload's own time per first touch; ${wl}` }, spread(all.map((j) => j.app)));
  emitSpread({ group: g, name: 'latency_coverage.tool_ns', unit: 'ns', target: '', note: `uffdscope's latency of the same faults; ${wl}` }, spread(all.map((j) => j.tool)));
  const file = saveResults(g, { rounds, pages, threads, delayUs });
  log(`latency_coverage: figures saved to ${file}`);
}

main().catch((e) => {
  log(`latency_coverage: ${(e as Error)?.message ?? String(e)}`);
  process.exit(1);
});
