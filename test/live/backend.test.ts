// Live: the capture backends on the kernel at hand. Each precise backend
// (fentry, kprobe) is really tried: where the kernel refuses it, the test
// records where and how (step, errno) and checks that against what the
// kernel independently says it supports; where it loads, the backend must
// capture the bundled workload with the same counts as the tracepoint
// backend, plus matched handle_userfault() entry/exit records. `auto` must
// end on the first backend that works and report every attempt. Both hook
// flavours (btf raw tracepoints and classic tracepoints) must capture the
// workload with the same counts.
//
// What the kernel supports is read independently of uffdscope:
//  - BPF tracing programs (fentry/fexit): bpftool's feature probe
//    (program_types.have_tracing_prog_type);
//  - kprobes: a kprobe PMU (/sys/bus/event_source/devices/kprobe) or a
//    kprobe_events file in tracefs (libbpf's legacy path).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { requireLive, tmp, workloadBinary, readTruth, uffdscope, type WorkloadTruth } from './support.js';
import {
  LiveCapture,
  CaptureError,
  probeBackend,
  BACKEND_ORDER,
  DEFAULT_RING_BYTES,
  type BackendAttempt,
  type BackendChoice,
  type BackendName,
  type HookFlavour,
  type CaptureInfo,
  type CaptureOptions,
  type LostCounts,
} from '../../src/capture/liveCapture.js';
import { LIVE_RECORD_ABI, RecordStream } from '../../src/events/recordStream.js';
import { resolveUapi } from '../../src/events/uapi.js';
import type { UffdEvent } from '../../src/events/types.js';

const uapi = resolveUapi();
const WORKLOAD = ['--scenario', 'postcopy', '--pages', '64', '--quiet'];

function baseOptions(): CaptureOptions {
  return {
    pids: [],
    uapi,
    ringBytes: DEFAULT_RING_BYTES,
    wakeupBytes: 0,
    pollTimeoutMs: 50,
    batchBytes: 256 << 10,
    followChildren: true,
  };
}

/** What the kernel supports, asked without uffdscope. undefined: unknown. */
function kernelAllows(): Record<BackendName, boolean | undefined> {
  let tracing: boolean | undefined;
  const p = spawnSync('bpftool', ['-j', 'feature', 'probe', 'kernel'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (p.status === 0) {
    try {
      const v = (JSON.parse(p.stdout) as { program_types?: Record<string, boolean> }).program_types?.have_tracing_prog_type;
      if (typeof v === 'boolean') tracing = v;
    } catch {
      /* unknown */
    }
  }
  const kprobes =
    existsSync('/sys/bus/event_source/devices/kprobe') ||
    existsSync('/sys/kernel/tracing/kprobe_events') ||
    existsSync('/sys/kernel/debug/tracing/kprobe_events');
  return { fentry: tracing, kprobe: kprobes, tracepoint: true };
}

/** The refusal this kernel must give, for a backend it does not allow. */
const EXPECTED_REFUSAL: Record<'fentry' | 'kprobe', Pick<BackendAttempt, 'step' | 'errno' | 'code' | 'program'>> = {
  // BPF_PROG_LOAD of the first tracing program is refused
  fentry: { step: 'load', errno: 1, code: 'EPERM', program: 'uscope_hu_entry' },
  // no kprobe PMU: libbpf falls back to tracefs kprobe_events, which is absent
  kprobe: { step: 'attach', errno: 2, code: 'ENOENT', program: 'uscope_hu_entry' },
};

interface Seen {
  faults: number;
  missingFaults: number;
  msgs: number;
  ioctls: Record<string, { count: number; errors: number }>;
  creates: number;
  huEnter: number;
  huExit: number;
  huUnmatched: number;
  huWithoutFault: number;
  faultAddrs: Set<string>;
}

function tally(events: UffdEvent[], pids: Set<number>): Seen {
  const s: Seen = { faults: 0, missingFaults: 0, msgs: 0, ioctls: {}, creates: 0, huEnter: 0, huExit: 0, huUnmatched: 0, huWithoutFault: 0, faultAddrs: new Set() };
  const open = new Map<number, number>(); // tid -> enter ts
  for (const e of events) {
    switch (e.type) {
      case 'fault':
        if (!pids.has(e.pid)) break;
        s.faults++;
        if (e.armed.includes('missing')) s.missingFaults++;
        s.faultAddrs.add(`${e.uffd}:${e.address}`);
        break;
      case 'msg':
        if (e.pagefault) s.msgs++;
        break;
      case 'ioctl_exit': {
        const c = (s.ioctls[e.name] ??= { count: 0, errors: 0 });
        c.count++;
        if (e.ret < 0) c.errors++;
        break;
      }
      case 'uffd_create':
        if (e.ret >= 0) s.creates++;
        break;
      case 'hu':
        if (e.kind === 'enter') {
          s.huEnter++;
          open.set(e.tid, e.ts);
          if (!s.faultAddrs.has(`${e.uffd}:${e.address}`)) s.huWithoutFault++;
        } else if (e.kind === 'exit') {
          s.huExit++;
          if (open.get(e.tid) !== e.enterTs || e.ts < e.enterTs) s.huUnmatched++;
          open.delete(e.tid);
        }
        break;
    }
  }
  return s;
}

interface Captured {
  info: CaptureInfo;
  /** the programs loaded, with their sections */
  loaded: Array<{ name: string; section: string }>;
  truth: WorkloadTruth;
  seen: Seen;
  counters: LostCounts;
}

/** Runs the bundled workload under `backend` in this process. */
async function captureWorkload(backend: BackendChoice, hooks?: HookFlavour): Promise<Captured> {
  const truthPath = tmp('truth.json');
  const cap = LiveCapture.open({ ...baseOptions(), backend, hooks, command: [workloadBinary, ...WORKLOAD, '--json', truthPath], commandStdio: 'ignore' });
  const events: UffdEvent[] = [];
  let counters: LostCounts;
  const loaded = cap.programs().filter((p) => p.autoload);
  const stream = new RecordStream(uapi, LIVE_RECORD_ABI, (e) => events.push(e));
  try {
    cap.onBatch((batch, count) => stream.push(batch, count));
    await cap.run();
    stream.end();
    counters = cap.counters();
  } finally {
    cap.close();
  }
  assert.equal(cap.childExit?.code, 0, 'workload exited cleanly');
  const truth = readTruth(truthPath);
  return { info: cap.info, truth, seen: tally(events, new Set([truth.pid, ...truth.handler_pids])), counters, loaded };
}

function assertMatchesWorkload(c: Captured, label: string): void {
  const { truth, seen } = c;
  assert.equal(c.counters.lostTotal, 0, `${label}: nothing lost`);
  assert.equal(seen.faults, truth.faults.total, `${label}: every fault`);
  assert.equal(seen.missingFaults, truth.faults.missing, `${label}: missing faults`);
  assert.equal(seen.msgs, truth.messages.pagefault.missing + truth.messages.pagefault.wp + truth.messages.pagefault.minor, `${label}: pagefault messages`);
  assert.equal(seen.creates, truth.uffds_created, `${label}: uffds created`);
  for (const [name, n] of Object.entries(truth.ioctls)) {
    if (name === 'USERFAULTFD_IOC_NEW') continue;
    assert.deepEqual(seen.ioctls[name] ?? { count: 0, errors: 0 }, n, `${label}: ${name}`);
  }
}

function programsLoaded(names: RegExp): string[] {
  const p = spawnSync('bpftool', ['prog', 'show'], { encoding: 'utf8' });
  assert.equal(p.status, 0, `bpftool prog show failed: ${p.stderr}`);
  return [...p.stdout.matchAll(/name (uscope_\w+)/g)].map((x) => x[1]).filter((n) => names.test(n));
}

async function noPreciseProgramsLeft(): Promise<string[]> {
  let left = programsLoaded(/^uscope_(hu|sm)_/);
  // freed after an RCU grace period, which a loaded machine stretches
  for (const end = Date.now() + 15_000; left.length && Date.now() < end; ) {
    await sleep(100);
    left = programsLoaded(/^uscope_(hu|sm)_/);
  }
  return left;
}

let tracepointRun: Captured | undefined;
async function tracepointBaseline(): Promise<Captured> {
  tracepointRun ??= await captureWorkload('tracepoint');
  return tracepointRun;
}

for (const backend of ['fentry', 'kprobe'] as const) {
  test(`${backend}: refused where the kernel says so (step + errno recorded), else captures like tracepoint`, async (t: TestContext) => {
    if (!requireLive(t)) return;
    const allows = kernelAllows()[backend];
    const attempts = probeBackend(backend, baseOptions());
    const attempt = attempts[attempts.length - 1];
    t.diagnostic(`${backend} attempts: ${JSON.stringify(attempts)} (kernel allows: ${allows})`);
    assert.ok(attempts.every((a) => a.backend === backend));
    if (!attempt.ok) {
      if (attempt.program && !attempt.program.startsWith('uscope_b_')) {
        assert.equal(attempts.length, 1, 'a refusal of the backend\'s own programs is not retried with classic hooks');
      }
      assert.notEqual(allows, true, `${backend} refused although the kernel supports it: ${attempt.message}`);
      assert.ok(attempt.step && ['open', 'configure', 'load', 'attach'].includes(attempt.step), 'a known step');
      assert.ok(attempt.errno > 0 && attempt.code, 'an errno and its name');
      assert.ok(!attempt.message.includes('\n'), 'one line');
      if (allows === false) {
        const want = EXPECTED_REFUSAL[backend];
        assert.deepEqual(
          { step: attempt.step, errno: attempt.errno, code: attempt.code, program: attempt.program },
          want,
          `${backend} refusal on this kernel`,
        );
        assert.ok(attempt.hint, 'the refusal is explained');
      }
      // nothing of the refused object stays loaded
      assert.deepEqual(await noPreciseProgramsLeft(), [], 'refused object fully unloaded');
      // asked for explicitly, it is one user-facing line
      assert.throws(
        () => LiveCapture.open({ ...baseOptions(), pids: [process.pid], backend }),
        (e: unknown) =>
          e instanceof CaptureError &&
          e.exitCode === 3 &&
          e.message === `${backend} backend refused by this kernel: ${attempt.message}; use --backend tracepoint or auto`,
      );
      return;
    }
    // The kernel allows it: same counts as the tracepoint backend, plus
    // exact handle_userfault() entry/exit.
    assert.notEqual(allows, false, `${backend} loaded although the kernel reports no support`);
    const precise = await captureWorkload(backend);
    assert.equal(precise.info.backend, backend);
    assert.deepEqual(precise.info.backendAttempts.map((a) => [a.backend, a.ok]), [[backend, true]]);
    assertMatchesWorkload(precise, backend);
    const tp = await tracepointBaseline();
    assertMatchesWorkload(tp, 'tracepoint');
    for (const k of ['faults', 'missingFaults', 'msgs', 'creates'] as const) assert.equal(precise.seen[k], tp.seen[k], `${k}: ${backend} == tracepoint`);
    assert.deepEqual(precise.seen.ioctls, tp.seen.ioctls, `ioctls: ${backend} == tracepoint`);
    assert.ok(precise.seen.huEnter >= precise.truth.faults.missing, 'every missing fault entered handle_userfault()');
    assert.equal(precise.seen.huExit, precise.seen.huEnter, 'every entry has its exit');
    assert.equal(precise.seen.huUnmatched, 0, 'exits carry their entry time');
    assert.equal(precise.seen.huWithoutFault, 0, 'every handle_userfault() entry is at a traced fault address');
    assert.equal(tp.seen.huEnter, 0, 'the tracepoint backend has no HU records');
  });
}

test('auto: tries fentry, kprobe, tracepoint in order, records each attempt, and captures the workload', async (t) => {
  if (!requireLive(t)) return;
  const allows = kernelAllows();
  const c = await captureWorkload('auto');
  const got = c.info.backendAttempts.map((a) => [a.backend, a.ok]);
  t.diagnostic(`auto attempts: ${JSON.stringify(c.info.backendAttempts)}`);
  // expected: every backend up to the first the kernel allows
  if (allows.fentry !== undefined) {
    const want: Array<[BackendName, boolean]> = [];
    for (const b of BACKEND_ORDER) {
      want.push([b, allows[b] === true]);
      if (allows[b]) break;
    }
    assert.deepEqual(got, want);
  }
  const last = c.info.backendAttempts[c.info.backendAttempts.length - 1];
  assert.ok(last.ok && last.backend === c.info.backend, 'the last attempt is the backend in use');
  assert.ok(c.info.backendAttempts.slice(0, -1).every((a) => !a.ok), 'earlier attempts failed');
  for (const a of c.info.backendAttempts.slice(0, -1)) {
    if (allows[a.backend] === false && (a.backend === 'fentry' || a.backend === 'kprobe')) {
      const want = EXPECTED_REFUSAL[a.backend];
      assert.deepEqual({ step: a.step, errno: a.errno, code: a.code, program: a.program }, want, `${a.backend} refusal inside auto`);
    }
  }
  if (allows.fentry === false && !allows.kprobe) {
    // this machine: exactly [fentry fail, kprobe fail, tracepoint ok]
    assert.deepEqual(
      c.info.backendAttempts.map((a) => ({ backend: a.backend, hooks: a.hooks, ok: a.ok, step: a.step, code: a.code })),
      [
        { backend: 'fentry', hooks: 'btf', ok: false, step: 'load', code: 'EPERM' },
        { backend: 'kprobe', hooks: 'btf', ok: false, step: 'attach', code: 'ENOENT' },
        { backend: 'tracepoint', hooks: 'btf', ok: true, step: null, code: null },
      ],
    );
    assert.equal(c.info.backend, 'tracepoint');
  }
  assertMatchesWorkload(c, `auto (${c.info.backend})`);
  assert.equal(c.truth.faults.missing, 64);
  if (c.info.backend === 'tracepoint') assert.equal(c.seen.huEnter, 0);
  else assert.equal(c.seen.huExit, c.seen.huEnter);
});

for (const hooks of ['btf', 'classic'] as const) {
  test(`tracepoint with ${hooks} hooks: every fault, message and ioctl of the workload`, async (t) => {
    if (!requireLive(t)) return;
    const c = await captureWorkload('tracepoint', hooks);
    assert.equal(c.info.hooks, hooks);
    assert.deepEqual(c.info.backendAttempts.map((a) => [a.backend, a.hooks, a.ok]), [['tracepoint', hooks, true]]);
    // each hot hook loaded once, in the flavour asked for; process events stay
    // classic, and so do the syscall hooks: one program per traced syscall,
    // never a raw sys_enter/sys_exit that every syscall of the host would run
    const sections = c.loaded.map((p) => p.section).sort();
    const syscalls = sections.filter((s) => s.startsWith('tracepoint/syscalls/'));
    assert.deepEqual(syscalls, [
      'tracepoint/syscalls/sys_enter_close',
      'tracepoint/syscalls/sys_enter_ioctl',
      'tracepoint/syscalls/sys_enter_read',
      'tracepoint/syscalls/sys_enter_userfaultfd',
      'tracepoint/syscalls/sys_exit_ioctl',
      'tracepoint/syscalls/sys_exit_read',
      'tracepoint/syscalls/sys_exit_userfaultfd',
    ]);
    assert.ok(!sections.some((s) => /^(tp_btf|raw_tp)\/sys_(enter|exit)$/.test(s)), 'no raw syscall hook');
    if (hooks === 'btf') {
      for (const s of ['tp_btf/page_fault_user', 'tp_btf/sched_switch', 'tp_btf/sched_waking', 'tp_btf/sched_process_fork']) assert.ok(sections.includes(s), s);
      // fork is tp_btf too (it needs the child's mm: bpf uscope_b_fork)
      assert.deepEqual(sections.filter((s) => s.startsWith('tracepoint/') && !s.startsWith('tracepoint/syscalls/')), ['tracepoint/sched/sched_process_exec', 'tracepoint/sched/sched_process_exit']);
    } else {
      // the task iterators are read once (at attach, the mms that own a uffd;
      // at stop, the pending faults), attached to no event
      assert.deepEqual(sections.filter((s) => !s.startsWith('tracepoint/')), ['iter/task', 'iter/task_file'], 'no tp_btf program');
      for (const s of ['tracepoint/exceptions/page_fault_user', 'tracepoint/sched/sched_switch', 'tracepoint/syscalls/sys_enter_ioctl', 'tracepoint/syscalls/sys_exit_read']) assert.ok(sections.includes(s), s);
    }
    assertMatchesWorkload(c, `tracepoint (${hooks})`);
    assert.equal(c.truth.faults.missing, 64);
  });
}

test('doctor --json: every backend tried, attempts as auto sees them, stable shape', async (t) => {
  if (!requireLive(t)) return;
  const allows = kernelAllows();
  const r = await uffdscope(['doctor', '--json'], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { backends: Array<Record<string, unknown>>; backendAttempts: BackendAttempt[]; selectedBackend: string | null };
  assert.deepEqual(j.backends.map((b) => b.name), [...BACKEND_ORDER]);
  for (const b of j.backends) {
    assert.deepEqual(Object.keys(b).sort(), ['detail', 'name', 'ok', 'tried']);
    assert.equal(b.tried, true, `${b.name} tried`);
    assert.equal(typeof b.detail, 'string');
  }
  // per backend: btf hooks, and classic ones after a btf refusal
  assert.deepEqual([...new Set(j.backendAttempts.map((a) => a.backend))], [...BACKEND_ORDER]);
  const decisive = BACKEND_ORDER.map((b) => j.backendAttempts.filter((a) => a.backend === b).at(-1)!);
  for (const b of BACKEND_ORDER) {
    const tries = j.backendAttempts.filter((a) => a.backend === b).map((a) => a.hooks);
    assert.ok(JSON.stringify(tries) === '["btf"]' || JSON.stringify(tries) === '["btf","classic"]', `${b}: hooks tried ${tries}`);
  }
  for (const [i, a] of decisive.entries()) {
    assert.equal(a.ok, j.backends[i].ok);
    if (!a.ok) assert.ok(String(j.backends[i].detail).includes(a.message), 'detail carries the attempt message');
    if (!a.ok && allows[a.backend] === false && a.backend !== 'tracepoint') {
      const want = EXPECTED_REFUSAL[a.backend];
      assert.deepEqual({ step: a.step, errno: a.errno, code: a.code, program: a.program }, want, `doctor: ${a.backend}`);
    }
  }
  assert.equal(decisive[2].ok, true, 'tracepoint loads');
  assert.equal(j.selectedBackend, j.backendAttempts.find((a) => a.ok)?.backend);
  if (allows.fentry === false && !allows.kprobe) assert.equal(j.selectedBackend, 'tracepoint');
});
