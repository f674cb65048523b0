// Live: host-wide `stat` (no command, no --pid), counting in the kernel.
// Host-wide, a page fault is looked at only in an mm that owns a uffd
// (bpf/tp_maps.bpf.h: uscope_uffd_mms), so the rest of the host gets no
// per-thread state. That set must hold every such mm: one whose uffd was
// registered before tracing began (found by the seeding iterator at
// attach) and one whose uffd is created while tracing (the creation hook).
// Either way every fault is counted, exactly as the workload counted it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireLive, readTruth } from './support.js';
import { beforeAndDuring } from './hostWideStat.js';
import { findUffdHolders } from '../../src/capture/uffdUsers.js';

test('host-wide stat: a uffd registered before tracing began and one created while tracing, every fault counted', async (t) => {
  if (!requireLive(t)) return;
  // before: creates and registers its uffd now, touches its pages 6 s later;
  // during: its uffd is created while stat traces
  const ready = { what: 'the first workload to hold its uffd', ok: (pid: number) => findUffdHolders().some((h) => h.pid === pid) };
  const { summary: s, truthBefore, truthDuring } = await beforeAndDuring('postcopy', ready);
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
