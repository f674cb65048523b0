// Live, reliability: uffd life-cycle churn under `record`, then `report`.
// test/fixtures/reliability/churn.c (compiled here with cc) forks children
// that fault on their uffds and exit, some killed by SIGKILL in the middle of
// a fault; closes uffds with faults pending; passes a uffd over a unix socket
// to a process that is NOT a descendant (started by this test); creates and
// closes 3000 short-lived uffds; forks 1000 short children; reuses pids
// (ns_last_pid), also for an untraced process; exec()s itself at the end.
// Checked: record exits 0, nothing lost, every uffd created is in the
// recording and accounted for in the report, every fault ended (none open,
// expired or evicted; the killed ones and the closed-on ones as such), the
// receiver's reads and copies traced, nothing of the untraced process
// recorded, memory of the recorder bounded, nothing left attached.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { requireLive, tmp } from './support.js';
import { cli, idsLeft, memoryOf, runCli, waitFor, type BpfIds, bpfIdsOf } from '../fixtures/reliability/harness.js';
import { forEachRecordedEvent } from '../../src/source/recordingSource.js';
import { projectRoot } from '../../src/paths.js';
import type { Summary } from '../../src/stats/summary.js';

const MEMORY_LIMIT = 300 << 20;

interface Truth {
  pid: number;
  children: number;
  killed_mid_fault: number;
  killed_confirmed_blocked: number;
  closed_with_waiters: number;
  receiver_served: number;
  short_lived: number;
  forks: number;
  fork_uffd_children: number;
  traced_pid_reuses: number;
  untraced_pid_reuses: number;
  uffds_created: number;
  dev_userfaultfd: number;
  after_exec: { inherited_register_ret: number; inherited_errno: number; faults_served: number };
}

function compile(): string {
  const src = join(projectRoot, 'test', 'fixtures', 'reliability', 'churn.c');
  const bin = tmp('churn');
  const r = spawnSync('cc', ['-O2', '-Wall', '-pthread', '-o', bin, src], { encoding: 'utf8' });
  assert.equal(r.status, 0, `cc churn.c failed: ${r.stderr}`);
  return bin;
}

test('churn: children killed mid-fault, close with faults pending, uffd passed to another process, 3000 short-lived uffds, pid reuse, exec', { timeout: 240_000 }, async (t) => {
  if (!requireLive(t)) return;
  const bin = compile();
  const dir = dirname(bin);
  const sock = join(dir, 's.sock');
  const truthPath = join(dir, 'truth.json');
  const recvPath = join(dir, 'receiver.json');
  const file = join(dir, 'churn.uscope');

  // the receiver: not a descendant of what is traced
  const recv = spawn(bin, ['serve', sock, recvPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let recvErr = '';
  recv.stderr.on('data', (d) => (recvErr += d));
  const recvExit = new Promise<number | null>((resolve) => recv.on('exit', (c) => resolve(c)));
  const ready = await new Promise<boolean>((resolve) => {
    recv.stdout.on('data', (d) => /ready/.test(String(d)) && resolve(true));
    setTimeout(() => resolve(false), 10_000).unref();
  });
  assert.ok(ready, `receiver did not start: ${recvErr}`);

  const rec = spawn(process.execPath, [cli, 'record', '-o', file, '--', bin, 'run', '--json', truthPath, '--sock', sock], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  rec.stderr.on('data', (d) => (stderr += d));
  const recExit = new Promise<number | null>((resolve) => rec.on('exit', (c) => resolve(c)));
  let peak = 0;
  let ids: BpfIds = { progs: [], maps: [] };
  let done = false;
  void recExit.then(() => (done = true));
  while (!done) {
    const m = memoryOf(rec.pid!);
    if (m) peak = Math.max(peak, m.hwm, m.rss);
    if (ids.progs.length === 0) ids = bpfIdsOf(rec.pid!);
    await sleep(200);
  }
  const code = await recExit;
  const rcode = await Promise.race([recvExit, sleep(10_000, undefined, { ref: false }).then(() => 'timeout' as const)]);
  if (rcode === 'timeout') recv.kill('SIGKILL');
  assert.equal(code, 0, `record failed: ${stderr}`);
  assert.equal(rcode, 0, `receiver failed: ${recvErr}`);
  assert.match(stderr, /lost 0\b/, stderr);

  const truth = JSON.parse(readFileSync(truthPath, 'utf8')) as Truth;
  const receiver = JSON.parse(readFileSync(recvPath, 'utf8')) as { pid: number; msgs: number; copies: number; forked: number; forked_with_pid: number };
  t.diagnostic(`fixture: ${JSON.stringify(truth)}`);
  t.diagnostic(`receiver: ${JSON.stringify(receiver)}`);
  t.diagnostic(`record peak memory ${(peak / 2 ** 20).toFixed(1)} MiB`);
  assert.equal(truth.killed_mid_fault, Math.floor(truth.children / 4));
  assert.equal(truth.killed_confirmed_blocked, truth.killed_mid_fault, 'each killed child was blocked in handle_userfault()');
  assert.equal(truth.receiver_served, 16);
  assert.ok(truth.traced_pid_reuses > 0, 'pid reuse by a traced process happened');

  // the recording
  const seen = {
    creates: 0,
    closes: 0,
    receiverMsgs: 0,
    receiverIoctls: 0,
    untraced: [] as string[],
    exec: 0,
    exits: 0,
    forks: 0,
    types: {} as Record<string, number>,
  };
  const traced = new Set<number>([truth.pid]);
  const read = forEachRecordedEvent(file, null, (e) => {
    seen.types[e.type] = (seen.types[e.type] ?? 0) + 1;
    if (e.type === 'proc' && e.kind === 'fork') traced.add(e.otherPid);
    if (e.comm === 'untraced-reuse' && seen.untraced.length < 5) seen.untraced.push(`${e.type} pid ${e.pid}`);
    if (e.pid === receiver.pid) {
      if (e.type === 'msg') seen.receiverMsgs++;
      else if (e.type === 'ioctl_exit') seen.receiverIoctls++;
      return;
    }
    switch (e.type) {
      case 'uffd_create':
        if (e.ret >= 0) seen.creates++;
        break;
      case 'uffd_close':
        seen.closes++;
        break;
      case 'proc':
        if (e.kind === 'exec') seen.exec++;
        if (e.kind === 'exit') seen.exits++;
        if (e.kind === 'fork') seen.forks++;
        break;
    }
  });
  t.diagnostic(`recorded: ${JSON.stringify(seen.types)}`);
  assert.ok(read.status.complete, 'the recording has its trailer');
  assert.equal(Number((read.counters as { lostTotal?: number }).lostTotal), 0, 'no record lost');
  assert.equal(seen.creates, truth.uffds_created, 'every uffd created is in the recording');
  assert.ok(seen.closes >= truth.short_lived, 'closes of the short-lived uffds');
  assert.equal(seen.receiverMsgs, receiver.msgs, "the receiver's reads of the passed uffd are traced");
  assert.equal(seen.receiverIoctls, receiver.copies, "the receiver's UFFDIO_COPYs are traced");
  assert.ok(seen.exec >= 1, 'the exec is recorded');
  assert.ok(seen.forks >= truth.forks + truth.children, `forks recorded (${seen.forks})`);

  // the report
  const rep = await runCli(['report', '--json', file], { timeoutMs: 60_000 });
  assert.equal(rep.code, 0, rep.stderr);
  const s = JSON.parse(rep.stdout) as Summary;
  const ended = s.faults.ended;
  t.diagnostic(`faults: ${JSON.stringify({ total: s.faults.total, entries: s.faults.entries, ended })}`);
  assert.equal(s.events.lost, 0);
  assert.equal(s.model.open_faults, 0, 'no fault open after the end');
  assert.equal(ended.open_at_end, 0, 'no fault still open when the trace ended');
  assert.equal(ended.expired, 0, 'no fault expired');
  assert.equal(ended.evicted, 0, 'no fault evicted');
  // Records from two CPUs can arrive slightly out of order; with 40 children
  // SIGKILLed mid-fault the model has judged one fault "incomplete" in one
  // CI rehearsal of several (lost = 0). More than one is a model bug.
  assert.ok(ended.incomplete <= 1, `at most one fault incomplete (${ended.incomplete})`);
  assert.equal(s.faults.recovered, 0, 'no fault rebuilt from partial events');
  assert.ok(ended.closed >= truth.closed_with_waiters, `faults woken by the release of their uffd end as closed (${ended.closed} of ${truth.closed_with_waiters})`);
  // a SIGKILL wakes the blocked thread (the killer is the waker): signal_or_spurious, or exit
  assert.ok(ended.signal_or_spurious + ended.exit >= truth.killed_mid_fault, `faults of killed processes end (${ended.signal_or_spurious} + ${ended.exit} of ${truth.killed_mid_fault})`);
  const sum = Object.values(ended).reduce((a, b) => a + b, 0);
  assert.equal(sum, s.faults.entries, 'every fault record has an end');
  // 8 pages per child (5 for the killed ones), 2 per close round, 16 passed, storm/reuse children, 8 after exec
  const expected =
    (truth.children - truth.killed_mid_fault) * 8 +
    truth.killed_mid_fault * 5 +
    truth.closed_with_waiters +
    truth.receiver_served +
    Math.ceil(1000 / 50) * 1 +
    (truth.fork_uffd_children - Math.ceil(1000 / 50)) * 2 +
    8;
  assert.equal(s.faults.total, expected, 'every userfault of the traced tree, none of the untraced one');
  assert.equal(
    s.uffds.length + s.model.uffds_dropped,
    truth.uffds_created,
    `every uffd created is in the report or counted as dropped (listed ${s.uffds.length}, dropped ${s.model.uffds_dropped})`,
  );
  assert.ok(peak > 0 && peak < MEMORY_LIMIT, `record peak memory ${(peak / 2 ** 20).toFixed(1)} MiB (limit ${MEMORY_LIMIT >> 20} MiB)`);
  assert.ok(ids.progs.length > 0, 'record held BPF programs');
  assert.deepEqual(await idsLeft(ids), { progs: [], maps: [] }, 'its programs and maps are gone from the kernel');
  assert.ok(await waitFor(() => spawnSync('pgrep', ['-f', bin]).status !== 0, 5000), 'no churn process left running');

  // Selection: an untraced process that got a traced child's pid (and, the
  // kernel's slab allocator permitting, its uffd context and mm addresses)
  // must not be recorded (bpf/uffdscope.bpf.c forget_uffd(): a context created
  // by an unselected process stops counting as ours).
  assert.deepEqual(seen.untraced, [], `events of the untraced process were recorded (untraced pid reuses: ${truth.untraced_pid_reuses}): ${seen.untraced.join(', ')}`);
});
