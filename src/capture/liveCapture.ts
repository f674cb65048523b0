// Live capture: preflight (privileges, tracefs, symbols), choose a backend
// (fentry, kprobe or tracepoint; `auto` tries them in that order and keeps
// what each attempt returned), load and attach it, select processes in the
// kernel, run an optional command under tracing, and hand decoded-ready
// record batches to sinks.
//
// Live capture, a recording and a generated scenario all end up as the same
// batches of records, so every consumer works on all three.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import {
  createTracer,
  NativeError,
  AddonMissingError,
  BACKEND_ORDER,
  HOOK_ORDER,
  isBackendName,
  isHookFlavour,
  type BackendName,
  type HookFlavour,
  type NativeTracer,
  type NativeCounters,
  type TracerConfig,
  type RawUffdStats,
} from '../native/addon.js';
import { blockDetection, blockSymbols, type BlockSymbols, type SymbolRange } from './kallsyms.js';
import { ensureTracefs } from './tracefs.js';
import { privileges } from './privileges.js';
import { restoreNormalPriority } from './priority.js';
import { signalGroup, stopGroup, stopGroupSync } from './processGroup.js';
import { errnoName, type Uapi } from '../events/uapi.js';
import { C, L } from '../events/layout.generated.js';
import { type BlockHow } from '../events/types.js';
import { abi2RecordTypeName } from '../events/decodeAbi2.js';

/** A one-line, user-facing failure: what went wrong and what to do. */
export class CaptureError extends Error {
  constructor(message: string, readonly exitCode = 4) {
    super(message);
    this.name = 'CaptureError';
  }
}

export interface CaptureOptions {
  /** processes to trace; with no pids and no command: every process */
  pids: number[];
  /** run this command and trace it and its descendants until it exits */
  command?: string[];
  uapi: Uapi;
  ringBytes: number;
  wakeupBytes: number;
  pollTimeoutMs: number;
  batchBytes: number;
  followChildren: boolean;
  /** stdio for the command (default: inherit) */
  commandStdio?: 'inherit' | 'ignore' | 'pipe';
  /** capture backend; auto (the default) tries fentry, kprobe, tracepoint */
  backend?: 'auto' | BackendName;
  /** how the hooks attach; auto (the default) tries btf, then classic */
  hooks?: HooksChoice;
  /** count faults and histogram waits in the kernel (stat --in-kernel):
   *  no per-fault records, only the rare ones (processes, uffd creation,
   *  API/REGISTER/SET_MODE ioctls) */
  inKernelStats?: boolean;
  /** run the loader and the consumer at nice CAPTURE_NICE (default true) */
  raisePriority?: boolean;
}

export type BackendChoice = 'auto' | BackendName;
export type HooksChoice = 'auto' | HookFlavour;
export { BACKEND_ORDER, HOOK_ORDER, type BackendName, type HookFlavour };

/** What one try of a backend returned: open -> configure -> load -> attach. */
export interface BackendAttempt {
  backend: BackendName;
  /** how its hooks were attached in this try */
  hooks: HookFlavour;
  ok: boolean;
  /** the step that failed: open, configure, load or attach; null when ok */
  step: 'open' | 'configure' | 'load' | 'attach' | null;
  /** positive errno of the failure, 0 when ok */
  errno: number;
  /** its name (EPERM, ENOENT, ...), null when ok */
  code: string | null;
  /** one line: "load: Operation not permitted (EPERM)", or what was attached */
  message: string;
  /** the program the kernel refused, when known */
  program?: string;
  /** why, in the kernel's terms, when recognised */
  hint?: string;
  /** ok: programs attached */
  programs?: number;
  /** ok: optional programs left out (e.g. the set-mode path on a kernel without it) */
  skipped?: Array<{ program: string; reason: string }>;
}

/** The default ring buffer, MiB. Small on purpose: the producer writes
 * every record into a fresh cache line of the ring, and a ring much larger
 * than the cache makes each of them a miss that also evicts the traced
 * program's data. The consumer is woken once 256 KiB wait, so 2 MiB leaves
 * it 7/8 of the ring of slack; `--ring-buffer-mb` raises it. Measured side
 * by side in bench/README.md ("Ring size"). */
export const DEFAULT_RING_MIB = 2;
export const DEFAULT_RING_BYTES = DEFAULT_RING_MIB << 20;

export interface LostCounts {
  /** records the BPF side tried to emit, by event type */
  produced: Record<string, number>;
  /** records the ring buffer had no room for, by event type */
  lost: Record<string, number>;
  producedTotal: number;
  lostTotal: number;
  /** records handed to JavaScript by the consumer thread */
  delivered: number;
  discardedAtClose: number;
  /** non-zero: the stop-time flush of faults not sent whole failed with this errno (those faults are missing) */
  pendingFlushErrno: number;
  vmaLookupFailed: number;
  stackFailed: number;
  msgsTruncated: number;
  inflightDropped: number;
  perCpuLost: number[];
  /** in-kernel statistics: per-fault uffd ioctls that succeeded, by ioctl nr */
  fastIoctls: number[];
}

export function summarizeCounters(c: NativeCounters): LostCounts {
  const produced: Record<string, number> = {};
  const lost: Record<string, number> = {};
  let producedTotal = 0;
  let lostTotal = 0;
  const perCpuLost: number[] = [];
  const extra = { vmaLookupFailed: 0, stackFailed: 0, msgsTruncated: 0, inflightDropped: 0 };
  const fastIoctls: number[] = [];
  // USCOPE_REC_HU (precise backends only) uses the counters' spare slot at
  // index USCOPE_REC_TYPE_COUNT; it is listed only when it was used, so a
  // tracepoint capture's counters look as before. Numbers ABI 2 leaves
  // unused are not listed.
  const last = c.perCpu.some((x) => x.produced[C.USCOPE_REC_HU] || x.lost[C.USCOPE_REC_HU])
    ? C.USCOPE_REC_HU
    : C.USCOPE_REC_TYPE_COUNT - 1;
  for (const cpu of c.perCpu) {
    let cpuLost = 0;
    for (let t = 1; t <= last; t++) {
      const name = abi2RecordTypeName(t);
      if (name === undefined) continue;
      produced[name] = (produced[name] ?? 0) + cpu.produced[t];
      lost[name] = (lost[name] ?? 0) + cpu.lost[t];
      producedTotal += cpu.produced[t];
      lostTotal += cpu.lost[t];
      cpuLost += cpu.lost[t];
    }
    perCpuLost.push(cpuLost);
    extra.vmaLookupFailed += cpu.vmaLookupFailed;
    extra.stackFailed += cpu.stackFailed;
    extra.msgsTruncated += cpu.msgsTruncated;
    extra.inflightDropped += cpu.inflightDropped;
    (cpu.fastIoctls ?? []).forEach((n, i) => (fastIoctls[i] = (fastIoctls[i] ?? 0) + n));
  }
  return { produced, lost, producedTotal, lostTotal, delivered: c.delivered, discardedAtClose: c.discardedAtClose, pendingFlushErrno: c.pendingFlushErrno ?? 0, perCpuLost, fastIoctls, ...extra };
}

export interface CaptureInfo {
  backend: BackendName;
  hooks: HookFlavour;
  /** every backend tried, in order, the last one being `backend` */
  backendAttempts: BackendAttempt[];
  kernel: { release: string; version: string; machine: string };
  blockDetection: BlockHow;
  handleUserfault: SymbolRange | null;
  hostWide: boolean;
  startedAtBootNs: number;
  bootToRealtimeOffsetNs: number;
}

export function bootTimeNs(): number {
  // CLOCK_BOOTTIME: /proc/uptime has 10 ms resolution; good enough for the
  // header's wall-clock mapping (event times come from the kernel).
  const up = parseFloat(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  return Math.round(up * 1e9);
}

export class LiveCapture {
  private child: ChildProcess | null = null;
  private done: Promise<void> | null = null;
  private closed = false;
  /** uffdStats()' buffers, grown when the map outgrows them */
  private statsKeys = Buffer.alloc(0);
  private statsValues = Buffer.alloc(0);
  private listeners: Array<(batch: Buffer, count: number) => void> = [];
  childExit: { code: number | null; signal: NodeJS.Signals | null } | null = null;

  private constructor(
    private readonly tracer: NativeTracer,
    readonly info: CaptureInfo,
    private readonly opts: CaptureOptions,
  ) {}

  /** Preflight, open, load, attach. Throws CaptureError with one line. */
  static open(opts: CaptureOptions): LiveCapture {
    const choice = opts.backend ?? 'auto';
    if (choice !== 'auto' && !isBackendName(choice)) {
      throw new CaptureError(`--backend ${String(choice)}: must be auto, ${BACKEND_ORDER.join(', ')}`, 2);
    }
    const hooks = opts.hooks ?? 'auto';
    if (hooks !== 'auto' && !isHookFlavour(hooks)) {
      throw new CaptureError(`--hooks ${String(hooks)}: must be auto, ${HOOK_ORDER.join(', ')}`, 2);
    }
    for (const pid of opts.pids) {
      if (!Number.isInteger(pid) || pid <= 0) throw new CaptureError(`--pid ${pid}: not a process id`, 2);
      if (!existsSync(`/proc/${pid}`)) {
        throw new CaptureError(`--pid ${pid}: no such process (check with ps, or run the program with -- CMD)`, 2);
      }
    }
    const priv = privileges();
    if (!priv.ok) throw new CaptureError(priv.problem!, 3);
    const tfs = ensureTracefs();
    if (!tfs.ok) throw new CaptureError(tfs.problem!, 3);
    if (!existsSync('/sys/kernel/btf/vmlinux')) {
      throw new CaptureError('kernel BTF missing (/sys/kernel/btf/vmlinux): needs a kernel built with CONFIG_DEBUG_INFO_BTF=y', 3);
    }
    const syms = blockSymbols();
    const hostWide = opts.pids.length === 0 && !opts.command;
    const cfg = tracerConfig(opts, syms, hostWide);
    const { tracer, attempts, error } = openBackend(choice, cfg, hooks);
    if (!tracer) throw backendError(choice, attempts, error);
    for (const pid of opts.pids) tracer.addTgid(pid);
    const now = bootTimeNs();
    const info: CaptureInfo = {
      backend: attempts[attempts.length - 1].backend,
      hooks: attempts[attempts.length - 1].hooks,
      backendAttempts: attempts,
      kernel: { release: os.release(), version: os.version(), machine: os.machine() },
      blockDetection: blockDetection(syms),
      handleUserfault: syms.handleUserfault,
      hostWide,
      startedAtBootNs: now,
      bootToRealtimeOffsetNs: Date.now() * 1e6 - now,
    };
    return new LiveCapture(tracer, info, opts);
  }

  /** `batch` is valid only during the call (the addon reuses its memory for
   *  the next batch): decode or copy it before returning. */
  onBatch(cb: (batch: Buffer, count: number) => void): void {
    this.listeners.push(cb);
  }

  /** Starts consuming (and the command, if any). Resolves when the
   *  command exits or stop() is called, after the last batch is delivered. */
  run(): Promise<void> {
    if (this.done) return this.done;
    const consumed = this.tracer.start((batch, count) => {
      for (const l of this.listeners) l(batch, count);
    });
    if (this.opts.command) this.startCommand(this.opts.command);
    this.done = consumed.catch((e) => {
      throw asCaptureError(e);
    });
    return this.done;
  }

  private startCommand(cmd: string[]): void {
    // The command waits on fd 3 until its pid is in the kernel filter, so
    // its very first uffd call is traced. It leads its own process group
    // (detached), so stopping it reaches everything it started.
    const stdio = this.opts.commandStdio ?? 'inherit';
    const child = spawn('/bin/sh', ['-c', 'read -r _ <&3; exec 3<&-; exec "$@"', 'uffdscope', ...cmd], {
      stdio: [stdio, stdio, stdio, 'pipe'],
      detached: true,
    });
    this.child = child;
    child.on('error', (e) => {
      this.childExit = { code: 127, signal: null };
      process.stderr.write(`uffdscope: cannot run ${cmd[0]}: ${e.message}\n`);
      this.stop();
    });
    child.on('exit', (code, signal) => {
      this.childExit = { code, signal };
      // Let records of the last moments arrive before draining.
      setTimeout(() => this.stop(), Math.max(50, this.opts.pollTimeoutMs * 2)).unref();
    });
    if (child.pid) {
      restoreNormalPriority(child.pid);
      this.tracer.addTgid(child.pid);
    }
    const gate = child.stdio[3] as NodeJS.WritableStream | null;
    gate?.on('error', () => {});
    gate?.end('go\n');
  }

  get commandPid(): number | undefined {
    return this.child?.pid;
  }

  /** The command (its leader) has not exited yet. */
  get commandRunning(): boolean {
    return this.child?.pid !== undefined && this.childExit === null;
  }

  /** Stops the command's process group: SIGTERM, SIGKILL after the grace
   *  period (COMMAND_GRACE_MS); resolves when nothing of it is left. Also
   *  ends what a command that exited by itself left running in its group. */
  async endCommand(): Promise<void> {
    if (this.child?.pid) await stopGroup(this.child.pid);
  }

  /** endCommand() for 'exit' handlers (blocks). */
  endCommandSync(): void {
    if (this.child?.pid) stopGroupSync(this.child.pid);
  }

  /** SIGKILL to the command's whole group now (a second Ctrl-C). */
  killCommand(): void {
    if (this.child?.pid) signalGroup(this.child.pid, 'SIGKILL');
  }

  addPid(pid: number): void {
    this.tracer.addTgid(pid);
  }

  stop(): void {
    if (!this.closed) this.tracer.stop();
  }

  counters(): LostCounts {
    return summarizeCounters(this.tracer.counters());
  }

  programs(): Array<{ name: string; section: string; autoload: boolean; id?: number }> {
    return this.tracer.programs();
  }

  /** The in-kernel statistics map now, per uffd, undecoded (empty unless
   *  inKernelStats): src/stats/kernelStats.ts decodes it. The values are
   *  views of buffers the next read overwrites. */
  uffdStats(): RawUffdStats[] {
    const ks = L.uscope_uffd_key.size;
    const vs = L.uscope_uffd_stats.size;
    let read = this.tracer.uffdStats(this.statsKeys, this.statsValues);
    while (read.more) {
      const cap = 2 * Math.max(64, this.statsKeys.length / ks);
      // not zero-filled: only the pages the kernel writes become resident
      // (~10 KB a uffd), not the doubled room behind them
      this.statsKeys = Buffer.allocUnsafeSlow(cap * ks);
      this.statsValues = Buffer.allocUnsafeSlow(cap * vs);
      read = this.tracer.uffdStats(this.statsKeys, this.statsValues);
    }
    const { count } = read;
    const keys = this.statsKeys;
    const values = this.statsValues;
    const out: RawUffdStats[] = new Array(count);
    for (let i = 0; i < count; i++) {
      out[i] = { uffd: keys.readBigUInt64LE(i * ks), createdNs: keys.readBigUInt64LE(i * ks + 8), value: values.subarray(i * vs, (i + 1) * vs) };
    }
    return out;
  }

  /** Detach and free everything. Safe to call more than once. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.tracer.close();
  }
}

function tracerConfig(opts: CaptureOptions, syms: BlockSymbols, hostWide: boolean): TracerConfig {
  const hu = syms.handleUserfault;
  return {
    filterTgids: !hostWide,
    followChildren: opts.followChildren,
    handleUserfaultStart: hu?.start ?? 0n,
    handleUserfaultEnd: hu?.end ?? 0n,
    uffdWakeFunction: syms.uffdWakeFunction ?? 0n,
    vmUffdMissing: opts.uapi.VM_UFFD_MISSING,
    vmUffdWp: opts.uapi.VM_UFFD_WP,
    vmUffdMinor: opts.uapi.VM_UFFD_MINOR,
    wakeupBytes: opts.wakeupBytes,
    ringBytes: opts.ringBytes,
    pollTimeoutMs: opts.pollTimeoutMs,
    batchBytes: opts.batchBytes,
    inKernelStats: !!opts.inKernelStats,
    featWpAsync: opts.uapi.UFFD_FEATURE_WP_ASYNC,
    featRwpAsync: opts.uapi.UFFD_FEATURE_RWP_ASYNC,
    msgFlagWp: opts.uapi.UFFD_PAGEFAULT_FLAG_WP,
    msgFlagMinor: opts.uapi.UFFD_PAGEFAULT_FLAG_MINOR,
    msgFlagRwp: opts.uapi.UFFD_PAGEFAULT_FLAG_RWP,
  };
}

/** Why the kernel refused, when the failure is a known one. */
function refusalHint(backend: BackendName, step: BackendAttempt['step'], errno: number): string | undefined {
  if (backend === 'fentry' && step === 'load' && (errno === 1 || errno === 13)) {
    return 'the kernel refuses BPF tracing programs (fentry/fexit trampolines)';
  }
  if (backend === 'fentry' && step === 'load' && errno === 3) {
    return 'attach target missing from the kernel BTF (handle_userfault inlined or renamed?)';
  }
  if (backend === 'kprobe' && step === 'attach' && (errno === 2 || errno === 95)) {
    const pmu = existsSync('/sys/bus/event_source/devices/kprobe');
    const legacy = existsSync('/sys/kernel/tracing/kprobe_events') || existsSync('/sys/kernel/debug/tracing/kprobe_events');
    if (!pmu && !legacy) return 'no kprobe PMU and no kprobe_events: kernel built without CONFIG_KPROBES';
    return 'handle_userfault not probeable (inlined, renamed, or blacklisted for kprobes)';
  }
  return undefined;
}

/** A NativeError from one backend's open/load/attach -> its attempt entry. */
export function attemptFromError(backend: BackendName, e: NativeError, hooks: HookFlavour = 'btf'): BackendAttempt {
  const word = (e.step || '').split(' ', 1)[0];
  const step: BackendAttempt['step'] =
    word === 'open' || word === 'load' || word === 'attach' || word === 'configure' ? word : 'open';
  const errno = Math.abs(e.errno || 0);
  const code = errno ? (errnoName(-errno) ?? `errno_${errno}`) : null;
  const a: BackendAttempt = { backend, hooks, ok: false, step, errno, code, message: code ? `${e.message} (${code})` : e.message };
  // the program: named in the step for attach, in libbpf's log for load
  const named = /^attach (\S+) /.exec(e.step ?? '')?.[1] ?? /prog '([\w.]+)': (?:BPF program load failed|failed to load)/.exec(e.libbpfLog ?? '')?.[1];
  if (named) a.program = named;
  const hint = refusalHint(backend, step, errno);
  if (hint) a.hint = hint;
  return a;
}

/**
 * Tries one backend: open, configure, load, attach. On success the tracer
 * is attached and returned; on a kernel refusal (a NativeError) it is
 * closed again, nothing stays attached, and the attempt says where it
 * failed. Other errors (addon missing, a bad configuration) are thrown.
 */
export function tryBackend(backend: BackendName, cfg: TracerConfig): { tracer: NativeTracer | null; attempt: BackendAttempt; error?: NativeError } {
  let tracer: NativeTracer | null = null;
  const hooks = cfg.hooks ?? 'btf';
  try {
    tracer = createTracer({ ...cfg, backend, hooks });
    tracer.attach();
    const d = tracer.describe();
    const programs = tracer.programs().filter((p) => p.autoload).length;
    const attempt: BackendAttempt = {
      backend,
      hooks,
      ok: true,
      step: null,
      errno: 0,
      code: null,
      message: `loaded and attached ${programs} programs`,
      programs,
      skipped: d.skipped.map((s) => ({ program: s.program, reason: s.reason })),
    };
    return { tracer, attempt };
  } catch (e) {
    try {
      tracer?.close();
    } catch {
      /* already failed; the first error is the one that matters */
    }
    if (e instanceof NativeError) return { tracer: null, attempt: attemptFromError(backend, e, hooks), error: e };
    throw e;
  }
}

/** The tp_btf programs' names start with this (bpf/uffdscope.bpf.c). */
const BTF_HOOK_PREFIX = 'uscope_b_';

/** A btf try that failed on something other than a tp_btf program (the
 *  precise backend's own programs, say) fails the same with classic hooks:
 *  not worth a second try. */
function btfHooksRefused(a: BackendAttempt): boolean {
  return !a.program || a.program.startsWith(BTF_HOOK_PREFIX);
}

/** Opens the chosen backend, or with auto the first of BACKEND_ORDER that
 *  the kernel accepts; each with btf hooks first, then classic ones (auto),
 *  or the hooks asked for. attempts lists every try, in order. */
export function openBackend(
  choice: BackendChoice,
  cfg: TracerConfig,
  hooksChoice: HooksChoice = 'auto',
): { tracer: NativeTracer | null; attempts: BackendAttempt[]; error?: NativeError } {
  const order = choice === 'auto' ? BACKEND_ORDER : [choice];
  const hookOrder = hooksChoice === 'auto' ? HOOK_ORDER : [hooksChoice];
  const attempts: BackendAttempt[] = [];
  let error: NativeError | undefined;
  for (const b of order) {
    for (const hooks of hookOrder) {
      let r: ReturnType<typeof tryBackend>;
      try {
        r = tryBackend(b, { ...cfg, hooks });
      } catch (e) {
        throw asCaptureError(e);
      }
      attempts.push(r.attempt);
      if (r.tracer) return { tracer: r.tracer, attempts };
      error = r.error;
      if (hooks === 'btf' && !btfHooksRefused(r.attempt)) break;
    }
  }
  return { tracer: null, attempts, error };
}

/** Opens, loads and attaches one backend (btf hooks, else classic), then
 *  closes it: what doctor shows. Returns every try, the last one decisive. */
export function probeBackend(backend: BackendName, opts: CaptureOptions): BackendAttempt[] {
  const { tracer, attempts } = openBackend(backend, tracerConfig(opts, blockSymbols(), false), opts.hooks ?? 'auto');
  tracer?.close();
  return attempts;
}

/** One line for a backend the kernel refused. */
function backendError(choice: BackendChoice, attempts: BackendAttempt[], error: NativeError | undefined): CaptureError {
  const last = attempts[attempts.length - 1];
  if (choice !== 'auto' && choice !== 'tracepoint') {
    const err = new CaptureError(`${choice} backend refused by this kernel: ${last.message}; use --backend tracepoint or auto`, 3);
    (err as { cause?: unknown }).cause = error;
    return err;
  }
  // tracepoint (explicit, or the last resort of auto): the usual hints
  const err = error ? asCaptureError(error) : new CaptureError('no capture backend could be opened', 3);
  if (choice === 'auto' && attempts.length > 1) {
    const others = attempts.slice(0, -1).map((a) => `${a.backend} (${a.step}: ${a.code ?? a.message})`);
    err.message += `; ${others.join(', ')} refused too`;
  }
  return err;
}

export function asCaptureError(e: unknown): CaptureError {
  if (e instanceof CaptureError) return e;
  if (e instanceof AddonMissingError) return new CaptureError(e.message, 3);
  if (e instanceof NativeError) {
    const hint =
      e.errno === 1 || e.errno === 13
        ? ' (needs root or CAP_BPF+CAP_PERFMON; run `uffdscope doctor`)'
        : e.errno === 2
          ? ' (a tracepoint is missing on this kernel; run `uffdscope doctor`)'
          : '';
    const err = new CaptureError(`BPF ${e.message}${hint}`, 3);
    (err as { cause?: unknown }).cause = e; // the verifier log, for USCOPE_DEBUG=1
    return err;
  }
  return new CaptureError(`capture failed: ${(e as Error)?.message ?? String(e)}`, 4);
}
