// TopModel overview rows on a GENERATED event stream (test/unit/streamBuilder.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TopModel } from '../../src/view/topModel.js';
import { StreamBuilder, thread, uapi } from './streamBuilder.js';

const U = 0xffff888012340000n;
const V = 0xffff888012340100n;
const vmm = thread(1000, 1000, 'qemu');
const hnd = thread(1000, 1001, 'uffd-hnd');

test('a context address reused by several uffds: one row and one lane per uffd, each with its own faults', () => {
  const b = new StreamBuilder();
  // first uffd at U: 3 faults, then closed
  b.create(vmm, U);
  const created1 = b.events[b.events.length - 1].ts;
  b.api(vmm, U, 0n);
  b.register(vmm, U, 0x10000n, 0x10000n, 1n);
  for (let i = 0; i < 3; i++) b.missingFault(vmm, hnd, U, 0x10000n + BigInt(i) * 4096n);
  b.close(vmm, U);
  // a second uffd at the same address: 2 faults; another uffd V: 1 fault
  b.create(vmm, U);
  const created2 = b.events[b.events.length - 1].ts;
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
  const snap = m.snapshot({ nowTs: end, lost: 0, uptimeS: 1 });
  const start = b.events[0].ts;
  const rows = snap.uffds.map((r) => [r.key, r.faultsTotal, r.closed, r.createdS]);
  const key = (id: bigint, ts: number) => `0x${id.toString(16)}@${ts}`;
  const createdV = b.events.find((e) => e.type === 'uffd_create' && e.uffd === V)!.ts;
  assert.deepEqual(
    rows.sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    [
      [key(U, created1), 3, true, (created1 - start) / 1e9],
      [key(U, created2), 2, false, (created2 - start) / 1e9],
      [key(V, createdV), 1, false, (createdV - start) / 1e9],
    ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
  );
  // every row's latency is its own: 3, 2 and 1 faults in the histograms
  for (const r of snap.uffds) {
    m.selectedUffd = r.key;
    const l = m.snapshot({ nowTs: end, lost: 0, uptimeS: 1 }).latency;
    assert.equal(l.selected, r.key);
    assert.equal(l.total.count, r.faultsTotal, `latency of ${r.key}`);
  }
  // a plain address selects its newest uffd
  m.selectedUffd = '0x' + U.toString(16);
  assert.equal(m.snapshot({ nowTs: end, lost: 0, uptimeS: 1 }).latency.selected, key(U, created2));
  // lanes: one per uffd, with its own key
  assert.deepEqual(snap.timeline.lanes.map((l) => l.key).sort(), snap.uffds.map((r) => r.key).sort());
});
