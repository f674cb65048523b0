// Host-tax benchmark: what a tracer costs the processes that never use
// userfaultfd (the rest of a VMM host).
//
//   node dist/bench/host_tax.js [--quick] [--rounds N] [--ops getppid,read,fault,switch,fork]
//        [--variants stat,stat_per_fault,top,top_per_fault,serve,record,bpftrace | untraced]
//        [--settle-ms MS] [--clock cpu|wall] [--cli FILE]
//
// out/bench/host_tax (bench/host_tax.c) measures, one op per process, the
// cost per operation of: getppid() (a system call no uffdscope program should
// run for), a 1-byte read() of /dev/zero (one uffdscope hooks), a page fault
// (mmap, touch, munmap) and a context switch (two threads on one CPU handing
// a futex back and forth). It is pinned to the last CPU, the tracer to CPU 0.
//
// Each round, for every tracer variant in a rotated order, all ops run once
// untraced and once while the tracer runs host-wide (untraced first in even
// rounds, second in odd ones):
//   stat, stat_per_fault   `uffdscope stat [--per-fault]`
//   top, top_per_fault     `uffdscope top [--per-fault]`, stdout a pipe (plain mode)
//   serve                  `uffdscope serve --listen 127.0.0.1:0`
//   record                 `uffdscope record -o FILE`
//   bpftrace               bench/scripts/uffd_equiv.bt -c 'sleep ...' (filtered on its sleep)
//   empty_btf, empty_classic  bench/empty_hooks: programs that return at once on
//                          the same hooks (tp_btf or classic), the floor of any
//                          tracer on them (empty_classic only when named)
// plus the pair untraced vs untraced, whose spread is the noise. A tracer is
// started, counted as tracing once it says so (a line matching READY_LINE;
// bpftrace's "Attaching N probes") or holds BPF links (/proc/PID/fd), left
// --settle-ms (default 1000) to finish attaching, then the ops run and it is
// stopped with SIGINT. uffd_holder (one idle uffd) runs throughout, so that
// host-wide `top` traces rather than starting its demo.
//
// tax = 100 * (traced / untraced ns per op - 1) per pair; figures are medians over rounds.
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  autogroup,
  benchOut,
  boostSession,
  cliPath,
  cpuPlan,
  emit,
  emitSpread,
  ensureCBuilt,
  fmtForeign,
  fmtSpread,
  foreignTracing,
  log,
  mustSucceed,
  parseArgs,
  pickRounds,
  pinned,
  positiveInt,
  projectRoot,
  requireBpftrace,
  requireRoot,
  rotate,
  run,
  saveResults,
  spread,
  waitForQuiet,
  type Spread,
} from './lib/common.js';
import { attachedBpfOf, childrenOf, retryTransient, startLive, waitUntil, type LiveTool } from './lib/liveTool.js';

// ---- the tools' command lines and signs of life: adjust here when the CLI changes ----

type Tracer = 'stat' | 'stat_per_fault' | 'top' | 'top_per_fault' | 'serve' | 'record' | 'bpftrace' | 'empty_btf' | 'empty_classic';
const TRACERS: Tracer[] = ['stat', 'stat_per_fault', 'top', 'top_per_fault', 'serve', 'record', 'bpftrace'];
/** the floor: measured like a tracer, judged against nothing (empty_classic only when named) */
type Floor = 'empty_btf' | 'empty_classic';
const FLOORS: Floor[] = ['empty_btf', 'empty_classic'];
const isFloor = (v: Tracer): v is Floor => (FLOORS as Tracer[]).includes(v);
/** longest a tracer may run if nobody stops it (it is stopped by SIGINT once measured) */
const SAFETY_S = 600;

/** uffdscope's arguments for each mode, host-wide */
function uffdscopeArgs(v: Exclude<Tracer, 'bpftrace' | Floor>, scratch: string): string[] {
  const d = ['--duration', String(SAFETY_S)];
  switch (v) {
    case 'stat':
      return ['stat', ...d];
    case 'stat_per_fault':
      return ['stat', '--per-fault', ...d];
    case 'top':
      return ['top', '--interval', '60', ...d];
    case 'top_per_fault':
      return ['top', '--per-fault', '--interval', '60', ...d];
    case 'serve':
      return ['serve', '--listen', '127.0.0.1:0', ...d];
    case 'record':
      return ['record', '-o', scratch, '--force', ...d];
  }
}

/** the flag a variant needs beyond its command (checked in `uffdscope CMD --help`) */
const NEEDS_FLAG: Partial<Record<Tracer, [string, string]>> = { stat_per_fault: ['stat', '--per-fault'], top_per_fault: ['top', '--per-fault'] };

/** A line a tool prints once it traces: top's plain frame header says
 *  "tracing host-wide"; bpftrace prints "Attaching N probes...". */
const READY_LINE: Record<'uffdscope' | 'bpftrace', RegExp> = { uffdscope: /\btracing\b/i, bpftrace: /^Attaching \d+ probes?/ };

const WHAT: Record<Tracer, string> = {
  stat: 'uffdscope stat (host-wide; in-kernel counting once that is the default)',
  stat_per_fault: 'uffdscope stat --per-fault (host-wide, every fault streamed)',
  top: 'uffdscope top, plain mode (host-wide)',
  top_per_fault: 'uffdscope top --per-fault, plain mode (host-wide, every fault streamed)',
  serve: 'uffdscope serve --listen 127.0.0.1:0 (host-wide)',
  record: 'uffdscope record -o FILE (host-wide)',
  bpftrace: "bench/scripts/uffd_equiv.bt -c 'sleep': its probes filtered on the sleep's pid",
  empty_btf: 'bench/empty_hooks --hooks btf: programs that return at once on the tp_btf hooks uffdscope uses (the floor)',
  empty_classic: 'bench/empty_hooks --hooks classic: programs that return at once on the classic tracepoints (the floor)',
};

// ---- options ----

type Op = 'getppid' | 'read' | 'fault' | 'switch' | 'fork';
const OPS: Op[] = ['getppid', 'read', 'fault', 'switch', 'fork'];
const SYSCALL_OPS: ReadonlySet<Op> = new Set(['getppid', 'read']);

const args = (() => {
  try {
    return parseArgs();
  } catch (e) {
    log(`host_tax: ${(e as Error).message}`);
    process.exit(2);
  }
})();
/** --cli FILE: another build's bin/uffdscope (a node script), e.g. to compare two branches */
const uffdscope = args.extra.get('cli') ?? cliPath;
const rounds = args.rounds ?? (args.quick ? 2 : 6);
const settleMs = (() => {
  try {
    return args.extra.has('settle-ms') ? positiveInt('--settle-ms', args.extra.get('settle-ms')) : 1000;
  } catch (e) {
    log(`host_tax: ${(e as Error).message}`);
    process.exit(2);
  }
})();
const clock = args.extra.get('clock') ?? 'cpu';
const plan = cpuPlan();
const hostTaxBinary = join(benchOut, 'host_tax');
const holderBinary = join(benchOut, 'uffd_holder');
const btScript = join(projectRoot, 'bench', 'scripts', 'uffd_equiv.bt');
const emptyHooksBinary = join(benchOut, 'empty_hooks');

function listOpt<T extends string>(name: string, all: readonly T[], extraOk: readonly string[] = [], byDefault: readonly T[] = all): T[] {
  const v = args.extra.get(name);
  if (v === undefined) return [...byDefault];
  const xs = v.split(',').filter(Boolean);
  for (const x of xs) if (!all.includes(x as T) && !extraOk.includes(x)) throw new Error(`--${name}: unknown "${x}"; choose from ${[...all, ...extraOk].join(', ')}`);
  return xs.filter((x): x is T => all.includes(x as T));
}

// ---- measuring ----

interface OpResult {
  iters: number;
  ns_per_op: number;
  cpu_ns_per_op: number;
}

/** Every op once, each in its own host_tax process pinned to the producer CPU: ns per op. */
async function measureOps(ops: readonly Op[]): Promise<Record<Op, number>> {
  const got = {} as Record<Op, number>;
  for (const op of ops) {
    const [cmd, a] = pinned(plan.producer, hostTaxBinary, ['--op', op, '--json', ...(args.quick ? ['--iters', op === 'fault' ? '10000' : '100000'] : [])]);
    const r = mustSucceed(`host_tax --op ${op}`, await run(cmd, a, { timeoutMs: 120_000 }));
    const res = (JSON.parse(r.stdout) as { ops: Record<Op, OpResult> }).ops[op];
    got[op] = clock === 'wall' ? res.ns_per_op : res.cpu_ns_per_op;
  }
  return got;
}

interface Running {
  tool: LiveTool;
  /** the sleep bpftrace runs (-c): it outlives bpftrace */
  orphans: number[];
}

function startTracer(v: Tracer, scratch: string): Promise<Running> {
  return retryTransient(v, () => startTracerOnce(v, scratch));
}

async function startTracerOnce(v: Tracer, scratch: string): Promise<Running> {
  const isBt = v === 'bpftrace';
  const [cmd, a] = isBt
    ? pinned(plan.consumer, 'bpftrace', [btScript, '-c', `/bin/sleep ${SAFETY_S}`])
    : isFloor(v)
      ? pinned(plan.consumer, emptyHooksBinary, ['--hooks', v === 'empty_btf' ? 'btf' : 'classic', '--', '/bin/sleep', String(SAFETY_S)])
      : pinned(plan.consumer, process.execPath, [uffdscope, ...uffdscopeArgs(v, scratch)]);
  const tool = startLive(cmd, a);
  // empty_hooks prints nothing: it traces once it holds its BPF links
  const ready = isFloor(v) ? null : READY_LINE[isBt ? 'bpftrace' : 'uffdscope'];
  let by = '';
  let links = 0;
  const ok = await waitUntil(() => {
    if (tool.done()) return true;
    // no line yet: attached once it holds BPF links, as many as 100 ms before
    const now = attachedBpfOf(tool.pid);
    if (ready !== null && tool.lines.some((l) => ready.test(l.text))) by = 'its line';
    else if (now > 0 && now === links) by = `${now} BPF links`;
    links = now;
    return by !== '';
  }, 60_000, 100);
  if (!ok || tool.done()) {
    const r = await tool.stop('SIGKILL');
    throw new Error(`${v}: ${tool.done() ? `exited (${r.code ?? r.signal}) before tracing` : 'no sign of tracing after 60 s'}:\n${r.stderr.slice(-2000)}`);
  }
  log(`    ${v}: tracing after ${(performance.now() - tool.t0).toFixed(0)} ms (by ${by}); settling ${settleMs} ms`);
  await new Promise((r) => setTimeout(r, settleMs));
  return { tool, orphans: isBt || isFloor(v) ? childrenOf(tool.pid) : [] };
}

async function stopTracer(v: Tracer, t: Running): Promise<void> {
  if (t.tool.done()) {
    const r = await t.tool.exited;
    throw new Error(`${v} exited (${r.code ?? r.signal}) while the ops ran: the figures would mix traced and untraced\n${r.stderr.slice(-2000)}`);
  }
  const r = await t.tool.stop('SIGINT');
  for (const p of t.orphans) {
    try {
      process.kill(p, 'SIGTERM');
    } catch {
      /* gone with bpftrace */
    }
  }
  // empty_hooks has no handler: SIGINT ends it, its links with it
  if (r.code !== 0 && r.code !== 130 && !(isFloor(v) && r.signal === 'SIGINT')) log(`    NOTE ${v} ended with ${r.code ?? r.signal} after SIGINT: ${r.stderr.trim().split('\n').slice(-1)[0] ?? ''}`);
}

// ---- figures ----

/** The noise band around 0: the larger of |q1| and |q3| of the untraced-vs-untraced pairs. */
function noiseBand(s: Spread): number {
  return Math.max(Math.abs(s.q1), Math.abs(s.q3));
}

/** bad options: one line, exit 2 */
function optionsOrExit(): { ops: Op[]; tracers: Tracer[] } {
  try {
    if (clock !== 'cpu' && clock !== 'wall') throw new Error(`--clock takes cpu or wall, got ${clock}`);
    // by default the tp_btf floor only (the flavour uffdscope attaches)
    return { ops: listOpt<Op>('ops', OPS), tracers: listOpt<Tracer>('variants', [...TRACERS, ...FLOORS], ['untraced'], [...TRACERS, 'empty_btf']) };
  } catch (e) {
    log(`host_tax: ${(e as Error).message}`);
    process.exit(2);
  }
}

async function main(): Promise<void> {
  await boostSession();
  const { ops, tracers: wanted } = optionsOrExit();
  let tracers = wanted;
  if (tracers.length) requireRoot();
  ensureCBuilt();
  const missing: Tracer[] = [];
  for (const v of tracers) {
    const need = NEEDS_FLAG[v];
    if (!need) continue;
    const h = await run(process.execPath, [uffdscope, need[0], '--help']);
    if (!h.stdout.includes(need[1])) missing.push(v);
  }
  if (missing.length) log(`host_tax: left out (this CLI has no such flag): ${missing.join(', ')}`);
  tracers = tracers.filter((v) => !missing.includes(v));
  const btVersion = tracers.includes('bpftrace') ? await requireBpftrace('host_tax') : '';
  const dir = mkdtempSync(join(args.tmp, 'uffdscope-bench-host-tax-'));
  const scratch = join(dir, 'host.uscope');
  const NULL = 'untraced_vs_untraced';
  type Pair = Tracer | typeof NULL;
  const pairs: Pair[] = [NULL, ...tracers];
  log(`host_tax: ${rounds} rounds x (${pairs.join(', ')}) x ops (${ops.join(', ')}); ${clock} time per op; host_tax on CPU ${plan.producer}, tracers on CPU ${plan.consumer}; ${autogroup()}`);
  log(`host_tax: other users' tracers now: ${fmtForeign(foreignTracing())}`);
  const per = <T>(mk: () => T) => Object.fromEntries(pairs.map((p) => [p, Object.fromEntries(ops.map((o) => [o, mk()]))])) as Record<Pair, Record<Op, T>>;
  const traced = per<number[]>(() => []);
  const untraced = per<number[]>(() => []);
  const untracedAll = Object.fromEntries(ops.map((o) => [o, [] as number[]])) as Record<Op, number[]>;
  const clean: boolean[] = [];
  const holder = startLive(holderBinary, []);
  try {
    if (!(await waitUntil(() => holder.lines.some((l) => l.text === 'ready') || holder.done(), 10_000)) || holder.done()) {
      throw new Error(`uffd_holder did not start: ${(await holder.stop('SIGKILL')).stderr}`);
    }
    await measureOps(ops); // warm-up: page cache, the binary
    for (let r = 0; r < rounds; r++) {
      const before = await waitForQuiet(args.quick ? 0 : 10_000);
      const roundBase: Record<Op, number[]> = Object.fromEntries(ops.map((o) => [o, [] as number[]])) as Record<Op, number[]>;
      for (const p of rotate(pairs, r)) {
        const order = r % 2 === 0 ? ['untraced', p] : [p, 'untraced'];
        for (const w of order) {
          if (w === 'untraced' || w === NULL) {
            const m = await measureOps(ops);
            for (const o of ops) (w === 'untraced' ? untraced : traced)[p][o].push(m[o]);
            for (const o of ops) roundBase[o].push(m[o]);
            continue;
          }
          const t = await startTracer(w as Tracer, scratch);
          try {
            const m = await measureOps(ops);
            for (const o of ops) traced[p][o].push(m[o]);
          } finally {
            await stopTracer(w as Tracer, t);
          }
        }
        log(`  round ${r + 1} ${p}: ` + ops.map((o) => `${o} ${traced[p][o].at(-1)!.toFixed(0)} vs ${untraced[p][o].at(-1)!.toFixed(0)} ns (${(100 * (traced[p][o].at(-1)! / untraced[p][o].at(-1)! - 1)).toFixed(1)}%)`).join(' | '));
      }
      for (const o of ops) untracedAll[o].push(spread(roundBase[o]).median);
      const after = foreignTracing();
      clean.push(before.uscopeHostWide + before.other + after.uscopeHostWide + after.other === 0);
    }
  } finally {
    await holder.stop('SIGTERM');
    if (!args.keep) rmSync(dir, { recursive: true, force: true });
  }

  const pick = pickRounds(clean);
  if (pick.note) log(`host_tax: ${pick.note}`);
  const sel = (xs: number[]) => xs.filter((_, i) => pick.use(i));
  const g = 'host_tax';
  const how = `${clock === 'cpu' ? 'CPU time (CLOCK_PROCESS_CPUTIME_ID)' : 'wall time'} per op of out/bench/host_tax on CPU ${plan.producer}, tracer on CPU ${plan.consumer}`;
  const taxOf = (p: Pair, o: Op) => sel(traced[p][o]).map((t, i) => 100 * (t / sel(untraced[p][o])[i] - 1));
  const addedOf = (p: Pair, o: Op) => sel(traced[p][o]).map((t, i) => t - sel(untraced[p][o])[i]);
  for (const o of ops) {
    emitSpread({ group: g, name: `host_tax.${o}.untraced_ns_per_op`, unit: 'ns', target: '', note: how + '; per round the median of its untraced runs' }, spread(sel(untracedAll[o])));
    const noise = spread(taxOf(NULL, o));
    const band = noiseBand(noise);
    emit({
      group: g,
      name: `host_tax.${o}.noise_pct`,
      value: band,
      unit: '%',
      target: '',
      n: noise.n,
      min: noise.min,
      max: noise.max,
      q1: noise.q1,
      q3: noise.q3,
      note: 'untraced vs untraced pairs, 100*(second/first - 1): value = max(|q1|, |q3|), the band the middle half of pairs with no tracer fall in',
    });
    log(`host_tax: ${o.padEnd(7)} untraced ${fmtSpread(spread(sel(untracedAll[o])), (x) => x.toFixed(0))} ns; noise ±${band.toFixed(1)}%`);
    const bt = tracers.includes('bpftrace') ? spread(taxOf('bpftrace', o)).median : null;
    for (const v of tracers) {
      const tax = spread(taxOf(v, o));
      const note = `${WHAT[v]}; median over rounds of 100*(traced/untraced - 1), each traced run next to an untraced one` + (pick.note ? `; ${pick.note}` : '');
      let target = '';
      let met: boolean | null | undefined;
      if (isFloor(v)) {
        // judged against nothing: what any tracer on these hooks pays
      } else if (v !== 'bpftrace' && SYSCALL_OPS.has(o)) {
        target = `<= host_tax.${o}.bpftrace_tax_pct`;
        met = bt === null ? null : tax.median <= bt;
      } else if (v !== 'bpftrace') {
        target = `<= host_tax.${o}.noise_pct`;
        met = tax.median <= band;
      }
      emitSpread({ group: g, name: `host_tax.${o}.${v}_tax_pct`, unit: '%', target, ...(met !== undefined ? { met } : {}), note }, tax);
      // the part of the tax that is this tool's own work: above what empty
      // programs on the same (tp_btf) hooks cost, round by round
      if (!isFloor(v) && v !== 'bpftrace' && tracers.includes('empty_btf')) {
        const floor = taxOf('empty_btf', o);
        const above = spread(taxOf(v, o).map((x, i) => x - floor[i]));
        emitSpread(
          { group: g, name: `host_tax.${o}.${v}_above_floor_pct`, unit: '%', target: `<= host_tax.${o}.noise_pct`, met: above.median <= band, note: 'per round, this variant\'s tax minus empty_btf\'s (points); median over rounds' },
          above,
        );
        log(`host_tax: ${o.padEnd(7)} ${v.padEnd(14)} above the empty-program floor ${fmtSpread(above, (x) => x.toFixed(1) + ' points')}`);
      }
      emitSpread({ group: g, name: `host_tax.${o}.${v}_ns_per_op`, unit: 'ns', target: '', note: how }, spread(sel(traced[v][o])));
      emitSpread({ group: g, name: `host_tax.${o}.${v}_added_ns`, unit: 'ns', target: '', note: 'traced - untraced ns per op, per pair' }, spread(addedOf(v, o)));
      log(`host_tax: ${o.padEnd(7)} ${v.padEnd(14)} tax ${fmtSpread(tax, (x) => x.toFixed(1) + '%')}`);
    }
  }
  for (const v of missing) emit({ group: g, name: `host_tax.${v}_tax_pct`, value: null, unit: '%', target: '', note: `not measured: this CLI has no ${NEEDS_FLAG[v]!.join(' ')}` });
  emit({ group: g, name: 'host_tax.rounds', value: rounds, unit: 'rounds', target: '' });
  const file = saveResults(g, { autogroup: autogroup(), rounds, cleanRounds: clean, ops, tracers, missing, settleMs, clock, plan, bpftrace: btVersion });
  log(`host_tax: figures saved to ${file}`);
}

main().catch((e) => {
  log(`host_tax: ${(e as Error)?.message ?? String(e)}`);
  process.exit(1);
});
