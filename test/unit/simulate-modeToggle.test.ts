// The GENERATED mode-toggle scenario: its own ground truth checked against
// the seed patch's rules (docs/set-mode.md), then the recording through the
// real model (`report`): drain and wake-up apart, verdicts, async faults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSimulate } from '../../src/cli/simulate.js';
import { analyzeRecording } from '../../src/pipeline/recordingPipeline.js';
import { resolveUapi } from '../../src/events/uapi.js';
import type { UffdEvent } from '../../src/events/types.js';
import { generateModeToggle, LOCK_HANDOVER_NS, type ModeToggleTruth } from '../../src/simulate/modeToggle.js';

const uapi = resolveUapi();
const A = uapi.UFFD_FEATURE_RWP_ASYNC;
const OPTS = { seed: 7, durationS: 10, faultRate: 200, startNs: 1_000_000_000_000 };
const INITIALIZED = 0x80000000;

let generated: { events: UffdEvent[]; truth: ModeToggleTruth } | null = null;
/** The scenario's events and truth, generated once for all tests. */
function generate(): { events: UffdEvent[]; truth: ModeToggleTruth } {
  if (generated === null) {
    const events: UffdEvent[] = [];
    const truth = generateModeToggle(uapi, OPTS, (e) => events.push(e));
    generated = { events, truth };
  }
  return generated;
}

test('generated truth: the drain waits for faults running under the lock, never for sleepers', () => {
  const { truth } = generate();
  const ok = truth.switches.filter((t) => t.lockTs !== undefined);
  assert.ok(ok.length >= 6);
  for (const t of ok) {
    const drain = t.unlockTs! - t.lockTs!;
    const byFaults = t.inFlightUntil ? Math.round(t.inFlightUntil + LOCK_HANDOVER_NS) - t.lockTs! : 0;
    assert.ok(Math.abs(drain - Math.max(t.fixedDrainNs!, byFaults)) <= 1, `drain ${drain} = max(fixed ${t.fixedDrainNs}, in-flight ${byFaults})`);
  }
  assert.ok(ok.some((t) => t.inFlightUntil > t.lockTs! + t.fixedDrainNs!), 'a fault running under the lock lengthened a drain');
  assert.ok(ok.some((t) => t.woken.length > 0 && t.unlockTs! - t.lockTs! === t.fixedDrainNs), 'sleepers did not lengthen a drain');
  // refused calls never take the lock
  for (const t of truth.switches.filter((x) => x.ret !== 0)) assert.equal(t.lockTs, undefined);
});

test('generated truth: faults arriving during the drain wait for the unlock and run under the new mode', () => {
  const { events, truth } = generate();
  assert.ok(truth.faultsDuringDrain >= 6);
  const blocks = new Map<string, number>();
  for (const e of events) if (e.type === 'block') blocks.set(`${e.tid}/${e.faultTs}`, e.ts);
  let checked = 0;
  for (const t of truth.switches.filter((x) => x.unlockTs !== undefined)) {
    for (const f of events) {
      if (f.type !== 'fault' || f.uffd !== t.uffd || f.ts < t.enterTs || f.ts >= t.unlockTs!) continue;
      checked++;
      const b = blocks.get(`${f.tid}/${f.ts}`);
      if (t.asyncAfter) assert.equal(b, undefined, 'resolved in the kernel under RWP_ASYNC');
      else assert.ok(b !== undefined && b >= t.unlockTs!, 'blocks only after the unlock, under sync');
      // ctx->features is read at fault entry: still the old mode
      assert.equal((f.ctxFeatures & Number(A)) !== 0, t.asyncBefore);
    }
    // faults entering before the call saw the old mode, after the unlock the new one
    const before = events.find((f) => f.type === 'fault' && f.uffd === t.uffd && f.ts < t.enterTs && f.ts > t.enterTs - 50e6);
    const after = events.find((f) => f.type === 'fault' && f.uffd === t.uffd && f.ts > t.exitTs);
    if (before?.type === 'fault') assert.equal((before.ctxFeatures & Number(A)) !== 0, t.asyncBefore, 'the mode changes at the call, not for a whole slice');
    if (after?.type === 'fault') assert.equal((after.ctxFeatures & Number(A)) !== 0, t.asyncAfter);
  }
  assert.equal(checked, truth.faultsDuringDrain);
});

test('generated truth: every waiter, on both queues, is woken after the unlock whenever enable has RWP_ASYNC', () => {
  const { events, truth } = generate();
  const queues = new Set<string>();
  for (const t of truth.switches.filter((x) => x.unlockTs !== undefined)) {
    const wakes = events.filter((e) => e.type === 'wake' && e.tid === t.tid && e.ts >= t.enterTs && e.ts <= t.exitTs);
    if (!(t.enable! & A)) {
      assert.equal(wakes.length, 0, 'no wake-up without RWP_ASYNC in enable');
      continue;
    }
    // the faults blocked at the unlock: blocked before it, not resumed by then
    const blocked = new Set<number>();
    for (const e of events) {
      if (e.ts >= t.unlockTs!) break;
      if (e.type === 'block' && e.uffd === t.uffd) blocked.add(e.tid);
      if (e.type === 'resume' && e.uffd === t.uffd) blocked.delete(e.tid);
    }
    assert.deepEqual(new Set(wakes.map((w) => (w.type === 'wake' ? w.targetTid : 0))), blocked, 'exactly the waiters');
    for (const w of wakes) assert.ok(w.ts > t.unlockTs! && w.ts < t.kernelExitTs!, 'after the unlock, inside the call');
    for (const w of t.woken) queues.add(w.queue);
    assert.ok(t.kernelExitTs! > t.unlockTs!, 'the wake-up runs even when nobody waits');
  }
  assert.deepEqual([...queues].sort(), ['pending', 'read'], 'waiters from both queues');
  assert.ok(truth.switches.some((t) => t.asyncBefore && t.enable !== null && t.enable & A && t.woken.length === 0 && t.unlockTs !== undefined), 'an RWP_ASYNC enable on a uffd already async');
});

test('generated truth: each uffd starts with exactly the features UFFDIO_API asked for', () => {
  const { events, truth } = generate();
  for (const u of truth.uffds) {
    const api = events.find((e) => e.type === 'ioctl_exit' && e.name === 'UFFDIO_API' && e.uffd === u.uffd);
    assert.ok(api?.type === 'ioctl_exit');
    assert.equal(BigInt(api.ctxFeatures & ~INITIALIZED), u.requested);
    assert.equal(u.startFeatures, u.requested);
  }
  assert.ok(truth.uffds.some((u) => u.requested & A) && truth.uffds.some((u) => !(u.requested & A)), 'one starts async, the others sync');
});

test('mode-toggle recording through report: drain and wake-up apart, verdicts, async faults', () => {
  const { events, truth } = generate();
  const file = join(mkdtempSync(join(tmpdir(), 'uscope-sim-')), 'sim.uscope');
  const origWrite = process.stderr.write.bind(process.stderr);
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    runSimulate({ scenario: 'mode-toggle', output: file, seed: OPTS.seed, duration: OPTS.durationS, faultRate: OPTS.faultRate, uapi });
  } finally {
    process.stderr.write = origWrite;
  }
  const { summary, read } = analyzeRecording(file, null);
  assert.ok(read.header.generated, 'the header says generated');
  assert.equal(summary.generated, true);
  const setMode = truth.switches.filter((t) => t.cmd === Number(uapi.UFFDIO_SET_MODE));
  assert.equal(summary.mode_switches.length, setMode.length, 'the other cmd with nr 0x0A is not a SET_MODE attempt');
  assert.equal(summary.ioctls['UFFDIO_cmd_0xc010aa0a']?.count, 1, '... but an unknown uffd ioctl');
  for (const [i, t] of setMode.entries()) {
    const m = summary.mode_switches[i];
    assert.equal(m.ts_ns, t.enterTs);
    assert.equal(m.result, t.ret);
    assert.equal(m.latency_ns, t.exitTs - t.enterTs, 'ioctl latency');
    if (t.ret !== 0) {
      assert.equal(m.drain_ns, null, 'no drain for a refused attempt');
      assert.equal(m.wakeup_ns, null);
    } else {
      // drain measured from the function's entry to the first waiter woken (else its return)
      const firstWake = events.find((e) => e.type === 'wake' && e.tid === t.tid && e.ts > t.unlockTs! && e.ts < t.kernelExitTs!);
      const end = firstWake?.ts ?? t.kernelExitTs!;
      assert.equal(m.drain_ns, end - t.kernelEnterTs!);
      assert.ok(m.drain_ns! - (t.unlockTs! - t.lockTs!) <= 2000, 'within 2 µs of lock to unlock');
      assert.equal(m.wakeup_ns, t.enable! & A ? t.kernelExitTs! - end : null);
      assert.equal(m.woken, t.woken.length);
    }
    if (t.enable === null) {
      assert.deepEqual([m.enable, m.expected, m.rule, m.kernel_agrees], [null, 'unknown', 'efault', null], 'unreadable struct: unknown, not a disagreement');
    } else {
      assert.equal(m.enable, `0x${t.enable.toString(16)}`);
      assert.equal(m.kernel_agrees, true, `${m.why}`);
    }
  }
  assert.ok(summary.mode_switches.some((m) => m.wakeup_ns !== null && m.wakeup_ns > 0 && m.woken > 0));
  assert.equal(summary.faults.async, truth.asyncFaults, 'async = RWP faults under RWP_ASYNC, those entering a drain included');
  assert.equal(summary.faults.ended.mode_switch, truth.switches.reduce((a, t) => a + t.woken.length, 0));
  assert.ok(summary.faults.rwp > 0);
});
