// Live: `stat --in-kernel` on the bundled workload. The kernel-side counts
// equal the workload's own (fault entries by armed mode, blocked faults,
// one wait per blocked fault), the p50 wait lies within 10 % of the p50
// the workload measured around each touch, no per-fault record crosses the
// ring, and the control ioctls (SET_MODE attempts) are still all there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { requireLive, tmp, uffdscope, workloadBinary, readTruth } from './support.js';
import type { InKernelSummary } from '../../src/cli/stat.js';

async function statInKernel(args: string[]) {
  const out = tmp('ik.json');
  const truthPath = tmp('truth.json');
  const r = await uffdscope(['stat', '--in-kernel', '--json-out', out, '--', workloadBinary, ...args, '--quiet', '--json', truthPath], { timeoutMs: 180_000 });
  assert.equal(r.code, 0, `stat --in-kernel failed: ${r.stderr}`);
  assert.match(r.stdout, /in-kernel statistics/, 'human table printed');
  const s = JSON.parse(readFileSync(out, 'utf8')) as InKernelSummary;
  assert.equal(s.schema, 'uffdscope.in-kernel/1');
  assert.equal(s.events.lost, 0);
  for (const type of ['fault', 'block', 'wake', 'resume', 'msg']) {
    assert.equal(s.events.by_type[type] ?? 0, 0, `no ${type} records stream in --in-kernel mode`);
  }
  return { s, truth: readTruth(truthPath) };
}

test('stat --in-kernel postcopy with a 200 us handler delay: counts equal the workload, p50 wait within 10%', async (t) => {
  if (!requireLive(t)) return;
  const { s, truth } = await statInKernel(['--scenario', 'postcopy', '--pages', '512', '--threads', '2', '--handler-delay-us', '200']);
  assert.equal(s.uffds.length, truth.uffds_created, 'one row per uffd the workload created');
  const u = s.uffds[0];
  assert.equal(u.pid, truth.pid);
  assert.equal(u.fault_entries.total, truth.faults.total);
  assert.equal(u.fault_entries.missing, truth.faults.missing);
  assert.equal(u.blocked, truth.faults.total, 'every postcopy fault waits for the handler');
  assert.equal(u.rewaits, 0);
  assert.equal(u.wait.count, u.blocked, 'one wait per blocked fault');
  const tool = u.wait.p50_ns!;
  const self = truth.latency_ns.fault.p50;
  assert.ok(Math.abs(tool - self) <= 0.1 * self, `p50: tool ${tool} ns vs workload ${self} ns (more than 10% apart)`);
  assert.ok(u.wait.max_ns! >= tool && u.wait.mean_ns! > 200_000, `max ${u.wait.max_ns} >= p50 ${tool}, mean ${u.wait.mean_ns} above the 200 us handler delay`);
  assert.equal(s.ioctls.UFFDIO_API?.count, truth.ioctls.UFFDIO_API.count, 'control ioctls still stream');
  assert.equal(s.ioctls.UFFDIO_COPY, undefined, 'per-fault ioctls do not');
});

test('stat --in-kernel mixed: entries by armed mode, blocked faults, every SET_MODE attempt', async (t) => {
  if (!requireLive(t)) return;
  const { s, truth } = await statInKernel(['--scenario', 'mixed', '--pages', '128']);
  const sum = (f: (u: InKernelSummary['uffds'][number]) => number) => s.uffds.reduce((a, u) => a + f(u), 0);
  assert.equal(sum((u) => u.fault_entries.missing), truth.faults.missing, 'missing');
  assert.equal(sum((u) => u.fault_entries.minor), truth.faults.minor, 'minor');
  // WP-armed entries include write faults the kernel resolved without a
  // userfault: at least every WP userfault, sync and async.
  assert.ok(sum((u) => u.fault_entries.wp) >= truth.faults.wp + truth.faults.wp_async, 'wp entries cover the WP userfaults');
  // Async WP faults resolve in the kernel and never wait. With no handler
  // delay a sync fault can be resolved between its message and its
  // schedule() (the thread then does not sleep), so a few may not block.
  const sync = truth.faults.total - truth.faults.wp_async;
  const blocked = sum((u) => u.blocked);
  assert.ok(blocked <= sync && blocked >= 0.9 * sync, `blocked ${blocked} of ${sync} sync userfaults`);
  assert.equal(s.uffds.filter((u) => u.mode === 'async').length, 1, 'the WP_ASYNC uffd shows as async');
  assert.equal(s.uffds.find((u) => u.mode === 'async')!.blocked, 0, 'and none of its faults waited');
  assert.equal(sum((u) => u.wait.count), sum((u) => u.blocked), 'one wait per blocked fault');
  assert.equal(s.mode_switches.length, truth.mode_switches.length, 'every SET_MODE attempt');
  s.mode_switches.forEach((m, i) => {
    const w = truth.mode_switches[i];
    // the summary's masks are u64 hex strings
    assert.equal(m.enable, `0x${w.enable.toString(16)}`, `switch ${i} enable`);
    assert.equal(m.disable, `0x${w.disable.toString(16)}`, `switch ${i} disable`);
    assert.equal(m.result, w.result, `switch ${i} result`);
  });
});

test('stat --in-kernel refuses a precise backend with a one-line error', async () => {
  const r = await uffdscope(['stat', '--in-kernel', '--backend', 'fentry', '--', workloadBinary, '--scenario', 'postcopy', '--pages', '8', '--quiet']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--in-kernel counts in the tracepoint backend/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});
