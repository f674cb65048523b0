// TopModel overview rows on a GENERATED event stream (test/unit/streamBuilder.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TopModel } from '../../src/view/topModel.js';
import { StreamBuilder, thread, uapi } from './streamBuilder.js';

const U = 0xffff888012340000n;
const V = 0xffff888012340100n;
const vmm = thread(1000, 1000, 'qemu');
const hnd = thread(1000, 1001, 'uffd-hnd');

test('a context address reused by several uffd lifetimes is one row, with the faults of all of them', () => {
  const b = new StreamBuilder();
  // first lifetime at U: 3 faults, then closed
  b.create(vmm, U);
  b.api(vmm, U, 0n);
  b.register(vmm, U, 0x10000n, 0x10000n, 1n);
  for (let i = 0; i < 3; i++) b.missingFault(vmm, hnd, U, 0x10000n + BigInt(i) * 4096n);
  b.close(vmm, U);
  // second lifetime at the same address: 2 faults; another uffd V: 1 fault
  b.create(vmm, U);
  b.api(vmm, U, 0n);
  b.register(vmm, U, 0x20000n, 0x10000n, 1n);
  for (let i = 0; i < 2; i++) b.missingFault(vmm, hnd, U, 0x20000n + BigInt(i) * 4096n);
  b.create(vmm, V);
  b.api(vmm, V, 0n);
  b.register(vmm, V, 0x40000n, 0x10000n, 1n);
  b.missingFault(vmm, hnd, V, 0x40000n);
  const end = b.tick(100e6); // past the settle window: every fault is recorded

  const m = new TopModel(uapi, { kernel: 'test', backend: 'generated', source: 'recording', selection: 'generated stream', generated: true, demo: false });
  for (const e of b.events) m.push(e);
  m.advance(end);
  assert.equal(m.analysis.registry.all().length, 3, 'the registry keeps both lifetimes of U');
  const snap = m.snapshot({ nowTs: end, lost: 0, uptimeS: 1 });
  const ids = snap.uffds.map((r) => r.id).sort();
  assert.deepEqual(ids, ['0xffff888012340000', '0xffff888012340100'], 'one row per address');
  const u = snap.uffds.find((r) => r.id === '0xffff888012340000')!;
  assert.equal(u.faultsTotal, 5, 'faults of both lifetimes');
  assert.equal(snap.uffds.find((r) => r.id === '0xffff888012340100')!.faultsTotal, 1);
});
