// A long-running tool under the benchmarks' watch (a tracer left running
// while something else is measured, or a live view following a workload):
// its output line by line with arrival times, its peak RSS sampled from
// /proc, a stop by signal, and a retry of starts that fail in a transient
// way. Used by bench/host_tax.ts and bench/busy_host.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { memOf, sleep, type Exited } from './common.js';

export interface Line {
  stream: 'stdout' | 'stderr';
  text: string;
  /** ms since the tool was launched */
  atMs: number;
}

export interface LiveTool {
  readonly child: ChildProcess;
  readonly pid: number;
  /** performance.now() at launch */
  readonly t0: number;
  readonly lines: Line[];
  /** resolves when the process has exited (never rejects) */
  readonly exited: Promise<Exited>;
  /** largest VmHWM seen, KiB (NaN before the first sample) */
  peakHwmKiB(): number;
  /** true once the process has exited */
  done(): boolean;
  /** sends `signal` (once) and waits for the exit; SIGKILL after timeoutMs */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<Exited>;
}

const MAX_LINES = 200_000;

/** Spawns cmd (stdin closed, stdout and stderr piped) and watches it. */
export function startLive(cmd: string, args: string[], opts: { sampleMs?: number; env?: NodeJS.ProcessEnv } = {}): LiveTool {
  const t0 = performance.now();
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
  const lines: Line[] = [];
  const out = { stdout: '', stderr: '' };
  const partial = { stdout: '', stderr: '' };
  for (const stream of ['stdout', 'stderr'] as const) {
    child[stream]!.on('data', (d: Buffer) => {
      const at = performance.now() - t0;
      const s = d.toString();
      if (out[stream].length < 8 << 20) out[stream] += s;
      const parts = (partial[stream] + s).split('\n');
      partial[stream] = parts.pop()!;
      for (const text of parts) if (lines.length < MAX_LINES) lines.push({ stream, text, atMs: at });
    });
  }
  let hwm = NaN;
  const sample = () => {
    const m = child.pid ? memOf(child.pid) : null;
    if (m) hwm = Number.isNaN(hwm) ? m.hwmKiB : Math.max(hwm, m.hwmKiB);
  };
  const timer = setInterval(sample, opts.sampleMs ?? 100);
  let isDone = false;
  const exited = new Promise<Exited>((resolve) => {
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (isDone) return;
      clearInterval(timer);
      isDone = true;
      for (const stream of ['stdout', 'stderr'] as const) {
        if (partial[stream]) lines.push({ stream, text: partial[stream], atMs: performance.now() - t0 });
        partial[stream] = '';
      }
      resolve({ code, signal, stdout: out.stdout, stderr: out.stderr, wallMs: performance.now() - t0 });
    };
    child.on('error', (e) => {
      out.stderr += `\n${cmd}: ${e.message}`;
      finish(null, null);
    });
    // 'close' waits for stdout and stderr, which a grandchild the tool left
    // behind (bpftrace's -c command) may hold open: the exit, then at most 1 s.
    child.on('exit', (code, signal) => {
      const late = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish(code, signal);
      }, 1000);
      child.once('close', () => {
        clearTimeout(late);
        finish(code, signal);
      });
    });
  });
  let stopping: Promise<Exited> | null = null;
  return {
    child,
    pid: child.pid ?? -1,
    t0,
    lines,
    exited,
    peakHwmKiB: () => hwm,
    done: () => isDone,
    stop(signal: NodeJS.Signals = 'SIGINT', timeoutMs = 30_000) {
      if (stopping) return stopping;
      sample(); // VmHWM only grows: the last look before it goes
      if (!isDone) child.kill(signal);
      const kill = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      stopping = exited.finally(() => clearTimeout(kill));
      return stopping;
    },
  };
}

/** Polls `cond` every `everyMs` until it is true (resolves true) or timeoutMs passes (false). */
export async function waitUntil(cond: () => boolean, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    if (cond()) return true;
    if (performance.now() >= until) return false;
    await sleep(everyMs);
  }
}

/** The BPF links and perf events a process holds (/proc/PID/fd): the
 *  programs it has attached, wherever else on the host others load theirs. */
export function attachedBpfOf(pid: number): number {
  let n = 0;
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return 0; // gone
  }
  for (const fd of fds) {
    try {
      const t = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (t === 'anon_inode:bpf_link' || t === 'anon_inode:[perf_event]') n++;
    } catch {
      /* closed meanwhile */
    }
  }
  return n;
}

/** The child processes of pid (all its threads'), from /proc. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      const s = readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim();
      if (s) out.push(...s.split(/\s+/).map(Number));
    }
  } catch {
    /* gone */
  }
  return out;
}

/** a start that fails this way is tried again (a BPF load refused with EAGAIN while others load theirs) */
const TRANSIENT_START = /temporarily unavailable|EAGAIN|Device or resource busy/;

/** fn(), again (up to `tries` times, 5 s apart) while it throws a transient failure. */
export async function retryTransient<T>(what: string, fn: () => Promise<T>, tries = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (i >= tries || !TRANSIENT_START.test((e as Error).message)) throw e;
      process.stderr.write(`    ${what}: transient failure, retrying in 5 s\n`);
      await sleep(5000);
    }
  }
}
