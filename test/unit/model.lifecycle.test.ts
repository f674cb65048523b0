// Fault lifecycle on GENERATED event streams (test/unit/streamBuilder.ts):
// every lifecycle edge the tracepoint backend can produce.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FaultLifecycle, type FaultRecord, type LifecycleOptions } from '../../src/model/faultLifecycle.js';
import type { UffdEvent } from '../../src/events/types.js';
import { StreamBuilder, thread, uapi, bit, ERR_WP_WRITE, PF, type FaultHandle } from './streamBuilder.js';

const U = 0xffff888012340000n;
const U2 = 0xffff888056780000n;
const A = 0x7f0000001000n;
const B = 0x7f0000002000n;

function run(events: UffdEvent[], opts?: LifecycleOptions, finish = true): { lc: FaultLifecycle; recs: FaultRecord[] } {
  const lc = new FaultLifecycle(uapi, opts);
  const recs: FaultRecord[] = [];
  lc.onRecord((r) => recs.push(r));
  for (const e of events) lc.push(e);
  if (finish) lc.finish();
  return { lc, recs };
}

function only(recs: FaultRecord[], tid: number): FaultRecord {
  const r = recs.filter((x) => x.tid === tid);
  assert.equal(r.length, 1, `one record for tid ${tid}, got ${r.length}`);
  return r[0];
}

function assertStageSum(r: FaultRecord): void {
  const s = r.stages;
  assert.ok(s.total !== undefined && s.queue !== undefined && s.service !== undefined && s.wake !== undefined, 'all stages known');
  assert.equal(s.queue! + s.service! + s.wake!, s.total!);
  assert.ok(s.queue! >= 0 && s.service! >= 0 && s.wake! >= 0);
}

const vcpu = thread(100, 101, 'vcpu0');
const vcpu2 = thread(100, 102, 'vcpu1');
const handler = thread(100, 110, 'uffd-handler');

test('normal missing fault with a handler thread', () => {
  const b = new StreamBuilder();
  const h = b.fault(vcpu, U, A + 0x123n);
  b.block(h);
  b.tick(10_000);
  const m = b.msg(handler, U, A);
  const c = b.copyEnter(handler, U, A);
  b.tick(4000);
  b.wake(handler, h);
  const cx = b.copyExit(c);
  b.resume(h, 3000);
  const { recs, lc } = run(b.events);
  const r = only(recs, vcpu.tid);
  assert.equal(r.kind, 'missing');
  assert.equal(r.end, 'resolved');
  assert.equal(r.userfault, true);
  assert.equal(r.blocked, true);
  assert.equal(r.nblocks, 1);
  assert.equal(r.address, A + 0x123n);
  assert.equal(r.page, A);
  assert.equal(r.uffd, U);
  assert.equal(r.msgTs, m.ts);
  assert.equal(r.msgReaderTid, handler.tid);
  assert.equal(r.resolveIoctl?.name, 'UFFDIO_COPY');
  assert.equal(r.resolveIoctl?.tid, handler.tid);
  assert.equal(r.resolveIoctl?.exitTs, cx.ts);
  assert.equal(r.resolveIoctl?.ret, 0);
  assert.equal(r.wakerTid, handler.tid);
  assert.equal(r.wakerPid, handler.pid);
  assert.equal(r.stages.total, r.resumeTs! - h.faultTs);
  assert.equal(r.stages.queue, m.ts - h.faultTs);
  assert.equal(r.stages.service, h.wakeTs - m.ts, 'service ends at the wake-up inside the COPY');
  assert.equal(r.stages.wake, r.resumeTs! - h.wakeTs);
  assertStageSum(r);
  assert.equal(lc.openFaults, 0);
  assert.equal(lc.counters.ends.resolved, 1);
});

test('record is delivered when the thread moves on, not before', () => {
  const b = new StreamBuilder();
  b.missingFault(vcpu, handler, U, A);
  const lc = new FaultLifecycle(uapi);
  const recs: FaultRecord[] = [];
  lc.onRecord((r) => recs.push(r));
  for (const e of b.events) lc.push(e);
  assert.equal(recs.length, 0, 'resumed fault waits (a re-wait may follow)');
  assert.equal(lc.openFaults, 1);
  b.events.length = 0;
  b.fault(vcpu, U, B);
  for (const e of b.events) lc.push(e);
  assert.equal(recs.length, 1);
  assert.equal(recs[0].end, 'resolved');
  assert.equal(lc.openFaults, 1);
});

test('resumed fault settles after settleNs of event time', () => {
  const b = new StreamBuilder();
  b.missingFault(vcpu, handler, U, A);
  b.tick(20e6);
  b.fault(vcpu2, U, B); // unrelated thread: moves event time
  const { recs } = run(b.events, { settleNs: 10e6 }, false);
  assert.equal(recs.length, 1);
  assert.equal(recs[0].tid, vcpu.tid);
});

test('WP fault resolved by UFFDIO_WRITEPROTECT (un-protect)', () => {
  const b = new StreamBuilder();
  const h = b.fault(vcpu, U, A, { errorCode: ERR_WP_WRITE, armed: ['wp'] });
  b.block(h);
  b.msg(handler, U, A, { kind: 'wp' });
  const w = b.ioctlEnter(handler, U, 'UFFDIO_WRITEPROTECT', { start: A, len: 4096n, mode: 0n });
  b.wake(handler, h);
  b.ioctlExit(w, 0);
  b.resume(h);
  const r = only(run(b.events).recs, vcpu.tid);
  assert.equal(r.kind, 'wp');
  assert.equal(r.msgKind, 'wp');
  assert.equal(r.end, 'resolved');
  assert.equal(r.resolveIoctl?.name, 'UFFDIO_WRITEPROTECT');
  assertStageSum(r);
});

test('WP kind from armed modes and error code when no message was read', () => {
  const b = new StreamBuilder();
  const h = b.fault(vcpu, U, A, { errorCode: ERR_WP_WRITE, armed: ['missing', 'wp'] });
  b.block(h);
  const w = b.ioctlEnter(handler, U, 'UFFDIO_WRITEPROTECT', { start: A, len: 4096n, mode: 0n });
  b.wake(handler, h);
  b.ioctlExit(w, 0);
  b.resume(h);
  const r = only(run(b.events).recs, vcpu.tid);
  assert.equal(r.kind, 'wp');
  assert.equal(r.msgTs, undefined);
  assert.equal(r.stages.queue, undefined);
  assert.equal(r.stages.service, undefined);
  assert.equal(r.stages.wake, r.resumeTs! - r.wakeTs!);
});

test('minor fault resolved by UFFDIO_CONTINUE', () => {
  const b = new StreamBuilder();
  const h = b.fault(vcpu, U, A, { errorCode: PF.USER, armed: ['minor'] });
  b.block(h);
  b.msg(handler, U, A, { kind: 'minor', write: false });
  const c = b.ioctlEnter(handler, U, 'UFFDIO_CONTINUE', { start: A, len: 4096n, mode: 0n, mapped: 0n });
  b.wake(handler, h);
  b.ioctlExit(c, 0, { start: A, len: 4096n, mode: 0n, mapped: 4096n });
  b.resume(h);
  const r = only(run(b.events).recs, vcpu.tid);
  assert.equal(r.kind, 'minor');
  assert.equal(r.end, 'resolved');
  assert.equal(r.resolveIoctl?.name, 'UFFDIO_CONTINUE');
  assertStageSum(r);
});

test('a fault that never blocks (page present) ends as no_wait at the next fault', () => {
  const b = new StreamBuilder();
  b.fault(vcpu, U, A, { errorCode: ERR_WP_WRITE, armed: ['missing'] });
  b.tick(1000);
  b.fault(vcpu, U, B);
  const { recs } = run(b.events, {}, false);
  assert.equal(recs.length, 1);
  const r = recs[0];
  assert.equal(r.end, 'no_wait');
  assert.equal(r.userfault, false);
  assert.equal(r.blocked, false);
  assert.equal(r.stages.total, undefined);
});

test('any other activity of the thread ends its un-blocked fault', () => {
  for (const act of ['ioctl', 'msg', 'close', 'wake-as-waker', 'fork'] as const) {
    const b = new StreamBuilder();
    const h0 = b.fault(vcpu2, U, B);
    b.block(h0);
    b.fault(vcpu, U, A, { errorCode: PF.USER | PF.PRESENT, armed: ['missing'] });
    if (act === 'ioctl') b.ioctl(vcpu, U, 'UFFDIO_API', { api: 0xaan, features: 0n, ioctls: 0n });
    else if (act === 'msg') b.msg(vcpu, U, 0x1000n);
    else if (act === 'close') b.close(vcpu, U2);
    else if (act === 'wake-as-waker') b.wake(vcpu, h0);
    else b.fork(vcpu, 999);
    const { recs } = run(b.events, {}, false);
    const r = recs.find((x) => x.tid === vcpu.tid);
    assert.ok(r, `ended by ${act}`);
    assert.equal(r.end, 'no_wait', act);
  }
});

test('un-blocked faults end by age (horizon) as no_wait', () => {
  const b = new StreamBuilder();
  b.fault(vcpu, U, A, { errorCode: PF.USER | PF.PRESENT });
  b.tick(6e9);
  b.create(handler, U2); // anything that moves event time
  const { recs, lc } = run(b.events, {}, false);
  assert.equal(recs.length, 1);
  assert.equal(recs[0].end, 'no_wait');
  assert.equal(lc.openFaults, 0);
});

test('resolved by another thread\'s ioctl before blocking (EEXIST race)', () => {
  const b = new StreamBuilder();
  const h1 = b.fault(vcpu, U, A);
  b.block(h1);
  b.msg(handler, U, A);
  const c = b.copyEnter(handler, U, A);
  // vcpu1 faults on the same page while the COPY runs; by the time it gets
  // into handle_userfault() the page is there: it never blocks
  const h2 = b.fault(vcpu2, U, A + 8n);
  b.wake(handler, h1);
  const cx = b.copyExit(c);
  b.resume(h1);
  // a second handler thread read a message for the same page and loses the race
  const handler2 = thread(100, 111, 'uffd-handler2');
  const c2 = b.copyEnter(handler2, U, A);
  b.copyExit(c2, -17);
  b.tick(1000);
  b.fault(vcpu2, U, B); // vcpu1 moves on
  const { recs } = run(b.events);
  const r2 = recs.find((r) => r.tid === vcpu2.tid && r.faultTs === h2.faultTs)!;
  assert.equal(r2.end, 'resolved');
  assert.equal(r2.blocked, false);
  assert.equal(r2.userfault, true);
  assert.equal(r2.kind, 'missing');
  assert.equal(r2.resolveIoctl?.name, 'UFFDIO_COPY');
  assert.equal(r2.resolveIoctl?.tid, handler.tid);
  assert.equal(r2.resolveIoctl?.exitTs, cx.ts);
  assert.equal(r2.stages.total, undefined, 'it never waited');
  const r1 = only(recs.filter((r) => r.faultTs === h1.faultTs), vcpu.tid);
  assert.equal(r1.end, 'resolved');
});

test('a failed COPY (EEXIST) does not resolve a fault', () => {
  const b = new StreamBuilder();
  b.fault(vcpu, U, A, { errorCode: PF.USER | PF.PRESENT });
  const c = b.copyEnter(handler, U, A);
  b.copyExit(c, -17);
  b.fault(vcpu, U, B);
  const { recs } = run(b.events, {}, false);
  assert.equal(recs[0].end, 'no_wait');
  assert.equal(recs[0].resolveIoctl, undefined);
});

test('multiple faulting threads on the same page: one message, both woken by one COPY', () => {
  const b = new StreamBuilder();
  const h1 = b.fault(vcpu, U, A + 0x10n);
  const h2 = b.fault(vcpu2, U, A + 0x20n);
  b.block(h1);
  b.block(h2);
  b.msg(handler, U, A);
  const c = b.copyEnter(handler, U, A);
  b.wake(handler, h1);
  b.wake(handler, h2);
  b.copyExit(c);
  b.resume(h2);
  b.resume(h1);
  const { recs } = run(b.events);
  const r1 = only(recs, vcpu.tid);
  const r2 = only(recs, vcpu2.tid);
  for (const r of [r1, r2]) {
    assert.equal(r.end, 'resolved');
    assert.equal(r.resolveIoctl?.name, 'UFFDIO_COPY');
    assert.equal(r.kind, 'missing');
    assert.equal(r.userfault, true);
  }
  assert.equal(r1.msgs, 1, 'the message goes to the oldest fault on the page');
  assert.equal(r2.msgs, 0);
  assertStageSum(r1);
  assert.equal(r2.stages.queue, undefined);
  assert.equal(r2.stages.wake, r2.resumeTs! - r2.wakeTs!);
});

test('THREAD_ID: a message with ptid goes to that thread', () => {
  const b = new StreamBuilder();
  const h1 = b.fault(vcpu, U, A);
  const h2 = b.fault(vcpu2, U, A);
  b.block(h1);
  b.block(h2);
  b.msg(handler, U, A, { ptid: vcpu2.tid });
  const { recs } = run(b.events);
  assert.equal(only(recs, vcpu2.tid).msgs, 1);
  assert.equal(only(recs, vcpu.tid).msgs, 0);
});

test('message read before the faulting thread is seen sleeping', () => {
  const b = new StreamBuilder();
  const h = b.fault(vcpu, U, A);
  const m = b.msg(handler, U, A);
  b.block(h);
  const c = b.copyEnter(handler, U, A);
  b.wake(handler, h);
  b.copyExit(c);
  b.resume(h);
  const r = only(run(b.events).recs, vcpu.tid);
  assert.equal(r.msgTs, m.ts);
  assertStageSum(r);
});

test('signal wake-up with no resolving ioctl', () => {
  const b = new StreamBuilder();
  const killer = thread(300, 300, 'kill');
  const h = b.fault(vcpu, U, A);
  b.block(h);
  b.msg(handler, U, A);
  b.wake(killer, h);
  b.resume(h);
  b.fault(vcpu, U, A); // returns to user space for the signal, then faults again
  const { recs } = run(b.events, {}, false);
  assert.equal(recs.length, 1);
  const r = recs[0];
  assert.equal(r.end, 'signal_or_spurious');
  assert.equal(r.resolveIoctl, undefined);
  assert.equal(r.wakerPid, 300);
  assert.equal(r.userfault, true);
  assert.equal(r.stages.total, r.resumeTs! - r.faultTs);
});

test('process exit mid-fault', () => {
  const b = new StreamBuilder();
  const h = b.fault(vcpu, U, A);
  b.block(h);
  b.msg(handler, U, A);
  b.fault(vcpu2, U, B, { errorCode: PF.USER | PF.PRESENT }); // never blocks
  b.exit(handler);
  const { recs, lc } = run(b.events, {}, false);
  assert.equal(lc.openFaults, 0);
  assert.equal(only(recs, vcpu.tid).end, 'exit');
  assert.equal(only(recs, vcpu.tid).userfault, true);
  assert.equal(only(recs, vcpu2.tid).end, 'exit');
  assert.equal(only(recs, vcpu2.tid).userfault, false);
});

test('process exit drops its in-flight ioctls and delivers held records', () => {
  const b = new StreamBuilder();
  const vm = thread(400, 401, 'vm');
  const hp = thread(500, 501, 'handler');
  const h = b.fault(vm, U, A);
  b.block(h);
  b.copyEnter(hp, U, A);
  b.wake(hp, h);
  b.resume(h);
  b.fault(vm, U, B); // vm moves on while the COPY is still in flight
  const { recs, lc } = run(b.events, {}, false);
  assert.equal(recs.filter((r) => r.faultTs === h.faultTs).length, 0, 'held until the COPY exits');
  b.events.length = 0;
  b.exit(hp);
  for (const e of b.events) lc.push(e);
  const r = recs.find((r) => r.faultTs === h.faultTs)!;
  assert.equal(r.end, 'resolved');
  assert.equal(r.resolveIoctl?.exitTs, undefined);
  assert.equal(lc.inflightIoctls, 0);
  assert.equal(lc.counters.ioctlsDropped, 1);
});

test('uffd close with faults pending', () => {
  const b = new StreamBuilder();
  const h1 = b.fault(vcpu, U, A);
  b.block(h1);
  b.fault(vcpu2, U, B, { errorCode: PF.USER | PF.PRESENT }); // still entering
  b.close(handler, U);
  b.wake(handler, h1); // release wakes every waiter
  b.resume(h1);
  const { recs } = run(b.events);
  assert.equal(only(recs, vcpu2.tid).end, 'closed');
  const r1 = only(recs, vcpu.tid);
  assert.equal(r1.end, 'closed');
  assert.equal(r1.userfault, true);
});

test('a close on another uffd does not claim a wake-up', () => {
  const b = new StreamBuilder();
  const h1 = b.fault(vcpu, U, A);
  b.block(h1);
  b.close(handler, U2);
  b.wake(handler, h1);
  b.resume(h1);
  assert.equal(only(run(b.events).recs, vcpu.tid).end, 'signal_or_spurious');
});

test('handler in a separate process', () => {
  const vm = thread(1000, 1001, 'qemu-vcpu');
  const hp = thread(2000, 2002, 'postcopy-hnd');
  const b = new StreamBuilder();
  const h = b.fault(vm, U, A);
  b.block(h);
  b.msg(hp, U, A);
  const c = b.copyEnter(hp, U, A);
  b.wake(hp, h);
  b.copyExit(c);
  b.resume(h);
  const r = only(run(b.events).recs, vm.tid);
  assert.equal(r.pid, 1000);
  assert.equal(r.msgReaderPid, 2000);
  assert.equal(r.wakerPid, 2000);
  assert.equal(r.resolveIoctl?.pid, 2000);
  assert.equal(r.end, 'resolved');
  assertStageSum(r);
});

test('re-block after a spurious wake-up (nblocks 2) is one fault', () => {
  const b = new StreamBuilder();
  const h = b.fault(vcpu, U, A);
  b.block(h);
  b.msg(handler, U, A);
  const wk = b.ioctlEnter(handler, U, 'UFFDIO_WAKE', { start: A, len: 4096n });
  b.wake(handler, h);
  b.ioctlExit(wk);
  b.resume(h);
  b.block(h); // page still missing: waits again
  assert.equal(h.nblocks, 2);
  b.msg(handler, U, A);
  const c = b.copyEnter(handler, U, A);
  b.wake(handler, h);
  b.copyExit(c);
  b.resume(h);
  const { recs } = run(b.events);
  const r = only(recs, vcpu.tid);
  assert.equal(r.nblocks, 2);
  assert.equal(r.msgs, 2);
  assert.equal(r.end, 'resolved');
  assert.equal(r.resolveIoctl?.name, 'UFFDIO_COPY');
  assert.equal(r.stages.total, r.resumeTs! - h.faultTs);
  assertStageSum(r);
});

test('UFFDIO_COPY with DONTWAKE then UFFDIO_WAKE: service ends at the COPY exit', () => {
  const b = new StreamBuilder();
  const h = b.fault(vcpu, U, A);
  b.block(h);
  const m = b.msg(handler, U, A);
  const c = b.copyEnter(handler, U, A, 4096n, 1n);
  const cx = b.copyExit(c);
  b.tick(50_000);
  const wk = b.ioctlEnter(handler, U, 'UFFDIO_WAKE', { start: A, len: 4096n });
  b.wake(handler, h);
  b.ioctlExit(wk);
  b.resume(h);
  const r = only(run(b.events).recs, vcpu.tid);
  assert.equal(r.resolveIoctl?.name, 'UFFDIO_COPY');
  assert.equal(r.wakeIoctl?.name, 'UFFDIO_WAKE');
  assert.equal(r.stages.service, cx.ts - m.ts);
  assertStageSum(r);
});

test('async faults (WP_ASYNC context) never block', () => {
  const wpAsync = bit('UFFD_FEATURE_WP_ASYNC') | bit('UFFD_FEATURE_PAGEFAULT_FLAG_WP');
  const b = new StreamBuilder();
  for (let i = 0; i < 5; i++) b.fault(vcpu, U, A + BigInt(i) * 4096n, { errorCode: ERR_WP_WRITE, armed: ['wp'], ctxFeatures: wpAsync });
  // a read of a missing page in the same VMA is no userfault
  b.fault(vcpu, U, B + 0x100000n, { errorCode: PF.USER, armed: ['wp'], ctxFeatures: wpAsync });
  const { recs } = run(b.events);
  assert.equal(recs.length, 6);
  assert.deepEqual(
    recs.slice(0, 5).map((r) => [r.kind, r.end, r.userfault]),
    Array(5).fill(['async', 'async', true]),
  );
  assert.equal(recs[5].end, 'no_wait');
  assert.equal(recs[5].userfault, false);
});

test('RWP_ASYNC context: un-blocked faults are async; rwp kind from the message', () => {
  const rwpAsync = bit('UFFD_FEATURE_RWP') | bit('UFFD_FEATURE_RWP_ASYNC');
  const b = new StreamBuilder();
  b.fault(vcpu, U, A, { errorCode: PF.USER, armed: ['unknown'], ctxFeatures: rwpAsync });
  const h = b.fault(vcpu2, U, B, { errorCode: PF.USER, armed: ['unknown'], ctxFeatures: bit('UFFD_FEATURE_RWP') });
  b.block(h);
  b.msg(handler, U, B, { kind: 'rwp', write: false });
  const c = b.ioctlEnter(handler, U, 'UFFDIO_RWPROTECT', { start: B, len: 4096n, mode: 0n });
  b.wake(handler, h);
  b.ioctlExit(c);
  b.resume(h);
  const { recs } = run(b.events);
  assert.equal(only(recs, vcpu.tid).kind, 'async');
  const r = only(recs, vcpu2.tid);
  assert.equal(r.kind, 'rwp');
  assert.equal(r.end, 'resolved');
  assert.equal(r.resolveIoctl?.name, 'UFFDIO_RWPROTECT');
});

test('SET_MODE to async wakes the waiters: ended as mode_switch', () => {
  const rwp = bit('UFFD_FEATURE_RWP');
  const rwpAsync = bit('UFFD_FEATURE_RWP_ASYNC');
  const b = new StreamBuilder();
  const mgr = thread(100, 120, 'migration');
  const hs: FaultHandle[] = [];
  for (const t of [vcpu, vcpu2]) {
    const h = b.fault(t, U, A, { errorCode: PF.USER, armed: ['unknown'], ctxFeatures: rwp });
    b.block(h);
    hs.push(h);
  }
  const sm = b.ioctlEnter(mgr, U, 'UFFDIO_SET_MODE', { enable: BigInt(rwpAsync), disable: 0n }, rwp);
  for (const h of hs) b.wake(mgr, h);
  b.ioctlExit(sm, 0, undefined, rwp | rwpAsync);
  for (const h of hs) b.resume(h);
  const { recs } = run(b.events);
  for (const t of [vcpu, vcpu2]) {
    const r = only(recs, t.tid);
    assert.equal(r.end, 'mode_switch');
    assert.equal(r.resolveIoctl?.name, 'UFFDIO_SET_MODE');
    assert.equal(r.kind, 'rwp');
  }
});

test('UFFDIO_UNREGISTER wakes waiters on its range and ends faults entering it', () => {
  const b = new StreamBuilder();
  const h = b.fault(vcpu, U, A);
  b.block(h);
  b.fault(vcpu2, U, B, { errorCode: PF.USER | PF.PRESENT });
  const un = b.unregisterEnter(handler, U, A, 0x10000n);
  b.wake(handler, h);
  b.ioctlExit(un, 0);
  b.resume(h);
  const { recs } = run(b.events);
  assert.equal(only(recs, vcpu.tid).end, 'unregistered');
  assert.equal(only(recs, vcpu2.tid).end, 'unregistered');
});

test('hugetlb: the message carries the huge page address', () => {
  const huge = 0x7f0000200000n;
  const b = new StreamBuilder();
  const h = b.fault(vcpu, U, huge + 0x12345n, { vmFlags: 0x00400000n | 0x200n });
  b.block(h);
  b.msg(handler, U, huge);
  const c = b.copyEnter(handler, U, huge, 2n << 20n);
  b.wake(handler, h);
  b.copyExit(c);
  b.resume(h);
  const r = only(run(b.events).recs, vcpu.tid);
  assert.equal(r.msgs, 1);
  assertStageSum(r);
});

test('lost fault entry: rebuilt from block, joined with an earlier message', () => {
  const b = new StreamBuilder();
  const h = b.fault(vcpu, U, A);
  b.msg(handler, U, A);
  b.block(h);
  const c = b.copyEnter(handler, U, A);
  b.wake(handler, h);
  b.copyExit(c);
  b.resume(h);
  const events = b.events.filter((e) => e.type !== 'fault');
  const { recs, lc } = run(events);
  const r = only(recs, vcpu.tid);
  assert.equal(r.recovered, true);
  assert.equal(r.end, 'resolved');
  assert.equal(r.msgs, 1, 'the orphan message joins the rebuilt fault');
  assert.equal(r.kind, 'missing');
  assert.equal(lc.counters.recovered, 1);
  assertStageSum(r);
});

test('lost resume: the thread is seen active, the record says incomplete', () => {
  const b = new StreamBuilder();
  const h = b.fault(vcpu, U, A);
  b.block(h);
  const c = b.copyEnter(handler, U, A);
  b.wake(handler, h);
  b.copyExit(c);
  b.fault(vcpu, U, B);
  const { recs } = run(b.events, {}, false);
  assert.equal(recs.length, 1);
  assert.equal(recs[0].incomplete, true);
  assert.equal(recs[0].end, 'resolved');
  assert.equal(recs[0].stages.total, undefined);
});

test('a wake-up that raced the block record (resolving ioctl before the block, no wake or resume): resolved, not incomplete', () => {
  // the mixed workload's recording has one (test/unit/model.recording-mixed.test.ts)
  const b = new StreamBuilder();
  const h = b.fault(vcpu, U, A);
  b.msg(handler, U, A);
  const c = b.copyEnter(handler, U, A);
  b.copyExit(c);
  b.block(h, 'stack');
  b.fault(vcpu, U, B);
  const { recs } = run(b.events, {}, false);
  assert.equal(recs.length, 1);
  assert.equal(recs[0].end, 'resolved');
  assert.equal(recs[0].incomplete, false);
  assert.equal(recs[0].resolveIoctl?.name, 'UFFDIO_COPY');
  assert.equal(recs[0].stages.total, undefined, 'back on a CPU at an unknown time');
  assert.ok(recs[0].stages.queue! > 0 && recs[0].stages.service! > 0);
});

test('blocked with no resolving ioctl and the thread moves on: incomplete (events were lost)', () => {
  const b = new StreamBuilder();
  const h = b.fault(vcpu, U, A);
  b.block(h);
  b.fault(vcpu, U, B);
  const { recs } = run(b.events, {}, false);
  assert.equal(recs[0].end, 'incomplete');
  assert.equal(recs[0].incomplete, true);
});

test('woken but not back on a CPU when the trace ends: resolved, nothing lost', () => {
  const b = new StreamBuilder();
  const h = b.fault(vcpu, U, A);
  b.block(h);
  const c = b.copyEnter(handler, U, A);
  b.wake(handler, h);
  b.copyExit(c);
  const r = only(run(b.events).recs, vcpu.tid);
  assert.equal(r.end, 'resolved');
  assert.equal(r.incomplete, false);
  assert.equal(r.stages.total, undefined);
});

test('late events of an evicted fault are ignored, not rebuilt', () => {
  const b = new StreamBuilder();
  const h = b.fault(vcpu, U, A);
  b.block(h);
  b.fault(vcpu2, U, B); // cap 1: evicts vcpu0's fault
  b.wake(handler, h);
  b.resume(h);
  const { recs, lc } = run(b.events, { maxOpenFaults: 1 });
  assert.equal(lc.counters.ends.evicted, 1);
  assert.equal(lc.counters.lateEvents, 2);
  assert.equal(recs.filter((r) => r.tid === vcpu.tid).length, 1);
});

test('blocked faults with no wake-up expire after blockedHorizonNs; finish ends the rest', () => {
  const b = new StreamBuilder();
  const h = b.fault(vcpu, U, A);
  b.block(h);
  b.tick(2e9);
  const h2 = b.fault(vcpu2, U, B);
  b.block(h2);
  b.tick(2e9);
  b.create(handler, U2);
  const { recs, lc } = run(b.events, { blockedHorizonNs: 3e9 }, false);
  assert.equal(recs.length, 1);
  assert.equal(recs[0].end, 'expired');
  lc.finish();
  assert.equal(recs.length, 2);
  assert.equal(recs[1].end, 'open_at_end');
  assert.equal(lc.openFaults, 0);
});

test('memory bound: 500k faults that never end stay at the cap, evictions counted', () => {
  const lc = new FaultLifecycle(uapi);
  let n = 0;
  lc.onRecord(() => n++);
  const armed = ['missing'] as const;
  let ts = 1e9;
  for (let i = 0; i < 500_000; i++) {
    ts += 100;
    lc.push({
      type: 'fault',
      ts,
      cpu: 0,
      pid: 7,
      tid: 10_000 + i,
      comm: 'many',
      address: A + BigInt(i) * 4096n,
      ip: 0n,
      errorCode: 6,
      uffd: U,
      vmFlags: 0x200n,
      vmaStart: 0n,
      vmaEnd: 0n,
      ctxFeatures: 0,
      armed: armed as unknown as ('missing')[],
    });
    if (i % 50_000 === 0) assert.ok(lc.openFaults <= 100_000);
  }
  assert.equal(lc.openFaults, 100_000);
  assert.equal(lc.counters.ends.evicted, 400_000);
  assert.equal(n, 400_000);
  lc.finish();
  assert.equal(lc.openFaults, 0);
  assert.equal(n, 500_000);
});

test('unmatched messages and in-flight ioctls are bounded', () => {
  const lc = new FaultLifecycle(uapi, { maxOrphanMsgs: 100, maxInflightIoctls: 50 });
  const b = new StreamBuilder(1e9, (e) => lc.push(e));
  for (let i = 0; i < 1000; i++) b.msg(handler, U, A + BigInt(i) * 4096n);
  assert.equal(lc.orphanMessages, 100);
  assert.equal(lc.counters.orphanMsgsDropped, 900);
  for (let i = 0; i < 500; i++) b.copyEnter(thread(9, 5000 + i), U, A);
  assert.equal(lc.inflightIoctls, 50);
  assert.equal(lc.counters.ioctlsDropped, 450);
});

test('property: every fault entry ends in exactly one record; stage sums hold', () => {
  type Step = { thr: number; flavor: number; gap: number };
  const stepArb = fc.record({ thr: fc.integer({ min: 0, max: 3 }), flavor: fc.integer({ min: 0, max: 5 }), gap: fc.integer({ min: 1, max: 5000 }) });
  fc.assert(
    fc.property(fc.array(stepArb, { minLength: 1, maxLength: 40 }), (steps: Step[]) => {
      const b = new StreamBuilder();
      const threads = [0, 1, 2, 3].map((i) => thread(100, 200 + i));
      let faults = 0;
      for (const s of steps) {
        const t = threads[s.thr];
        const addr = A + BigInt(s.thr * 7 + s.flavor) * 4096n;
        b.tick(s.gap);
        faults++;
        switch (s.flavor) {
          case 0:
            b.missingFault(t, handler, U, addr);
            break;
          case 1:
            b.fault(t, U, addr, { errorCode: PF.USER | PF.PRESENT });
            break;
          case 2: {
            const h = b.fault(t, U, addr);
            b.block(h);
            b.wake(thread(1, 1), h);
            b.resume(h);
            break;
          }
          case 3: {
            const h = b.fault(t, U, addr, { errorCode: ERR_WP_WRITE, armed: ['wp'] });
            b.block(h);
            b.msg(handler, U, addr, { kind: 'wp' });
            const w = b.ioctlEnter(handler, U, 'UFFDIO_WRITEPROTECT', { start: addr, len: 4096n, mode: 0n });
            b.wake(handler, h);
            b.ioctlExit(w);
            b.resume(h);
            break;
          }
          case 4: {
            const h = b.fault(t, U, addr);
            b.block(h);
            break; // left blocked; a later fault of the thread makes it incomplete
          }
          default:
            b.fault(t, U, addr, { errorCode: ERR_WP_WRITE, armed: ['wp'], ctxFeatures: bit('UFFD_FEATURE_WP_ASYNC') });
        }
      }
      const { recs, lc } = run(b.events);
      assert.equal(recs.length, faults);
      assert.equal(lc.openFaults, 0);
      const keys = new Set(recs.map((r) => `${r.tid}:${r.faultTs}`));
      assert.equal(keys.size, faults);
      for (const r of recs) {
        const s = r.stages;
        if (s.total !== undefined && s.queue !== undefined && s.service !== undefined && s.wake !== undefined) {
          assert.equal(s.queue + s.service + s.wake, s.total);
        }
        for (const v of Object.values(s)) assert.ok(v >= 0);
      }
    }),
    { numRuns: 200 },
  );
});

test('records of two CPUs out of order: resume before its wake-up, message after it', () => {
  const b = new StreamBuilder();
  const h = b.fault(vcpu, U, A);
  b.block(h);
  const c = b.copyEnter(handler, U, A);
  b.tick(1000);
  const msgTs = b.ts - 500;
  const wakeTs = b.tick();
  h.wakeTs = wakeTs;
  h.wakerTid = handler.tid;
  b.resume(h); // reported first
  const events = b.events.slice();
  // the handler's message (read before the wake) and the wake itself, reported late
  events.push({ type: 'msg', ts: msgTs, cpu: 1, pid: handler.pid, tid: handler.tid, comm: handler.comm, uffd: U, readEnterTs: msgTs - 100, event: 0x12, eventName: 'pagefault', fd: 3, index: 0, inRead: 1, body: [2n, A, 0n], pagefault: { flags: 2n, address: A, ptid: 0, kind: 'missing' } });
  events.push({ type: 'wake', ts: wakeTs, cpu: 1, pid: handler.pid, tid: handler.tid, comm: handler.comm, address: A, uffd: U, faultTs: h.faultTs, targetPid: vcpu.pid, targetTid: vcpu.tid });
  b.events.length = 0;
  b.copyExit(c);
  events.push(...b.events);
  const { recs } = run(events);
  const r = only(recs, vcpu.tid);
  assert.equal(r.incomplete, false);
  assert.equal(r.wakeTs, wakeTs);
  assert.equal(r.wakerComm, handler.comm);
  assert.equal(r.msgTs, msgTs);
  assert.equal(r.resolveIoctl?.name, 'UFFDIO_COPY');
  assert.equal(r.nblocks, 1);
  assertStageSum(r);
});

test('lost wake-up: the resume names the waker, the record says incomplete', () => {
  const b = new StreamBuilder();
  const h = b.fault(vcpu, U, A);
  b.block(h);
  const c = b.copyEnter(handler, U, A);
  h.wakeTs = b.tick();
  h.wakerTid = handler.tid;
  b.resume(h);
  b.copyExit(c);
  const r = only(run(b.events).recs, vcpu.tid);
  assert.equal(r.incomplete, true);
  assert.equal(r.end, 'resolved');
  assert.equal(r.resolveIoctl?.name, 'UFFDIO_COPY');
  assert.equal(r.wakeTs, h.wakeTs);
});

test('an ioctl that cannot resolve the fault\'s mode does not make it a userfault', () => {
  const b = new StreamBuilder();
  // first touch of an unpopulated page in a WP-only VMA: an ordinary fault
  b.fault(vcpu, U, A, { errorCode: PF.USER | PF.WRITE, armed: ['wp'] });
  b.ioctl(handler, U, 'UFFDIO_WRITEPROTECT', { start: A, len: 0x10000n, mode: 0n });
  b.fault(vcpu, U, B, { errorCode: PF.USER | PF.WRITE, armed: ['wp'] });
  const { recs } = run(b.events, {}, false);
  assert.equal(recs[0].end, 'no_wait');
  assert.equal(recs[0].userfault, false);
});
