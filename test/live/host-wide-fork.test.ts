// Live: host-wide `stat` and uffds that no syscall created. With
// UFFD_FEATURE_EVENT_FORK, fork() arms the child's copy of a registered range
// with a new uffd the kernel makes (dup_userfaultfd); the parent's handler
// gets its fd from a UFFD_EVENT_FORK message and serves the child's faults
// through it (CRIU lazy pages). The child makes no uffd syscall and holds no
// uffd, so host-wide its mm joins the set of mms whose faults are looked at
// (bpf/tp_maps.bpf.h: uscope_uffd_mms) only through the fork hook, or, for a
// child forked before tracing began, through the seeding iterator, which
// finds the new uffd's mm from the parent's fd. Either way every one of the
// child's faults is counted, on a row of its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireLive, readTruth, type WorkloadTruth } from './support.js';
import { beforeAndDuring } from './hostWideStat.js';
import { findUffdHolders } from '../../src/capture/uffdUsers.js';

type ForkTruth = WorkloadTruth & { child_pids: number[]; uffds_forked: number };

test('host-wide stat: a child whose uffd the kernel made at fork, forked before tracing began and while tracing, every fault counted', async (t) => {
  if (!requireLive(t)) return;
  // before: forks now (its handler then holds two uffds: its own and the
  // child's), and the child touches its pages 6 s later; during: the
  // parent's uffd, the fork and the child's uffd all come while stat traces
  const ready = { what: 'the first workload to fork', ok: (pid: number) => findUffdHolders().filter((h) => h.pid === pid).length === 2 };
  const { summary: s, truthBefore, truthDuring } = await beforeAndDuring('fork', ready);
  assert.equal(s.lost, 0);
  for (const [name, path] of [['before', truthBefore], ['during', truthDuring]] as const) {
    const truth = readTruth(path) as ForkTruth;
    assert.equal(truth.uffds_forked, 1, `${name}: the workload read one UFFD_EVENT_FORK`);
    assert.equal(truth.child_pids.length, 1, `${name}: one child`);
    const child = truth.child_pids[0];
    const ours = s.uffds.filter((u) => u.pid === truth.pid || u.pid === child);
    const seen = ours.map((u) => `${u.uffd} pid ${u.pid} entries ${u.fault_entries.total} msgs ${u.msgs}`).join('; ') || 'none';
    const rows = ours.filter((u) => u.pid === child);
    assert.equal(rows.length, 1, `${name}: one row for the uffd the kernel made for child ${child} (parent ${truth.pid}; rows: ${seen})`);
    const u = rows[0];
    assert.equal(u.fault_entries.total, truth.faults.total, `${name}: the child's fault entries`);
    assert.equal(u.userfaults.missing, truth.faults.missing, `${name}: the child's missing userfaults`);
    assert.equal(u.msgs, truth.messages.pagefault.missing, `${name}: the child's messages read`);
    assert.equal(u.handler_pid, truth.pid, `${name}: the parent reads the child's messages`);
    const parentRows = ours.filter((u) => u.pid === truth.pid);
    assert.ok(parentRows.every((p) => p.uffd !== u.uffd && p.fault_entries.total === 0), `${name}: the parent's own uffd faults nowhere (rows: ${seen})`);
  }
});
