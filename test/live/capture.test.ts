// Live: record the bundled workload with the real BPF programs and check
// that every fault, every uffd ioctl, every message and every uffd creation
// the workload counted itself is in the recording, with nothing lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireLive, tmp, uffdscope, workloadBinary, readTruth, type WorkloadTruth } from './support.js';
import { forEachRecordedEvent } from '../../src/source/recordingSource.js';
import type { UffdEvent } from '../../src/events/types.js';

interface Seen {
  faults: number;
  /** faults on present pages (x86 error code bit 0): write-protect faults */
  protFaults: number;
  faultsByArmed: Record<string, number>;
  blocks: number;
  /** blocks by how the wait was recognised (waitqueue, stack, heuristic) */
  blockHow: Record<string, number>;
  wakes: number;
  resumes: number;
  msgs: Record<string, number>;
  ioctls: Record<string, { count: number; errors: number }>;
  ioctlEnters: number;
  creates: number;
  createSources: string[];
  pids: Set<number>;
  lost: number;
  /** sched_switch stack walks that failed (a wait that could not be judged) */
  stackFailed: number;
  complete: boolean;
}

function tally(path: string, pids: Set<number>): Seen {
  const s: Seen = {
    faults: 0,
    protFaults: 0,
    faultsByArmed: {},
    blocks: 0,
    blockHow: {},
    wakes: 0,
    resumes: 0,
    msgs: {},
    ioctls: {},
    ioctlEnters: 0,
    creates: 0,
    createSources: [],
    pids: new Set(),
    lost: -1,
    stackFailed: -1,
    complete: false,
  };
  const read = forEachRecordedEvent(path, null, (e: UffdEvent) => {
    s.pids.add(e.pid);
    switch (e.type) {
      case 'fault':
        if (!pids.has(e.pid)) return;
        s.faults++;
        if (e.errorCode & 1) s.protFaults++;
        for (const a of e.armed) s.faultsByArmed[a] = (s.faultsByArmed[a] ?? 0) + 1;
        break;
      case 'block':
        s.blocks++;
        s.blockHow[e.how] = (s.blockHow[e.how] ?? 0) + 1;
        break;
      case 'wake':
        s.wakes++;
        break;
      case 'resume':
        s.resumes++;
        break;
      case 'msg': {
        const k = e.pagefault ? e.pagefault.kind : e.eventName;
        s.msgs[k] = (s.msgs[k] ?? 0) + 1;
        break;
      }
      case 'ioctl_enter':
        s.ioctlEnters++;
        break;
      case 'ioctl_exit': {
        const c = (s.ioctls[e.name] ??= { count: 0, errors: 0 });
        c.count++;
        if (e.ret < 0) c.errors++;
        break;
      }
      case 'uffd_create':
        if (e.ret >= 0) {
          s.creates++;
          s.createSources.push(e.source);
        }
        break;
    }
  });
  const counters = read.counters as { lostTotal?: number; stackFailed?: number } | null;
  s.lost = Number(counters?.lostTotal ?? -1);
  s.stackFailed = Number(counters?.stackFailed ?? -1);
  s.complete = read.status.complete;
  return s;
}

async function recordWorkload(args: string[]): Promise<{ truth: WorkloadTruth; seen: Seen; stderr: string }> {
  const rec = tmp('w.uscope');
  const truthPath = tmp('truth.json');
  const r = await uffdscope(['record', '-o', rec, '--', workloadBinary, ...args, '--quiet', '--json', truthPath], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, `record failed: ${r.stderr}`);
  const truth = readTruth(truthPath);
  const pids = new Set([truth.pid, ...truth.handler_pids]);
  return { truth, seen: tally(rec, pids), stderr: r.stderr };
}

function assertIoctlsMatch(truth: WorkloadTruth, seen: Seen): void {
  for (const [name, c] of Object.entries(truth.ioctls)) {
    if (name === 'USERFAULTFD_IOC_NEW') continue; // on /dev/userfaultfd: seen as uffd_create
    const got = seen.ioctls[name] ?? { count: 0, errors: 0 };
    assert.deepEqual(got, c, `${name}: tool saw ${JSON.stringify(got)}, workload issued ${JSON.stringify(c)}`);
  }
  for (const name of Object.keys(seen.ioctls)) assert.ok(name in truth.ioctls, `tool saw ${name}, which the workload never issued`);
}

test('postcopy (handler thread): faults, waits, messages, ioctls match the workload', async (t) => {
  if (!requireLive(t)) return;
  const { truth, seen } = await recordWorkload(['--scenario', 'postcopy', '--pages', '256', '--threads', '2', '--handler-delay-us', '50']);
  assert.equal(seen.lost, 0, 'no record lost');
  assert.ok(seen.complete, 'recording has its trailer');
  assert.equal(truth.faults.missing, 256);
  assert.equal(seen.faults, truth.faults.total, 'every fault the workload made');
  assert.equal(seen.faultsByArmed.missing, truth.faults.missing);
  assert.equal(seen.msgs.missing ?? 0, truth.messages.pagefault.missing, 'every pagefault message the handler read');
  assertIoctlsMatch(truth, seen);
  assert.equal(seen.creates, truth.uffds_created);
  // With a 50 us handler delay every fault waits, except in one race: the
  // faulting thread is preempted between queueing its message and calling
  // schedule() (the handler it just woke may take its CPU), the handler
  // resolves the page meanwhile, and the thread then finds itself runnable
  // and never sleeps. No sleep happened, so none may be reported. CI saw it
  // once in a run (255 of 256). Every stack walk must have worked, so a
  // shortfall is that race and not a wait we failed to judge.
  assert.equal(seen.stackFailed, 0, 'every sched_switch stack walk worked');
  assert.ok(seen.blocks <= truth.faults.missing, `at most one wait per fault (${seen.blocks} waits, ${truth.faults.missing} faults)`);
  assert.ok(seen.blocks >= truth.faults.missing - 2, `each missing fault blocked once, bar a preemption race (${seen.blocks} waits, ${truth.faults.missing} faults)`);
  assert.equal(seen.wakes, seen.blocks);
  assert.equal(seen.resumes, seen.blocks);
  // Waits are recognised exactly: on the uffd's wait queue (the cheap check)
  // for nearly all, the kernel stack for the rest; never by guesswork.
  assert.equal(seen.blockHow.heuristic ?? 0, 0, `no wait guessed: ${JSON.stringify(seen.blockHow)}`);
  assert.ok((seen.blockHow.waitqueue ?? 0) >= 0.9 * seen.blocks, `the wait-queue check found most waits: ${JSON.stringify(seen.blockHow)}`);
  assert.equal(seen.ioctlEnters, Object.values(seen.ioctls).reduce((a, c) => a + c.count, 0), 'enter for every exit');
});

test('postcopy with a separate handler process (uffd passed over a unix socket)', async (t) => {
  if (!requireLive(t)) return;
  const { truth, seen } = await recordWorkload(['--scenario', 'postcopy', '--pages', '128', '--handler-process']);
  assert.equal(truth.handler_pids.length, 1);
  assert.ok(seen.pids.has(truth.handler_pids[0]), 'handler process traced');
  assert.equal(seen.lost, 0);
  assert.equal(seen.faults, truth.faults.total);
  assert.equal(seen.msgs.missing ?? 0, truth.messages.pagefault.missing);
  assertIoctlsMatch(truth, seen);
});

test('wp-snapshot, minor-shmem, wp-async: faults by armed mode and resolving ioctls', async (t) => {
  if (!requireLive(t)) return;
  for (const scenario of ['wp-snapshot', 'minor-shmem', 'wp-async']) {
    const { truth, seen } = await recordWorkload(['--scenario', scenario, '--pages', '128']);
    assert.equal(seen.lost, 0, scenario);
    if (scenario === 'minor-shmem') {
      assert.equal(seen.faults, truth.faults.total, `${scenario}: faults`);
    } else {
      // wp-async registers before populating: those first-touch faults are
      // in the armed VMA too (not-present, so not write-protect faults).
      assert.equal(seen.protFaults, truth.faults.wp + truth.faults.wp_async, `${scenario}: write-protect faults`);
      assert.ok(seen.faults >= truth.faults.total, `${scenario}: all faults seen`);
    }
    assert.equal(seen.msgs.wp ?? 0, truth.messages.pagefault.wp, `${scenario}: wp messages`);
    assert.equal(seen.msgs.minor ?? 0, truth.messages.pagefault.minor, `${scenario}: minor messages`);
    assertIoctlsMatch(truth, seen);
    if (scenario === 'minor-shmem') assert.equal(seen.faultsByArmed.minor, truth.faults.minor, 'VM_UFFD_MINOR decoded');
    if (scenario !== 'minor-shmem') assert.equal(seen.faultsByArmed.wp, seen.faults, `${scenario}: VM_UFFD_WP decoded`);
    if (scenario === 'wp-async') assert.equal(seen.blocks, 0, 'async WP faults never wait');
  }
});

test('set-mode: every UFFDIO_SET_MODE and RWPROTECT attempt is captured with its result', async (t) => {
  if (!requireLive(t)) return;
  const { truth, seen } = await recordWorkload(['--scenario', 'set-mode']);
  assert.equal(seen.lost, 0);
  assert.ok(truth.mode_switches.length >= 4);
  assertIoctlsMatch(truth, seen);
  assert.equal(seen.ioctls.UFFDIO_SET_MODE?.count, truth.mode_switches.length);
});

test('/dev/userfaultfd creation is captured as a uffd creation', async (t) => {
  if (!requireLive(t)) return;
  const { truth, seen } = await recordWorkload(['--scenario', 'postcopy', '--pages', '32', '--uffd-source', 'dev']);
  assert.equal(seen.creates, truth.uffds_created);
  assert.ok(seen.createSources.every((s) => s === 'dev'));
  assert.equal(seen.faults, truth.faults.total);
  assertIoctlsMatch(truth, seen);
});
