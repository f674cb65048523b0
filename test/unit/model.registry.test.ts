// uffd registry on GENERATED event streams (test/unit/streamBuilder.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UffdRegistry } from '../../src/model/uffdRegistry.js';
import { resolveUapi } from '../../src/events/uapi.js';
import { StreamBuilder, thread, uapi, bit } from './streamBuilder.js';
import type { FaultRecord } from '../../src/model/faultLifecycle.js';
import { parseUffdKey } from '../../src/model/uffdIdentity.js';

const U = 0xffff888012340000n;
const vmm = thread(1000, 1000, 'qemu');
const hnd = thread(2000, 2001, 'uffd-hnd');

function build(f: (b: StreamBuilder) => void, reg = new UffdRegistry(uapi)): UffdRegistry {
  const b = new StreamBuilder();
  f(b);
  for (const e of b.events) reg.push(e);
  return reg;
}

test('creation, API negotiation, owner and users', () => {
  const thr = BigInt(bit('UFFD_FEATURE_THREAD_ID'));
  const r = build((b) => {
    b.create(vmm, U);
    // the kernel writes back every AVAILABLE feature; ctx->features holds the negotiated ones
    b.ioctl(vmm, U, 'UFFDIO_API', { api: 0xaan, features: thr, ioctls: 0n }, 0, { api: 0xaan, features: 0x1ffffn, ioctls: 3n }, { after: Number(thr) | 0x80000000 });
    b.msg(hnd, U, 0x1000n);
  });
  const u = r.get(U)!;
  assert.equal(u.idHex, '0xffff888012340000');
  assert.equal(u.ownerPid, 1000);
  assert.equal(u.ownerComm, 'qemu');
  assert.equal(u.ownerSource, 'create');
  assert.equal(u.requestedFeatures, thr);
  assert.equal(u.features, thr, 'negotiated = ctx->features after the call, internal bit 31 removed');
  assert.equal(u.availableFeatures, 0x1ffffn);
  assert.equal(u.ctxFeatures, Number(thr));
  assert.deepEqual([...u.pids].sort(), [1000, 2000]);
  assert.deepEqual([...u.handlerPids], [2000]);
  assert.equal(u.mode, 'sync');
});

test('owner from the first faulting process when creation was not traced', () => {
  const r = build((b) => {
    b.msg(hnd, U, 0x1000n);
    b.fault(vmm, U, 0x1000n);
  });
  const u = r.get(U)!;
  assert.equal(u.ownerPid, 1000);
  assert.equal(u.ownerSource, 'fault');
  assert.equal(u.faultEntries, 1);
});

test('registered ranges and armed bytes follow REGISTER / UNREGISTER', () => {
  const MISSING = uapi.UFFDIO_REGISTER_MODE_MISSING;
  const WP = uapi.UFFDIO_REGISTER_MODE_WP;
  const r = build((b) => {
    b.create(vmm, U);
    b.register(vmm, U, 0x10000n, 0x10000n, MISSING);
    b.register(vmm, U, 0x40000n, 0x4000n, MISSING | WP);
    b.register(vmm, U, 0x80000n, 0x1000n, MISSING, -22); // failed: ignored
    b.ioctl(vmm, U, 'UFFDIO_UNREGISTER', { start: 0x14000n, len: 0x2000n });
  });
  const u = r.get(U)!;
  assert.deepEqual(
    u.ranges.map((x) => [x.start, x.end, x.mode]),
    [
      [0x10000n, 0x14000n, MISSING],
      [0x16000n, 0x20000n, MISSING],
      [0x40000n, 0x44000n, MISSING | WP],
    ],
  );
  assert.equal(u.armedBytes, 0x10000n - 0x2000n + 0x4000n);
  // re-registering part of a range replaces its mode
  build((b) => b.register(vmm, U, 0x10000n, 0x1000n, WP), r);
  assert.deepEqual(u.ranges[0], { start: 0x10000n, end: 0x11000n, mode: WP });
  assert.equal(u.armedBytes, 0x10000n - 0x2000n + 0x4000n);
});

test('mode sync/async from ctx features (WP_ASYNC), recorded as changes', () => {
  const wpAsync = bit('UFFD_FEATURE_WP_ASYNC');
  const r = build((b) => {
    b.create(vmm, U);
    b.api(vmm, U, BigInt(wpAsync));
    b.fault(vmm, U, 0x1000n, { ctxFeatures: wpAsync, armed: ['wp'] });
  });
  const u = r.get(U)!;
  assert.equal(u.mode, 'async');
  assert.equal(u.modeHistory[u.modeHistory.length - 1].mode, 'async');
});

test('UFFDIO_SET_MODE attempts: EINVAL results, errno names, latency', () => {
  const rwpAsync = BigInt(bit('UFFD_FEATURE_RWP_ASYNC'));
  const b = new StreamBuilder();
  const reg = new UffdRegistry(uapi);
  b.create(vmm, U);
  b.api(vmm, U, 0n);
  const h1 = b.ioctlEnter(vmm, U, 'UFFDIO_SET_MODE', { enable: rwpAsync, disable: 0n });
  const x1 = b.ioctlExit(h1, -22, undefined, 0, 7000);
  const h2 = b.ioctlEnter(vmm, U, 'UFFDIO_SET_MODE', { enable: rwpAsync, disable: rwpAsync });
  b.ioctlExit(h2, -22, undefined, 0, 5000);
  b.ioctlEnter(vmm, U, 'UFFDIO_SET_MODE', { enable: 0n, disable: rwpAsync }); // exit never seen
  for (const e of b.events) reg.push(e);
  const sw = reg.modeSwitches();
  assert.equal(sw.length, 3);
  assert.deepEqual(
    sw.map((a) => [a.enable, a.disable, a.ret, a.errno, a.latencyNs]),
    [
      [rwpAsync, 0n, -22, 'EINVAL', 7000],
      [rwpAsync, rwpAsync, -22, 'EINVAL', 5000],
      [0n, rwpAsync, undefined, null, undefined],
    ],
  );
  assert.equal(sw[0].ts, h1.enterTs);
  assert.equal(sw[0].exitTs, x1.ts);
  assert.equal(sw[0].pid, 1000);
  assert.equal(sw[0].modeBefore, 'sync');
  assert.equal(sw[0].modeAfter, 'sync');
  assert.equal(reg.get(U)!.mode, 'sync');
});

test('a successful switch to async, and the faults it woke', () => {
  const rwp = bit('UFFD_FEATURE_RWP');
  const rwpAsync = bit('UFFD_FEATURE_RWP_ASYNC');
  const b = new StreamBuilder();
  const reg = new UffdRegistry(uapi);
  b.create(vmm, U);
  const h = b.ioctlEnter(vmm, U, 'UFFDIO_SET_MODE', { enable: BigInt(rwpAsync), disable: 0n }, rwp);
  b.ioctlExit(h, 0, undefined, rwp | rwpAsync);
  for (const e of b.events) reg.push(e);
  const a = reg.modeSwitches()[0];
  assert.equal(a.ret, 0);
  assert.equal(a.errno, null);
  assert.equal(a.modeBefore, 'sync');
  assert.equal(a.modeAfter, 'async');
  assert.equal(reg.get(U)!.mode, 'async');
  const woken = { uffd: U, userfault: true, kind: 'rwp', end: 'mode_switch', faultTs: h.enterTs - 10, wakeIoctl: { name: 'UFFDIO_SET_MODE', uffd: U, pid: vmm.pid, tid: vmm.tid, comm: vmm.comm, enterTs: h.enterTs, exitTs: undefined, ret: undefined } } as unknown as FaultRecord;
  reg.noteRecord(woken);
  reg.noteRecord(woken);
  assert.equal(a.woken, 2);
  assert.equal(reg.get(U)!.faults, 2);
  assert.equal(reg.get(U)!.faultsByKind.rwp, 2);
});

test('RWP_ASYNC bit comes from the (overridable) uapi table', () => {
  const custom = resolveUapi(['UFFD_FEATURE_RWP_ASYNC=1<<22']);
  const reg = new UffdRegistry(custom);
  assert.equal(reg.modeOf(1 << 22), 'async');
  assert.equal(reg.modeOf(1 << 18), 'sync', 'the default guess no longer counts');
  assert.equal(new UffdRegistry(uapi).modeOf(1 << 18), 'async');
  assert.equal(reg.modeOf(bit('UFFD_FEATURE_WP_ASYNC')), 'async');
});

test('a reused context address starts a new uffd; records go to the right one', () => {
  const b = new StreamBuilder();
  const reg = new UffdRegistry(uapi);
  b.create(vmm, U);
  b.api(vmm, U, 0x100n);
  b.close(vmm, U);
  const oldFaultTs = b.tick();
  b.create(vmm, U);
  b.api(vmm, U, 0x1n);
  for (const e of b.events) reg.push(e);
  const all = reg.all();
  assert.equal(all.length, 2);
  assert.equal(all[0].features, 0x100n);
  assert.notEqual(all[0].closedTs, undefined);
  assert.equal(all[1].features, 0x1n);
  assert.equal(all[1].generation, 1);
  assert.equal(reg.get(U), all[1]);
  reg.noteRecord({ uffd: U, userfault: true, kind: 'missing', end: 'resolved', faultTs: oldFaultTs - 1000 } as unknown as FaultRecord);
  assert.equal(all[0].faults, 1);
  assert.equal(all[1].faults, 0);
  // identity: address + creation time, one key each
  assert.equal(all[0].key, `0xffff888012340000@${all[0].createdTs}`);
  assert.equal(all[1].key, `0xffff888012340000@${all[1].createdTs}`);
  assert.notEqual(all[0].key, all[1].key);
  assert.equal(reg.byKey(all[0].key), all[0]);
  assert.equal(reg.lifetimeAt(U, all[1].createdTs! - 1), all[0]);
  assert.equal(reg.lifetimeAt(U, all[1].createdTs!), all[1]);
  // the first uffd's SET_MODE attempts would name it, not the address's newest
  assert.equal(parseUffdKey(all[0].key)?.createdNs, all[0].createdTs);
});

test('a uffd seen before its creation was traced has the key "<address>@-"', () => {
  const reg = build((b) => b.api(vmm, U, 0x100n));
  assert.equal(reg.get(U)!.key, '0xffff888012340000@-');
  assert.deepEqual(parseUffdKey('0xffff888012340000@-'), { ctx: U, createdNs: null });
  assert.equal(parseUffdKey('0xffff888012340000'), null);
});

test('failed creations are listed, not tracked as uffds', () => {
  const reg = new UffdRegistry(uapi);
  reg.push({ type: 'uffd_create', ts: 1, cpu: 0, pid: 5, tid: 5, comm: 'x', uffd: 0n, ret: -1, flags: 0, source: 'syscall' });
  assert.equal(reg.size, 0);
  assert.equal(reg.failedCreates[0].errno, 'EPERM');
});
