// Live: each tools/bpftrace script next to `uffdscope record` on the SAME
// workload run. Three witnesses of one run - the workload's own counts,
// uffdscope's report, and a bpftrace script this team did not route through
// its own pipeline - must agree exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { requireLive, tmp, uffdscope, workloadBinary, readTruth, type WorkloadTruth } from './support.js';
import { bpftraceTools } from '../../src/paths.js';
import { skipOrFail } from '../fixtures/skipOrFail.js';
import type { Summary } from '../../src/stats/summary.js';

function haveBpftrace(t: import('node:test').TestContext): boolean {
  if (spawnSync('bpftrace', ['--version']).status === 0) return true;
  skipOrFail(t, 'bpftrace not installed (scripts/setup.sh installs it)');
  return false;
}

/** SIGINT, as Ctrl-C, and again every 5 s, as a user would: bpftrace 0.17 here
 *  once sat in its poll loop after the first (CI hung 17 min; one more SIGINT
 *  ended it, with the right maps). SIGKILL after 60 s: the exit code then fails. */
async function stopWithCtrlC(bt: ChildProcess, closed: Promise<number | null>): Promise<void> {
  const end = Date.now() + 60_000;
  let done = false;
  void closed.then(() => (done = true));
  while (!done && Date.now() < end) {
    bt.kill('SIGINT');
    await Promise.race([closed, sleep(5_000)]);
  }
  if (!done) bt.kill('SIGKILL');
}

/** Starts TOOL, waits until its probes are attached, runs `fn`, then stops it with Ctrl-C and returns its output. */
async function alongside(tool: string, fn: () => Promise<void>): Promise<string> {
  const bt = spawn('bpftrace', [join(bpftraceTools, tool)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  bt.stderr.on('data', (d) => (err += d));
  // 'close': bpftrace prints its maps as it exits; at 'exit' some may be unread
  const exited = new Promise<number | null>((resolve) => bt.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      bt.kill('SIGKILL');
      reject(new Error(`${tool} did not attach in 60 s: ${err}`));
    }, 60_000);
    bt.stdout.on('data', (d) => {
      out += d;
      // BEGIN runs after every probe is attached
      if (out.includes('Hit Ctrl-C to end.')) {
        clearTimeout(timer);
        resolve();
      }
    });
    bt.on('exit', (code) => reject(new Error(`${tool} exited ${code} before attaching: ${err}`)));
  });
  try {
    await fn();
  } finally {
    await stopWithCtrlC(bt, exited);
  }
  assert.equal(await exited, 0, `${tool} failed: ${err}`);
  return out;
}

/** uffdscope record + report --json of one workload run, with the workload's truth. */
async function recordWorkload(args: string[]): Promise<{ s: Summary; truth: WorkloadTruth }> {
  const rec = tmp('run.uscope');
  const truthPath = tmp('truth.json');
  const r = await uffdscope(['record', '-o', rec, '--', workloadBinary, ...args, '--json', truthPath, '--quiet'], { timeoutMs: 180_000 });
  assert.equal(r.code, 0, `record failed: ${r.stderr}`);
  const rep = await uffdscope(['report', '--json', rec]);
  assert.equal(rep.code, 0, `report failed: ${rep.stderr}`);
  return { s: JSON.parse(rep.stdout) as Summary, truth: readTruth(truthPath) };
}

/** `@map[k1, k2]: N` lines of a bpftrace count map, keyed by "k1, k2". */
function countMap(out: string, map: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const [, key, n] of out.matchAll(new RegExp(`^@${map}\\[(.*)\\]: (\\d+)$`, 'gm'))) m.set(key, Number(n));
  return m;
}

/** total samples of every `@map[key]:` log2 histogram in bpftrace's text output */
function histTotals(out: string, map: string): Map<string, number> {
  const m = new Map<string, number>();
  let key: string | null = null;
  for (const line of out.split('\n')) {
    const head = line.match(new RegExp(`^@${map}\\[(.*)\\]: $`));
    if (head) {
      key = head[1];
      m.set(key, 0);
      continue;
    }
    const bucket = key !== null ? line.match(/^\[[^\]]*[\])]\s+(\d+) \|/) : null;
    if (bucket) m.set(key!, m.get(key!)! + Number(bucket[1]));
    else key = null;
  }
  return m;
}

// uffdlat.bt's count is exact only for faults that sleep: one preempted between
// queueing its message and sleeping for longer than the handler's delay never
// sleeps (capture.test): with 500 us instead of 50 the preemption must last ten
// times longer.
const postcopy = ['--scenario', 'postcopy', '--pages', '200', '--handler-delay-us', '500'];

test('uffdioctl.bt: UFFDIO_COPY count equals the workload and uffdscope on the same run', async (t) => {
  if (!requireLive(t) || !haveBpftrace(t)) return;
  let run!: { s: Summary; truth: WorkloadTruth };
  const out = await alongside('uffdioctl.bt', async () => {
    run = await recordWorkload(postcopy);
  });
  const calls = countMap(out, 'calls');
  const { s, truth } = run;
  assert.equal(truth.ioctls.UFFDIO_COPY.count, 200);
  assert.equal(calls.get('UFFDIO_COPY, 3'), truth.ioctls.UFFDIO_COPY.count, out);
  assert.equal(s.ioctls.UFFDIO_COPY.count, truth.ioctls.UFFDIO_COPY.count);
  // the other commands of the run too (the tool traces the host: other uffd users would add)
  for (const [name, nr] of [['UFFDIO_API', 63], ['UFFDIO_REGISTER', 0], ['UFFDIO_UNREGISTER', 1]] as const) {
    assert.equal(calls.get(`${name}, ${nr}`), truth.ioctls[name].count, name);
  }
  assert.equal(histTotals(out, 'usecs').get('UFFDIO_COPY, 3'), truth.ioctls.UFFDIO_COPY.count, 'histogram holds every call');
  t.diagnostic(`UFFDIO_COPY: bpftrace ${calls.get('UFFDIO_COPY, 3')}, uffdscope ${s.ioctls.UFFDIO_COPY.count} (p50 ${s.ioctls.UFFDIO_COPY.p50_ns} ns), workload ${truth.ioctls.UFFDIO_COPY.count}`);
});

test('uffdsetmode.bt: every UFFDIO_SET_MODE attempt, masks and results as the workload and uffdscope saw them', async (t) => {
  if (!requireLive(t) || !haveBpftrace(t)) return;
  let run!: { s: Summary; truth: WorkloadTruth };
  const out = await alongside('uffdsetmode.bt', async () => {
    run = await recordWorkload(['--scenario', 'set-mode', '--pages', '64']);
  });
  const { s, truth } = run;
  const rows = [...out.matchAll(/^\d+\s+(\d+)\s+\S+\s+\d+\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(-?\d+)\s+\S+\s+\d+$/gm)]
    .filter((m) => Number(m[1]) === truth.pid)
    .map((m) => ({ enable: Number(m[2]), disable: Number(m[3]), result: Number(m[4]) }));
  assert.ok(truth.mode_switches.length > 0);
  assert.deepEqual(rows, truth.mode_switches.map((w) => ({ enable: w.enable, disable: w.disable, result: w.result })), out);
  assert.match(out, new RegExp(`^@attempts: ${rows.length}$`, 'm'));
  assert.equal(s.mode_switches.length, truth.mode_switches.length);
  s.mode_switches.forEach((m, i) => {
    assert.equal(Number(m.enable), rows[i].enable, `uffdscope switch ${i} enable`);
    assert.equal(Number(m.disable), rows[i].disable, `uffdscope switch ${i} disable`);
    assert.equal(m.result, rows[i].result, `uffdscope switch ${i} result`);
  });
  t.diagnostic(`SET_MODE attempts: bpftrace ${rows.length}, uffdscope ${s.mode_switches.length}, workload ${truth.mode_switches.length}`);
});

test('uffdlat.bt: postcopy with a 500 us handler delay: its fault count for the workload equals the workload and uffdscope', async (t) => {
  if (!requireLive(t) || !haveBpftrace(t)) return;
  let run!: { s: Summary; truth: WorkloadTruth };
  const out = await alongside('uffdlat.bt', async () => {
    run = await recordWorkload(postcopy);
  });
  const { s, truth } = run;
  const faults = countMap(out, 'faults');
  const mine = [...faults].filter(([k]) => k.endsWith(`, ${truth.pid}`));
  assert.equal(mine.length, 1, out);
  // exact here: with the delay every fault sleeps before its handler resolves it
  assert.equal(mine[0][1], truth.faults.total);
  assert.equal(s.faults.blocked, truth.faults.total);
  assert.equal(histTotals(out, 'usecs').get(mine[0][0]), truth.faults.total, 'per-process histogram holds every fault');
  // per uffd: keyed by the context address, the same id uffdscope reports
  const uffd = s.uffds.find((u) => u.pid === truth.pid);
  assert.ok(uffd, 'uffdscope saw the workload uffd');
  assert.equal(histTotals(out, 'uffd_usecs').get(uffd.id), truth.faults.total, out);
  t.diagnostic(`faults: bpftrace ${mine[0][1]}, uffdscope blocked ${s.faults.blocked}, workload ${truth.faults.total}; ` +
    `p50 us: uffdscope ${(s.latency_ns.fault.p50! / 1000).toFixed(0)}, workload ${(truth.latency_ns.fault.p50 / 1000).toFixed(0)}`);
});
