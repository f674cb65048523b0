// Shared by live tests: they load real BPF programs and trace the bundled
// workload. Without root/BTF/tracefs they skip locally, but under CI they
// FAIL: a live test that silently skips in CI proves nothing.
import type { TestContext } from 'node:test';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot, workloadBinary } from '../../src/paths.js';
import { openRecording } from '../../src/recording/reader.js';
import { privileges } from '../../src/capture/privileges.js';
import { ensureTracefs } from '../../src/capture/tracefs.js';
import { addonPath } from '../../src/native/addon.js';
import { skipOrFail } from '../fixtures/skipOrFail.js';

export const cli = join(projectRoot, 'bin', 'uffdscope');
export { workloadBinary };

export function liveProblem(): string | null {
  const p = privileges();
  if (!p.ok) return p.problem!;
  if (!existsSync('/sys/kernel/btf/vmlinux')) return 'no kernel BTF';
  const t = ensureTracefs();
  if (!t.ok) return t.problem!;
  if (!existsSync(addonPath)) return 'native addon not built';
  if (!existsSync(workloadBinary)) return 'workload not built';
  return null;
}

/** true when the live test may run; skips locally, fails under CI. */
export function requireLive(t: TestContext): boolean {
  const why = liveProblem();
  if (!why) return true;
  skipOrFail(t, `live test: ${why}`);
  return false;
}

export function tmp(name: string): string {
  return join(mkdtempSync(join(tmpdir(), 'uffdscope-')), name);
}

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} timed out after ${opts.timeoutMs} ms\n${stderr}`));
    }, opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    // 'close', not 'exit': at 'exit' the last of stdout/stderr may still be
    // unread (a JSON report cut short, the final line of a tracer missing)
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export function uffdscope(args: string[], opts: { timeoutMs?: number } = {}): Promise<Run> {
  return run(process.execPath, [cli, ...args], opts);
}

/** The workload's own ground truth (its --json output). */
export interface WorkloadTruth {
  pid: number;
  handler_pids: number[];
  uffds_created: number;
  faults: { total: number; missing: number; wp: number; minor: number; wp_async: number };
  messages: { pagefault: { missing: number; wp: number; minor: number }; other: number };
  ioctls: Record<string, { count: number; errors: number }>;
  reads: { count: number; bytes: number };
  mode_switches: Array<{ enable: number; disable: number; result: number; errno: string | null; latency_ns: number }>;
  latency_ns: { fault: { count: number; p50: number; p90: number; p99: number; max: number; mean: number } };
}

export function readTruth(path: string): WorkloadTruth {
  return JSON.parse(readFileSync(path, 'utf8')) as WorkloadTruth;
}

/** Sends `signal` to `pid` (a process group when negative), if it is still there. */
export function signalIfAlive(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* gone */
  }
}

/** Records in the complete chunks of a recording being written (0 until its header is there). */
export function recordsOnDisk(file: string): number {
  try {
    return openRecording(file).status().records;
  } catch {
    return 0;
  }
}
