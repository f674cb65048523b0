// Live: `stat` counting in the kernel (its default) on the bundled
// workload. The kernel-side counts equal the workload's own (userfaults by
// kind, fault entries by armed mode, blocked faults), every fault's
// interval lies inside the workload's own timing of it (so every quantile,
// the mean and the max are at most the workload's, and none is below the
// handler's delay), the stages add up exactly to the total, no per-fault
// record crosses the ring, and the control ioctls (every SET_MODE attempt)
// are still there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { requireLive, tmp, uffdscope, workloadBinary, readTruth } from './support.js';
import type { KernelSummary } from '../../src/cli/stat.js';
import { bucketBounds, waitBucket } from '../../src/stats/kernelStats.js';
import { uffdIoctl } from '../../src/kernel/uffdIoctls.js';

async function statKernel(args: string[]) {
  const out = tmp('ik.json');
  const truthPath = tmp('truth.json');
  const r = await uffdscope(['stat', '--json-out', out, '--', workloadBinary, ...args, '--quiet', '--json', truthPath], { timeoutMs: 180_000 });
  assert.equal(r.code, 0, `stat failed: ${r.stderr}`);
  assert.match(r.stdout, /counted in the kernel/, 'human table printed');
  const s = JSON.parse(readFileSync(out, 'utf8')) as KernelSummary;
  assert.equal(s.schema, 'uffdscope.in-kernel/2');
  assert.equal(s.lost, 0, 'the README promises 0 lost for the rare-event stream');
  assert.equal(s.events.lost, 0);
  for (const type of ['fault', 'block', 'wake', 'resume', 'msg']) {
    assert.equal(s.events.by_type[type] ?? 0, 0, `no ${type} records stream when the kernel counts`);
  }
  return { s, truth: readTruth(truthPath) };
}

/** The stage sums of faults whose every stage was measured add up to the total's sum, exactly. */
function assertStagesAddUp(l: KernelSummary['totals']['latency'] | KernelSummary['uffds'][number]['latency']) {
  assert.equal(l.queue.count, l.total.count, 'every waited fault has its queue stage');
  assert.equal(l.service.count, l.total.count, 'and its service stage');
  assert.equal(l.wake.count, l.total.count, 'and its wake stage');
  const sum = (x: { mean_ns: number | null; count: number }) => Math.round((x.mean_ns ?? 0) * x.count);
  assert.equal(sum(l.queue) + sum(l.service) + sum(l.wake), sum(l.total), 'queue + service + wake == total, summed over faults');
}

for (const delayUs of [200, 0]) {
  test(`stat postcopy, handler delay ${delayUs} us: counts equal the workload's, each fault inside the workload's own timing, stages add up`, async (t) => {
    if (!requireLive(t)) return;
    const { s, truth } = await statKernel(['--scenario', 'postcopy', '--pages', '512', '--threads', '2', '--handler-delay-us', String(delayUs)]);
    assert.equal(s.uffds.length, truth.uffds_created, 'one row per uffd the workload created');
    const u = s.uffds[0];
    assert.equal(u.pid, truth.pid);
    assert.equal(u.handler_pid, truth.pid, 'the handler thread reads the messages');
    assert.equal(u.fault_entries.total, truth.faults.total);
    assert.equal(u.fault_entries.missing, truth.faults.missing);
    assert.equal(u.userfaults.missing, truth.faults.missing);
    assert.equal(u.userfaults.total, truth.faults.total);
    assert.equal(u.msgs, truth.messages.pagefault.missing, 'every fault message the handler read');
    if (delayUs > 0) {
      assert.equal(u.blocked, truth.faults.total, 'every postcopy fault waits for the handler');
      // a wait whose end no hook saw (a hook skipped on a busy CPU) is counted apart
      assert.equal(u.latency.total.count + u.ends_unseen, u.blocked, 'one sample per blocked fault, or one unseen end');
    }
    const l = u.latency.total;
    const w = truth.latency_ns.fault;
    // the tool's interval (tracepoint to back on a CPU) lies inside the
    // workload's (before to after the touch), fault by fault
    assert.ok(l.max_ns! <= w.max, `max: tool ${l.max_ns} ns > workload ${w.max} ns`);
    assert.ok(l.mean_ns! <= w.mean, `mean: tool ${l.mean_ns} ns > workload ${w.mean} ns`);
    assert.ok(bucketBounds(waitBucket(l.p50_ns!))[0] <= w.p50, `p50: tool bucket from ${bucketBounds(waitBucket(l.p50_ns!))[0]} ns > workload ${w.p50} ns`);
    if (delayUs > 0) assert.ok(bucketBounds(waitBucket(l.p50_ns!))[1] > delayUs * 1000, `p50 ${l.p50_ns} ns below the ${delayUs} us handler delay`);
    assertStagesAddUp(u.latency);
    assert.equal(s.ioctls.UFFDIO_API?.count, truth.ioctls.UFFDIO_API.count, 'control ioctls still stream');
    assert.equal(s.ioctls.UFFDIO_COPY, undefined, 'per-fault ioctls do not');
    assert.equal(s.per_fault_ioctls.UFFDIO_COPY, truth.ioctls.UFFDIO_COPY.count, 'but the kernel counts them');
  });
}

test('stat mixed: userfaults by kind and entries by armed mode equal the workload\'s, every SET_MODE attempt', async (t) => {
  if (!requireLive(t)) return;
  const { s, truth } = await statKernel(['--scenario', 'mixed', '--pages', '128']);
  const sum = (f: (u: KernelSummary['uffds'][number]) => number) => s.uffds.reduce((a, u) => a + f(u), 0);
  assert.equal(sum((u) => u.userfaults.missing), truth.faults.missing, 'missing userfaults');
  assert.equal(sum((u) => u.userfaults.wp), truth.faults.wp, 'wp userfaults');
  assert.equal(sum((u) => u.userfaults.minor), truth.faults.minor, 'minor userfaults');
  assert.equal(sum((u) => u.userfaults.async), truth.faults.wp_async, 'async (WP_ASYNC) userfaults');
  assert.equal(s.totals.userfaults.total, truth.faults.total);
  assert.equal(sum((u) => u.fault_entries.missing), truth.faults.missing, 'missing entries');
  assert.equal(sum((u) => u.fault_entries.minor), truth.faults.minor, 'minor entries');
  // WP-armed entries include write faults the kernel resolved without a
  // userfault: at least every WP userfault, sync and async.
  assert.ok(sum((u) => u.fault_entries.wp) >= truth.faults.wp + truth.faults.wp_async, 'wp entries cover the WP userfaults');
  assert.equal(s.uffds.filter((u) => u.mode === 'async').length, 1, 'the WP_ASYNC uffd shows as async');
  assert.equal(s.uffds.find((u) => u.mode === 'async')!.blocked, 0, 'and none of its faults waited');
  assert.equal(sum((u) => u.msgs), truth.messages.pagefault.missing + truth.messages.pagefault.wp + truth.messages.pagefault.minor, 'every fault message read');
  // every uffd ioctl: per-fault ones counted in the kernel when they succeed
  // and streamed when they fail (entry untimed), control ones streamed
  for (const [name, w] of Object.entries(truth.ioctls)) {
    const streamed = s.ioctls[name];
    assert.equal((s.per_fault_ioctls[name] ?? 0) + (streamed?.count ?? 0), w.count, `${name}: calls`);
    assert.equal(streamed?.errors ?? 0, w.errors, `${name}: failed calls`);
    if (uffdIoctl(name)?.perFault && streamed) assert.equal(streamed.p50_ns, null, `${name}: a failed per-fault ioctl's entry is not timed`);
  }
  assert.equal(s.mode_switches.length, truth.mode_switches.length, 'every SET_MODE attempt');
  s.mode_switches.forEach((m, i) => {
    const w = truth.mode_switches[i];
    // the summary's masks are u64 hex strings
    assert.equal(m.enable, `0x${w.enable.toString(16)}`, `switch ${i} enable`);
    assert.equal(m.disable, `0x${w.disable.toString(16)}`, `switch ${i} disable`);
    assert.equal(m.result, w.result, `switch ${i} result`);
  });
});

test('stat refuses a precise backend without --per-fault, in one line', async () => {
  const r = await uffdscope(['stat', '--backend', 'fentry', '--', workloadBinary, '--scenario', 'postcopy', '--pages', '8', '--quiet']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--backend fentry adds per-fault records: give --per-fault/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});
