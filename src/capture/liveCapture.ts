// Live capture: preflight (privileges, tracefs, symbols), load and attach
// the tracepoint backend, select processes in the kernel, run an optional
// command under tracing, and hand decoded-ready record batches to sinks.
//
// Live capture, a recording and a generated scenario all end up as the same
// batches of records, so every consumer works on all three.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { createTracer, NativeError, AddonMissingError, type NativeTracer, type NativeCounters } from '../native/addon.js';
import { textSymbolRange, type SymbolRange } from './kallsyms.js';
import { ensureTracefs } from './tracefs.js';
import { privileges } from './privileges.js';
import type { Uapi } from '../events/uapi.js';
import { C } from '../events/layout.generated.js';
import { EVENT_TYPES } from '../events/types.js';

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
}

export const DEFAULT_RING_BYTES = 16 << 20;

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
  vmaLookupFailed: number;
  stackFailed: number;
  msgsTruncated: number;
  inflightDropped: number;
  perCpuLost: number[];
}

export function summarizeCounters(c: NativeCounters): LostCounts {
  const produced: Record<string, number> = {};
  const lost: Record<string, number> = {};
  let producedTotal = 0;
  let lostTotal = 0;
  const perCpuLost: number[] = [];
  const extra = { vmaLookupFailed: 0, stackFailed: 0, msgsTruncated: 0, inflightDropped: 0 };
  for (const cpu of c.perCpu) {
    let cpuLost = 0;
    for (let t = 1; t < C.USCOPE_REC_TYPE_COUNT; t++) {
      const name = recordTypeName(t);
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
  }
  return { produced, lost, producedTotal, lostTotal, delivered: c.delivered, discardedAtClose: c.discardedAtClose, perCpuLost, ...extra };
}

/** Record type number -> event type name (the two ioctl records share one). */
export function recordTypeName(t: number): string {
  // USCOPE_REC_* are numbered in the order of EVENT_TYPES.
  return EVENT_TYPES[t - 1] ?? `type_${t}`;
}

export interface CaptureInfo {
  backend: 'tracepoint';
  kernel: { release: string; version: string; machine: string };
  blockDetection: 'stack' | 'heuristic';
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
  private listeners: Array<(batch: Buffer, count: number) => void> = [];
  childExit: { code: number | null; signal: NodeJS.Signals | null } | null = null;

  private constructor(
    private readonly tracer: NativeTracer,
    readonly info: CaptureInfo,
    private readonly opts: CaptureOptions,
  ) {}

  /** Preflight, open, load, attach. Throws CaptureError with one line. */
  static open(opts: CaptureOptions): LiveCapture {
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
    const hu = textSymbolRange('handle_userfault');
    const hostWide = opts.pids.length === 0 && !opts.command;
    let tracer: NativeTracer;
    try {
      tracer = createTracer({
        filterTgids: !hostWide,
        followChildren: opts.followChildren,
        handleUserfaultStart: hu?.start ?? 0n,
        handleUserfaultEnd: hu?.end ?? 0n,
        vmUffdMissing: opts.uapi.VM_UFFD_MISSING,
        vmUffdWp: opts.uapi.VM_UFFD_WP,
        vmUffdMinor: opts.uapi.VM_UFFD_MINOR,
        wakeupBytes: opts.wakeupBytes,
        ringBytes: opts.ringBytes,
        pollTimeoutMs: opts.pollTimeoutMs,
        batchBytes: opts.batchBytes,
      });
      tracer.attach();
    } catch (e) {
      throw asCaptureError(e);
    }
    for (const pid of opts.pids) tracer.addTgid(pid);
    const now = bootTimeNs();
    const info: CaptureInfo = {
      backend: 'tracepoint',
      kernel: { release: os.release(), version: os.version(), machine: os.machine() },
      blockDetection: hu ? 'stack' : 'heuristic',
      handleUserfault: hu,
      hostWide,
      startedAtBootNs: now,
      bootToRealtimeOffsetNs: Date.now() * 1e6 - now,
    };
    return new LiveCapture(tracer, info, opts);
  }

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
    // its very first uffd call is traced.
    const stdio = this.opts.commandStdio ?? 'inherit';
    const child = spawn('/bin/sh', ['-c', 'read -r _ <&3; exec 3<&-; exec "$@"', 'uffdscope', ...cmd], {
      stdio: [stdio, stdio, stdio, 'pipe'],
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
    if (child.pid) this.tracer.addTgid(child.pid);
    const gate = child.stdio[3] as NodeJS.WritableStream | null;
    gate?.on('error', () => {});
    gate?.end('go\n');
  }

  get commandPid(): number | undefined {
    return this.child?.pid;
  }

  /** Terminate the command (if still running); capture stops when it exits. */
  terminateCommand(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    if (this.child && this.childExit === null) {
      this.child.kill(signal);
      return true;
    }
    return false;
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

  programs(): Array<{ name: string; section: string; id?: number }> {
    return this.tracer.programs();
  }

  /** Detach and free everything. Safe to call more than once. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.tracer.close();
  }
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
