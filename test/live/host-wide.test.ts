// Live: host-wide `stat` (no command, no --pid), counting in the kernel.
// Host-wide, a page fault is looked at only in an mm that owns a uffd
// (bpf/tp_maps.bpf.h: uscope_uffd_mms), so the rest of the host gets no
// per-thread state. That set must hold every such mm: one whose uffd was
// registered before tracing began (found by the seeding iterator at
// attach) and one whose uffd is created while tracing (the creation hook).
// Either way every fault is counted, exactly as the workload counted it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { requireLive, tmp, readTruth } from './support.js';
import { exited, startHostWideStat, until, workload } from './hostWideStat.js';
import type { KernelSummary } from '../../src/cli/stat.js';
import { findUffdHolders } from '../../src/capture/uffdUsers.js';

test('host-wide stat: a uffd registered before tracing began and one created while tracing, every fault counted', async (t) => {
  if (!requireLive(t)) return;
  const truthBefore = tmp('before.json');
  const truthDuring = tmp('during.json');
  const out = tmp('host-wide.json');

  // before: creates and registers its uffd now, touches its pages 6 s later
  const t0 = Date.now();
  const before = workload('postcopy', truthBefore, ['--fault-delay-ms', '6000']);
  const beforeExit = exited(before);
  await until('the first workload to hold its uffd', () => findUffdHolders().some((h) => h.pid === before.pid), 10_000);

  const stat = await startHostWideStat(14, out);
  assert.ok(Date.now() - t0 < 6000, 'tracing began before the first workload touched its pages');

  // during: its uffd is created while stat traces
  const during = workload('postcopy', truthDuring, []);
  assert.equal(await exited(during), 0, 'second workload');
  assert.equal(await beforeExit, 0, 'first workload');
  assert.equal(await stat.exit, 0, `stat: ${stat.stderr()}`);

  const s = JSON.parse(readFileSync(out, 'utf8')) as KernelSummary;
  assert.equal(s.lost, 0);
  for (const [name, path, existedBefore] of [['before', truthBefore, true], ['during', truthDuring, false]] as const) {
    const truth = readTruth(path);
    const rows = s.uffds.filter((u) => u.pid === truth.pid);
    assert.equal(rows.length, 1, `${name}: one row for its uffd`);
    const u = rows[0];
    assert.equal(u.created_ns === null, existedBefore, `${name}: created before tracing began: ${existedBefore}`);
    assert.equal(u.fault_entries.total, truth.faults.total, `${name}: fault entries`);
    assert.equal(u.userfaults.missing, truth.faults.missing, `${name}: missing userfaults`);
    assert.equal(u.msgs, truth.messages.pagefault.missing, `${name}: messages read`);
  }
});
