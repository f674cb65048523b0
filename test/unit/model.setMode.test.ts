// SET_MODE attempts in the model, on GENERATED streams (streamBuilder.ts):
// ioctl latency, drain and wake-up from userfaultfd_set_mode() records, the
// rules' inputs as observed, u64 masks kept whole, and what an async fault is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UffdRegistry } from '../../src/model/uffdRegistry.js';
import { Analysis } from '../../src/stats/pipeline.js';
import type { HuEvent } from '../../src/events/types.js';
import { StreamBuilder, thread, uapi, bit, ERR_MISSING_WRITE, type IoctlHandle } from './streamBuilder.js';

const U = 0xffff888012340000n;
const vmm = thread(1000, 1000, 'qemu');
const ctl = thread(1000, 1010, 'qemu-ctl');
const RWP = bit('UFFD_FEATURE_RWP');
const A = BigInt(bit('UFFD_FEATURE_RWP_ASYNC'));
const INIT = 0x80000000;
const SERIES_IOCTLS = (1n << 0n) | (1n << 1n) | (1n << 10n) | (1n << 0x3fn);

/** userfaultfd_set_mode() entry or exit, as the fentry/kprobe backends record it */
function hu(b: StreamBuilder, h: IoctlHandle, kind: 'set_mode_enter' | 'set_mode_exit', enterTs: number, ret = 0): HuEvent {
  const e: HuEvent = {
    type: 'hu', ts: b.ts, cpu: 0, pid: h.t.pid, tid: h.t.tid, comm: h.t.comm, kind, uffd: h.uffd, address: 0x7ffd0000n,
    reason: h.args?.enable ?? 0n, faultFlags: h.args?.disable ?? 0n, enterTs, ret, ctxFeatures: RWP | INIT, argReadOk: h.args !== null,
  };
  b.events.push(e);
  return e;
}

/** a uffd that negotiated RWP (sync), as the series' kernel reports it */
function rwpUffd(b: StreamBuilder): void {
  b.create(vmm, U);
  b.ioctl(vmm, U, 'UFFDIO_API', { api: 0xaan, features: BigInt(RWP), ioctls: 0n }, 0, { api: 0xaan, features: 0x1ffffn | BigInt(RWP) | A, ioctls: SERIES_IOCTLS }, { before: 0, after: RWP | INIT });
}

test('drain = set_mode entry to the first waiter it woke; wake-up = from there to its return; ioctl latency = the system call', () => {
  const b = new StreamBuilder();
  rwpUffd(b);
  const f1 = b.fault(vmm, U, 0x7f0000001000n, { armed: ['unknown'], ctxFeatures: RWP | INIT });
  b.block(f1);
  const h = b.ioctlEnter(ctl, U, 'UFFDIO_SET_MODE', { enable: A, disable: 0n }, RWP | INIT);
  b.tick(500);
  const k = hu(b, h, 'set_mode_enter', b.ts);
  b.tick(40_000); // the drain
  b.wake(ctl, f1);
  const firstWake = b.ts;
  b.tick(3_000);
  hu(b, h, 'set_mode_exit', k.ts);
  const kexit = b.ts;
  const x = b.ioctlExit(h, 0, undefined, RWP | Number(A) | INIT, 700);
  b.resume(f1);
  const reg = new UffdRegistry(uapi);
  for (const e of b.events) reg.push(e);
  const a = reg.modeSwitches()[0];
  assert.equal(a.latencyNs, x.ts - h.enterTs);
  assert.equal(a.drainNs, firstWake - k.ts);
  assert.equal(a.wakeupNs, kexit - firstWake);
  assert.deepEqual([a.verdict?.expected, a.verdict?.agrees], ['ok', true]);
});

test('no waiter woken: the drain runs to the return and the wake-up is 0; without RWP_ASYNC in enable there is no wake-up; refused: no drain', () => {
  const b = new StreamBuilder();
  rwpUffd(b);
  const run = (enable: bigint, disable: bigint, ret: number) => {
    const h = b.ioctlEnter(ctl, U, 'UFFDIO_SET_MODE', { enable, disable }, RWP | INIT);
    const k = hu(b, h, 'set_mode_enter', b.tick(500));
    b.tick(20_000);
    hu(b, h, 'set_mode_exit', k.ts, ret);
    b.ioctlExit(h, ret, undefined, RWP | INIT, 500);
    return k.ts;
  };
  const k1 = run(A, 0n, 0);
  run(0n, A, 0);
  run(A, A, -22);
  const reg = new UffdRegistry(uapi);
  for (const e of b.events) reg.push(e);
  const [on, off, bad] = reg.modeSwitches();
  assert.deepEqual([on.drainNs, on.wakeupNs], [20_000, 0]);
  assert.ok(k1 > 0);
  assert.deepEqual([off.drainNs, off.wakeupNs], [20_000, undefined]);
  assert.deepEqual([bad.drainNs, bad.wakeupNs, bad.latencyNs !== undefined], [undefined, undefined, true]);
});

test('tracepoint only: the ioctl latency, no drain or wake-up', () => {
  const b = new StreamBuilder();
  rwpUffd(b);
  b.ioctl(ctl, U, 'UFFDIO_SET_MODE', { enable: A, disable: 0n }, 0, undefined, { before: RWP | INIT, after: RWP | Number(A) | INIT });
  const reg = new UffdRegistry(uapi);
  for (const e of b.events) reg.push(e);
  const a = reg.modeSwitches()[0];
  assert.deepEqual([a.latencyNs, a.drainNs, a.wakeupNs], [1000, undefined, undefined]);
});

test('an unreadable struct: masks null, verdict unknown (never "disagrees"); the set_mode record fills them when it read them', () => {
  const b = new StreamBuilder();
  rwpUffd(b);
  b.ioctl(ctl, U, 'UFFDIO_SET_MODE', null, -14, null, { before: RWP | INIT });
  const h = b.ioctlEnter(ctl, U, 'UFFDIO_SET_MODE', null, RWP | INIT);
  const k = hu(b, { ...h, args: { enable: A, disable: 0n } }, 'set_mode_enter', b.tick(500));
  hu(b, h, 'set_mode_exit', k.ts, 0);
  b.ioctlExit(h, 0, null, RWP | Number(A) | INIT);
  const reg = new UffdRegistry(uapi);
  for (const e of b.events) reg.push(e);
  const [unread, filled] = reg.modeSwitches();
  assert.deepEqual([unread.enable, unread.disable, unread.verdict?.expected, unread.verdict?.rule, unread.verdict?.agrees], [null, null, 'unknown', 'efault', null]);
  assert.deepEqual([filled.enable, filled.verdict?.expected, filled.verdict?.agrees], [A, 'ok', true]);
});

test('rule inputs as observed: before UFFDIO_API the context is uninitialized; a uffd older than the trace is unknown', () => {
  const b = new StreamBuilder();
  b.create(vmm, U);
  b.ioctl(ctl, U, 'UFFDIO_SET_MODE', { enable: A, disable: 0n }, -22);
  const OLD = 0xffff888077770000n;
  b.ioctl(ctl, OLD, 'UFFDIO_SET_MODE', { enable: A, disable: 0n }, -22); // ctx->features unread (0), creation not traced
  b.ioctl(ctl, OLD, 'UFFDIO_SET_MODE', { enable: A, disable: 0n }, 0, undefined, { before: INIT | RWP }); // read: initialized, RWP
  const reg = new UffdRegistry(uapi);
  for (const e of b.events) reg.push(e);
  const [uninit, old, oldRead] = reg.modeSwitches();
  assert.deepEqual([uninit.verdict?.expected, uninit.verdict?.rule, uninit.verdict?.agrees], ['EINVAL', 'not_initialized', true]);
  assert.deepEqual([old.verdict?.expected, old.verdict?.agrees], ['unknown', null]);
  assert.deepEqual([oldRead.verdict?.expected, oldRead.verdict?.agrees], ['ok', true], 'RWP in ctx->features proves RWP_ASYNC available');
});

test('only 0x4010AA0A is a SET_MODE attempt', () => {
  const b = new StreamBuilder();
  rwpUffd(b);
  b.ioctl(ctl, U, 'UFFDIO_SET_MODE', { enable: A, disable: 0n }, 0);
  const events = b.events.map((e) => (e.type === 'ioctl_enter' || e.type === 'ioctl_exit') && e.name === 'UFFDIO_SET_MODE' ? { ...e, cmd: 0xc010aa0a, name: 'UFFDIO_cmd_0xc010aa0a' } : e);
  const reg = new UffdRegistry(uapi);
  for (const e of events) reg.push(e);
  assert.equal(reg.modeSwitches().length, 0);
});

test('u64 masks stay whole: bit 60 survives the model and the summary JSON', () => {
  const b = new StreamBuilder();
  rwpUffd(b);
  const high = (1n << 60n) | A;
  b.ioctl(ctl, U, 'UFFDIO_SET_MODE', { enable: high, disable: 1n << 59n }, -22);
  const an = new Analysis(uapi);
  an.pushAll(b.events);
  an.finish();
  const s = JSON.parse(JSON.stringify(an.summary({ backend: 'generated' }))) as ReturnType<Analysis['summary']>;
  assert.equal(s.mode_switches[0].enable, '0x1000000000040000');
  assert.equal(s.mode_switches[0].disable, '0x800000000000000');
  assert.deepEqual([s.mode_switches[0].rule, s.mode_switches[0].kernel_agrees], ['not_toggleable', true]);
  assert.equal(s.uffds[0].available_features, `0x${(0x1ffffn | BigInt(RWP) | A).toString(16)}`);
});

test('async faults: RWP faults under RWP_ASYNC (and WP with WP_ASYNC) only; a missing-armed fault on an RWP_ASYNC uffd is not async', () => {
  const b = new StreamBuilder();
  rwpUffd(b);
  const cf = RWP | Number(A) | INIT;
  b.fault(vmm, U, 0x7f0000001000n, { armed: ['unknown'], ctxFeatures: cf }); // RWP-armed: async
  b.fault(vmm, U, 0x7f0000200000n, { armed: ['missing'], ctxFeatures: cf, errorCode: ERR_MISSING_WRITE }); // page present after all: no wait
  const an = new Analysis(uapi);
  an.pushAll(b.events);
  an.finish();
  const s = an.summary({ backend: 'generated' });
  assert.equal(s.faults.async, 1);
  assert.equal(s.faults.ended.no_wait, 1);
});

test('a fault entering during a SET_MODE waits for the unlock: judged by the features the call set', () => {
  const b = new StreamBuilder();
  rwpUffd(b);
  const h = b.ioctlEnter(ctl, U, 'UFFDIO_SET_MODE', { enable: A, disable: 0n }, RWP | INIT);
  b.fault(vmm, U, 0x7f0000001000n, { armed: ['unknown'], ctxFeatures: RWP | INIT }); // read at entry: still sync
  b.ioctlExit(h, 0, undefined, RWP | Number(A) | INIT, 30_000);
  b.fault(vmm, U, 0x7f0000002000n, { armed: ['unknown'], ctxFeatures: RWP | Number(A) | INIT });
  const an = new Analysis(uapi);
  an.pushAll(b.events);
  an.finish();
  assert.equal(an.summary({ backend: 'generated' }).faults.async, 2);
});
