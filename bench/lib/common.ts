// Shared by the benchmark scripts: options, statistics, figures (one JSON
// line each), child processes, CPU pinning, /proc sampling, machine facts.
//
// Output convention: human-readable lines go to stderr, and every figure is
// one JSON line on stdout:
//   {"group":"transport","name":"transport.addon_vs_c","value":0.98,"unit":"ratio","target":">= 0.9", ...}
// (extra keys: met, n, min, max, q1, q3, note). The same lines are appended
// to out/bench/results/<group>.jsonl, so the latest figures survive the run.
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { projectRoot, workloadBinary } from '../../src/paths.js';

export { projectRoot, workloadBinary };
export const cliPath = join(projectRoot, 'bin', 'uffdscope');
export const benchOut = join(projectRoot, 'out', 'bench');
export const stormBinary = join(benchOut, 'ioctl_storm');
export const cConsumerBinary = join(benchOut, 'c_consumer');
export const emptyHooksBinary = join(projectRoot, 'out', 'bench', 'empty_hooks');
export const resultsDir = join(benchOut, 'results');

// ---- options ----

export interface BenchArgs {
  quick: boolean;
  /** --rounds N overrides the script's default */
  rounds?: number;
  /** --tmp DIR: where recordings and scratch files go (default os.tmpdir()) */
  tmp: string;
  /** --keep: leave recordings and scratch files behind */
  keep: boolean;
  /** every other --name value / --flag, for the script's own options */
  extra: Map<string, string>;
}

export function parseArgs(argv = process.argv.slice(2)): BenchArgs {
  const a: BenchArgs = { quick: false, tmp: os.tmpdir(), keep: false, extra: new Map() };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const next = argv[i + 1];
    const takeValue = next !== undefined && !next.startsWith('--');
    if (k === '--quick') a.quick = true;
    else if (k === '--no-nice') continue; // see boostSession()
    else if (k === '--keep') a.keep = true;
    else if (k === '--rounds' && takeValue) a.rounds = positiveInt(k, argv[++i]);
    else if (k === '--tmp' && takeValue) a.tmp = argv[++i];
    else if (k.startsWith('--')) a.extra.set(k.slice(2), takeValue ? argv[++i] : 'true');
    else throw new Error(`unexpected argument ${k}`);
  }
  return a;
}

export function positiveInt(name: string, v: string | undefined): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} takes a positive integer, got ${v}`);
  return n;
}

export function numOpt(a: BenchArgs, name: string, dflt: number): number {
  const v = a.extra.get(name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} takes a positive number, got ${v}`);
  return n;
}

// ---- statistics ----

export function quantile(xs: readonly number[], q: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((x, y) => x - y);
  // linear interpolation between closest ranks (R type 7)
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

export const median = (xs: readonly number[]) => quantile(xs, 0.5);

export interface Spread {
  n: number;
  median: number;
  q1: number;
  q3: number;
  min: number;
  max: number;
}

export function spread(xs: readonly number[]): Spread {
  return { n: xs.length, median: median(xs), q1: quantile(xs, 0.25), q3: quantile(xs, 0.75), min: Math.min(...xs), max: Math.max(...xs) };
}

export function round(v: number, digits = 3): number {
  if (!Number.isFinite(v)) return v;
  const m = 10 ** digits;
  return Math.round(v * m) / m;
}

/** Three significant digits for humans: 1234567 -> "1.23M". */
export function si(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toPrecision(3) + 'G';
  if (a >= 1e6) return (v / 1e6).toPrecision(3) + 'M';
  if (a >= 1e3) return (v / 1e3).toPrecision(3) + 'k';
  return v.toPrecision(3);
}

// ---- figures ----

export interface Figure {
  group: string;
  name: string;
  value: number | null;
  unit: string;
  target: string;
  met?: boolean | null;
  n?: number;
  min?: number;
  max?: number;
  q1?: number;
  q3?: number;
  note?: string;
}

const emitted: Figure[] = [];

/** Prints one figure as a JSON line on stdout (and keeps it for the results file). */
export function emit(f: Figure): void {
  const clean: Figure = { ...f, value: f.value === null ? null : round(f.value, 4) };
  for (const k of ['min', 'max', 'q1', 'q3'] as const) if (clean[k] !== undefined) clean[k] = round(clean[k]!, 4);
  emitted.push(clean);
  process.stdout.write(JSON.stringify(clean) + '\n');
}

/** A figure with its spread over rounds (median value). */
export function emitSpread(f: Omit<Figure, 'value' | 'n' | 'min' | 'max' | 'q1' | 'q3'>, s: Spread): void {
  emit({ ...f, value: s.median, n: s.n, min: s.min, max: s.max, q1: s.q1, q3: s.q3 });
}

/** Writes this script's figures to out/bench/results/<group>.jsonl (replacing the last run's). */
export function saveResults(group: string, meta: Record<string, unknown>): string {
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${group}.jsonl`);
  writeFileSync(file, JSON.stringify({ group, meta: { ...meta, machine: machineFacts(), at: new Date().toISOString() } }) + '\n');
  for (const f of emitted) appendFileSync(file, JSON.stringify(f) + '\n');
  return file;
}

export function log(msg: string): void {
  process.stderr.write(msg + '\n');
}

// ---- machine ----

export interface MachineFacts {
  nproc: number;
  cpuModel: string;
  kernel: string;
  node: string;
  loadavg: number[];
  memGiB: number;
}

export function machineFacts(): MachineFacts {
  let model = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) model = m[1].trim();
  } catch {
    /* keep os.cpus() */
  }
  return {
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    cpuModel: model,
    kernel: `${os.release()} ${os.version()}`,
    node: process.version,
    loadavg: os.loadavg().map((x) => round(x, 2)),
    memGiB: round(os.totalmem() / 2 ** 30, 1),
  };
}

/** CPUs for the producer (workload / storm) and the consumer (tracer). On a
 *  one-CPU machine both get CPU 0 and the figures say so. */
export function cpuPlan(): { producer: number; consumer: number; note: string } {
  const n = os.availableParallelism?.() ?? os.cpus().length;
  if (n < 2) return { producer: 0, consumer: 0, note: 'one CPU: producer and consumer share CPU 0' };
  return { producer: n - 1, consumer: 0, note: `producer on CPU ${n - 1}, consumer on CPU 0` };
}

// ---- preflight ----

export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    log('bench: needs root (loads BPF programs): run with sudo');
    process.exit(3);
  }
}

/** Builds the C parts (make -C bench) when missing or stale. */
export function ensureCBuilt(): void {
  const r = spawnSync('make', ['-s', '-C', join(projectRoot, 'bench')], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0 || ![stormBinary, cConsumerBinary, emptyHooksBinary].every((f) => existsSync(f))) {
    log('bench: building the C parts failed (make -C bench): needs clang or gcc, libbpf-dev, libelf-dev, zlib1g-dev and out/bpf/uffdscope.skel.h (make -C bpf)');
    process.exit(3);
  }
}

export function requireFile(path: string, fix: string): void {
  if (!existsSync(path)) {
    log(`bench: ${path} missing: ${fix}`);
    process.exit(3);
  }
}

// ---- processes ----

export interface Exited {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  wallMs: number;
}

/** Runs a command to completion (stdout/stderr captured; bounded by timeoutMs). */
export function run(cmd: string, args: string[], opts: SpawnOptions & { timeoutMs?: number; onSpawn?: (c: ChildProcess) => void } = {}): Promise<Exited> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout.length < 1 << 20 ? (stdout += d) : undefined));
    child.stderr?.on('data', (d) => (stderr.length < 1 << 20 ? (stderr += d) : undefined));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')}: timed out after ${opts.timeoutMs} ms\n${stderr.slice(-2000)}`));
    }, opts.timeoutMs ?? 300_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    opts.onSpawn?.(child);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, wallMs: performance.now() - t0 });
    });
  });
}

/** Failures that say "try again" on a shared machine: a BPF load refused
 *  with EAGAIN, or the native addon missing while someone rebuilds it. */
const TRANSIENT = /temporarily unavailable|EAGAIN|native addon not built|not built yet|Device or resource busy/;

/** run(), retried (up to `tries` times, `waitMs` apart) while it fails in a transient way. */
export async function runRetry(
  cmd: string,
  args: string[],
  opts: SpawnOptions & { timeoutMs?: number; onSpawn?: (c: ChildProcess) => void } = {},
  tries = 4,
  waitMs = 5000,
): Promise<Exited> {
  for (let i = 1; ; i++) {
    const r = await run(cmd, args, opts);
    if (r.code === 0 || i >= tries || !TRANSIENT.test(r.stderr)) return r;
    log(`  (transient failure, retrying in ${waitMs / 1000} s: ${r.stderr.trim().split('\n').slice(-1)[0].slice(0, 160)})`);
    await sleep(waitMs);
  }
}

export function mustSucceed(what: string, r: Exited): Exited {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code ?? r.signal}):\n${r.stderr.slice(-3000)}`);
  return r;
}

/** `taskset -c CPU cmd args...` */
export function pinned(cpu: number, cmd: string, args: string[]): [string, string[]] {
  return ['taskset', ['-c', String(cpu), cmd, ...args]];
}

// ---- priority on a shared machine ----
//
// With CONFIG_SCHED_AUTOGROUP (sched_autogroup_enabled = 1, the default on
// Debian) CPU time is shared fairly between sessions first, so `nice` alone
// does nothing against other users' processes: a pinned busy loop got 38% of
// its CPU here while others' tests ran. The benchmarks therefore run in a
// session of their own whose autogroup has nice -20 (root only; --no-nice
// turns this off), and every child (producer, consumer, tracer, workload)
// inherits it: 99% of the CPU for the same loop. Other users' processes still
// run, on what is left.

const SESSION_ENV = 'UFFDSCOPE_BENCH_SESSION';

/** Re-runs this script in a new session with a nice -20 autogroup (once;
 *  children see UFFDSCOPE_BENCH_SESSION and stay in it). Resolves in the
 *  process that should do the work; the launcher exits with its child. */
export async function boostSession(argv = process.argv.slice(2)): Promise<void> {
  if (argv.includes('--no-nice')) return;
  if (process.env[SESSION_ENV]) {
    try {
      writeFileSync('/proc/self/autogroup', '-20');
    } catch {
      /* not root, or no autogroup: run as we are */
    }
    return;
  }
  if (process.getuid?.() !== 0 || !existsSync('/proc/self/autogroup')) return;
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    detached: true, // setsid(): a new session, so a new autogroup
    env: { ...process.env, [SESSION_ENV]: '1' },
  });
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, () => child.kill(s));
  const code = await new Promise<number>((resolve) => child.on('close', (c, sig) => resolve(c ?? (sig ? 128 : 1))));
  process.exit(code);
}

/** The autogroup line of this process ("/autogroup-37 nice -20"), for the figures' metadata. */
export function autogroup(): string {
  try {
    return readFileSync('/proc/self/autogroup', 'utf8').trim();
  } catch {
    return 'none';
  }
}

export function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

// ---- other tracers on a shared machine ----

export interface ForeignTracing {
  /** uffdscope instances of other users tracing every process (they trace ours too) */
  uscopeHostWide: number;
  /** uffdscope instances with a pid filter (they cost every sched_switch a hash lookup, no more) */
  uscopeFiltered: number;
  /** other tracing programs (bpftrace, ...): unknown filters */
  other: number;
}

const BPFTOOL = existsSync('/usr/sbin/bpftool') ? '/usr/sbin/bpftool' : 'bpftool';

/** BPF tracing programs loaded right now (call it while none of ours is
 *  loaded): another user's host-wide uffdscope also traces our workload and
 *  makes a round's figures meaningless. */
export function foreignTracing(): ForeignTracing {
  const out: ForeignTracing = { uscopeHostWide: 0, uscopeFiltered: 0, other: 0 };
  const r = spawnSync(BPFTOOL, ['prog', 'show', '-j'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) return out;
  let progs: Array<{ type?: string; name?: string; map_ids?: number[] }> = [];
  try {
    progs = JSON.parse(r.stdout);
  } catch {
    return out;
  }
  const tracing = new Set(['tracepoint', 'kprobe', 'tracing', 'raw_tracepoint', 'perf_event']);
  for (const p of progs) {
    if (!tracing.has(p.type ?? '')) continue;
    if (!(p.name ?? '').startsWith('uscope_')) {
      out.other++;
      continue;
    }
    if (p.name !== 'uscope_fault') continue; // one per uffdscope instance
    let hostWide = false;
    for (const id of p.map_ids ?? []) {
      const d = spawnSync(BPFTOOL, ['map', 'dump', 'id', String(id), '-j'], { encoding: 'utf8' });
      if (d.status !== 0 || !d.stdout.includes('filter_tgids')) continue;
      hostWide = /"filter_tgids":\s*false/.test(d.stdout);
      break;
    }
    if (hostWide) out.uscopeHostWide++;
    else out.uscopeFiltered++;
  }
  return out;
}

/** Waits up to maxMs for other users' host-wide tracers to go away; returns what is left. */
export async function waitForQuiet(maxMs: number): Promise<ForeignTracing> {
  const until = performance.now() + maxMs;
  let f = foreignTracing();
  while (f.uscopeHostWide + f.other > 0 && performance.now() < until) {
    await sleep(500);
    f = foreignTracing();
  }
  return f;
}

/** The rounds the figures use: the clean ones when there are enough of them
 *  (at least 3 and at least half), else all, with a note saying so. */
export function pickRounds(clean: readonly boolean[]): { use: (i: number) => boolean; note: string } {
  const n = clean.filter(Boolean).length;
  if (n === clean.length) return { use: () => true, note: '' };
  if (n >= 3 && n * 2 >= clean.length) {
    return { use: (i) => clean[i], note: `${clean.length - n} of ${clean.length} rounds left out: another user's host-wide tracer was loaded` };
  }
  return { use: () => true, note: `CAUTION: ${clean.length - n} of ${clean.length} rounds ran while another user's host-wide tracer was loaded` };
}

export function fmtForeign(f: ForeignTracing): string {
  return `${f.uscopeHostWide} host-wide + ${f.uscopeFiltered} pid-filtered uffdscope instances, ${f.other} other tracing programs of other users`;
}

// ---- /proc ----

export interface MemSample {
  t: number;
  rssKiB: number;
  hwmKiB: number;
}

/** VmRSS and VmHWM of a process, or null once it is gone. */
export function memOf(pid: number): MemSample | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+)/m.exec(s);
    const hwm = /^VmHWM:\s+(\d+)/m.exec(s);
    if (!rss || !hwm) return null;
    return { t: performance.now(), rssKiB: Number(rss[1]), hwmKiB: Number(hwm[1]) };
  } catch {
    return null;
  }
}

/** user+system CPU seconds of a process from /proc/PID/stat, or null. */
export function cpuSecondsOf(pid: number): number | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return null;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** runRetry() while sampling the child's VmRSS/VmHWM every `everyMs`. */
export async function runSampled(
  cmd: string,
  args: string[],
  opts: SpawnOptions & { timeoutMs?: number } = {},
  everyMs = 100,
): Promise<Exited & { peakRssMb: number; samples: MemSample[] }> {
  let samples: MemSample[] = [];
  let timer: NodeJS.Timeout | undefined;
  const r = await runRetry(cmd, args, {
    ...opts,
    onSpawn: (child) => {
      samples = [];
      clearInterval(timer);
      timer = setInterval(() => {
        const m = child.pid ? memOf(child.pid) : null;
        if (m) samples.push(m);
      }, everyMs);
    },
  }).finally(() => clearInterval(timer));
  const peakKiB = samples.length ? Math.max(...samples.map((x) => x.hwmKiB)) : NaN;
  return { ...r, peakRssMb: peakKiB / 1024, samples };
}

/** Rotates [a, b, c] by k: the order of the measured variants changes every round. */
export function rotate<T>(xs: readonly T[], k: number): T[] {
  const n = xs.length;
  return xs.map((_, i) => xs[(i + k) % n]);
}

export function fmtSpread(s: Spread, fmt: (v: number) => string = (v) => v.toFixed(3)): string {
  return `${fmt(s.median)} (IQR ${fmt(s.q1)}..${fmt(s.q3)}, min ${fmt(s.min)}, max ${fmt(s.max)}, n=${s.n})`;
}

/** bpftrace's version line, for a group that compares against it; a
 *  one-line error and exit 3 when it is not installed. */
export async function requireBpftrace(group: string): Promise<string> {
  const bt = await run('bpftrace', ['--version']).catch(() => null);
  if (!bt || bt.code !== 0) {
    log(`${group}: bpftrace not found: apt-get install -y bpftrace (or leave it out with --variants)`);
    process.exit(3);
  }
  return bt.stdout.trim();
}
