// TopModel rows when the kernel counts (top's default): a uffd the stream saw
// created and closed leaves the view after its dimmed while, and does not come
// back as an open row from the kernel's map (which keeps every uffd counted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TopModel } from '../../src/view/topModel.js';
import { KernelStatsTracker } from '../../src/stats/kernelStatsTracker.js';
import { L } from '../../src/events/layout.generated.js';
import { StreamBuilder, thread, uapi } from './streamBuilder.js';

const U = 0xffff888012340000n;
const W = 0xffff888012349900n;
const vmm = thread(1000, 1000, 'qemu');

function statsValue(tgid: number, userfaults: number): Buffer {
  const v = Buffer.alloc(L.uscope_uffd_stats.size);
  v.writeUInt32LE(tgid, L.uscope_uffd_stats.fields.tgid.offset);
  v.writeBigUInt64LE(BigInt(userfaults), L.uscope_uffd_stats.fields.userfaults.offset);
  return v;
}

test('in-kernel top: a closed uffd is dimmed, then leaves, and stays out; a uffd made before tracing still shows', () => {
  const b = new StreamBuilder();
  b.create(vmm, U);
  const created = b.events[b.events.length - 1].ts;
  b.close(vmm, U);
  const closedTs = b.tick();
  const m = new TopModel(uapi, { kernel: 'test', backend: 'tracepoint', source: 'live', selection: 'test', generated: false, demo: false });
  const kernel = new KernelStatsTracker();
  m.attachKernel(kernel);
  for (const e of b.events) m.push(e);
  const entries = [
    { uffd: U, createdNs: BigInt(created), value: statsValue(1000, 3) },
    { uffd: W, createdNs: 0n, value: statsValue(1000, 2) }, // made before tracing began
  ];
  const rowsAt = (now: number) => {
    kernel.update(entries, now);
    m.advance(now);
    return m.snapshot({ nowTs: now, lost: 0, uptimeS: 1 }).uffds.map((r) => [r.id, r.closed, r.faultsTotal]);
  };
  assert.deepEqual(rowsAt(closedTs + 1e9), [
    ['0xffff888012349900', false, 2],
    ['0xffff888012340000', true, 3],
  ]);
  assert.deepEqual(rowsAt(closedTs + 60e9), [['0xffff888012349900', false, 2]]);
});
