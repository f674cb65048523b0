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
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cli, requireLive, tmp, workloadBinary, readTruth, type WorkloadTruth } from './support.js';
import type { KernelSummary } from '../../src/cli/stat.js';
import { findUffdHolders } from '../../src/capture/uffdUsers.js';

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const exited = (p: ChildProcess) => new Promise<number | null>((res) => p.on('exit', (code) => res(code)));

type ForkTruth = WorkloadTruth & { child_pids: number[]; uffds_forked: number };

test('host-wide stat: a child whose uffd the kernel made at fork, forked before tracing began and while tracing, every fault counted', async (t) => {
  if (!requireLive(t)) return;
  const truthBefore = tmp('fork-before.json');
  const truthDuring = tmp('fork-during.json');
  const out = tmp('host-wide-fork.json');
  const workload = (truth: string, extra: string[]) =>
    spawn(workloadBinary, ['--scenario', 'fork', '--pages', '256', '--threads', '2', ...extra, '--quiet', '--json', truth], { stdio: 'ignore' });

  // before: forks now (its handler then holds two uffds: its own and the
  // child's), and the child touches its pages 6 s later
  const t0 = Date.now();
  const before = workload(truthBefore, ['--fault-delay-ms', '6000']);
  const beforeExit = exited(before);
  await until('the first workload to fork', () => findUffdHolders().filter((h) => h.pid === before.pid).length === 2, 10_000);

  const stat = spawn(process.execPath, [cli, 'stat', '--duration', '10', '--json-out', out], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  stat.stderr!.on('data', (d) => (stderr += d));
  const statExit = exited(stat);
  await until('stat to say it is tracing', () => /tracing/.test(stderr), 20_000);
  assert.ok(Date.now() - t0 < 6000, 'tracing began before the first child touched its pages');

  // during: the parent's uffd, the fork and the child's uffd all come while stat traces
  const during = workload(truthDuring, []);
  assert.equal(await exited(during), 0, 'second workload');
  assert.equal(await beforeExit, 0, 'first workload');
  assert.equal(await statExit, 0, `stat: ${stderr}`);

  const s = JSON.parse(readFileSync(out, 'utf8')) as KernelSummary;
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
