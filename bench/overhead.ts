// Overhead benchmark: what tracing costs the traced program.
//
//   node dist/bench/overhead.js [--quick] [--rounds N] [--pages N] [--threads N] [--no-stat]
//
// The bundled workload (postcopy, several faulting threads, no handler
// delay) measures its own fault throughput (faults / its duration_ns). Each
// round runs it, in a rotated order:
//   untraced        the workload alone
//   record          `uffdscope record -o FILE -- WORKLOAD` (the real CLI path)
//   stat            `uffdscope stat -- WORKLOAD` (decode + Analysis live)
//   stat_in_kernel  `uffdscope stat --in-kernel -- WORKLOAD`: faults counted
//                   and waits histogrammed in BPF maps, no per-fault records
//   record_classic  the same with --hooks classic (perf tracepoints instead of
//                   BTF raw tracepoints): what the hook flavour is worth
//   record_16mb     the same with a 16 MiB ring buffer (the default is 2)
//   top             `uffdscope top` in its plain-text mode (stdout a pipe)
//   bpftrace        bench/scripts/uffd_equiv.bt: the same tracepoints, filtered
//                   on the workload, counting into maps
//   empty_btf       programs that return at once on the same hooks (BTF raw
//   empty_classic   tracepoints / classic tracepoints): the floor any tracer
//                   on these hooks pays before doing any work
// The workload is pinned to the last CPU (all its threads), the tracer to
// CPU 0. Every traced run is paired with an untraced run next to it;
// slowdown = 1 - traced throughput / untraced throughput of its pair; the
// figures are the median over rounds, with IQR and min/max.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  autogroup,
  boostSession,
  cliPath,
  cpuPlan,
  emit,
  emitSpread,
  emptyHooksBinary,
  ensureCBuilt,
  fmtForeign,
  fmtSpread,
  foreignTracing,
  log,
  mustSucceed,
  numOpt,
  pickRounds,
  parseArgs,
  pinned,
  projectRoot,
  readJson,
  requireFile,
  requireRoot,
  rotate,
  run,
  runRetry,
  saveResults,
  si,
  spread,
  waitForQuiet,
  workloadBinary,
} from './lib/common.js';

type Variant = 'untraced' | 'record' | 'record_classic' | 'record_16mb' | 'stat' | 'stat_in_kernel' | 'top' | 'bpftrace' | 'empty_btf' | 'empty_classic';
const ALL_VARIANTS: Variant[] = ['untraced', 'record', 'record_classic', 'record_16mb', 'stat', 'stat_in_kernel', 'top', 'bpftrace', 'empty_btf', 'empty_classic'];
/** the JSON figure name of each traced variant's slowdown, µs per fault and raw figures */
const FIGURE: Record<Exclude<Variant, 'untraced'>, string> = {
  record: 'uffdscope',
  record_classic: 'uffdscope_classic_hooks',
  record_16mb: 'uffdscope_16mb_ring',
  stat: 'uffdscope_stat',
  stat_in_kernel: 'uffdscope_in_kernel',
  top: 'uffdscope_top',
  bpftrace: 'bpftrace',
  empty_btf: 'empty_hooks_btf',
  empty_classic: 'empty_hooks_classic',
};
const WHAT: Record<Exclude<Variant, 'untraced'>, string> = {
  record: 'uffdscope record',
  record_classic: 'uffdscope record --hooks classic',
  record_16mb: 'uffdscope record --ring-buffer-mb 16 (the default is 2)',
  stat: 'uffdscope stat (live decode + Analysis)',
  stat_in_kernel: 'uffdscope stat --in-kernel (faults counted and waits histogrammed in BPF maps; no per-fault records)',
  top: 'uffdscope top, plain-text mode (TopModel + Analysis + snapshots)',
  bpftrace: 'bench/scripts/uffd_equiv.bt: same tracepoints, counting into maps',
  empty_btf: 'bench/empty_hooks --hooks btf: programs that return at once on the BTF raw tracepoints uffdscope uses',
  empty_classic: 'bench/empty_hooks --hooks classic: programs that return at once on the classic tracepoints',
};

interface Truth {
  faults: { total: number };
  duration_ns: number;
  latency_ns: { fault: { p50: number; p99: number } };
}

const args = parseArgs();
const rounds = args.rounds ?? (args.quick ? 3 : 12);
const pages = numOpt(args, 'pages', args.quick ? 10000 : 20000);
const threads = numOpt(args, 'threads', 4);
const withStat = !args.extra.has('no-stat');
const plan = cpuPlan();
const btScript = join(projectRoot, 'bench', 'scripts', 'uffd_equiv.bt');
const TASKSET = existsSync('/usr/bin/taskset') ? '/usr/bin/taskset' : 'taskset';

function workloadCmd(json: string): string[] {
  return [TASKSET, '-c', String(plan.producer), workloadBinary, '--scenario', 'postcopy', '--pages', String(pages), '--threads', String(threads), '--handler-delay-us', '0', '--quiet', '--json', json];
}

/** records lost by every uffdscope run (record, stat, top) */
let lostRecords = 0;

interface Measured {
  faultsPerS: number;
  p50Us: number;
  note?: string;
}

async function runVariant(v: Variant, dir: string, tag: string): Promise<Measured> {
  const json = join(dir, `truth-${tag}.json`);
  const wl = workloadCmd(json);
  let extra: string | undefined;
  if (v === 'untraced') {
    mustSucceed('workload', await run(wl[0], wl.slice(1), { timeoutMs: 120_000 }));
  } else if (v === 'empty_btf' || v === 'empty_classic') {
    const [cmd, a] = pinned(plan.consumer, emptyHooksBinary, ['--hooks', v === 'empty_btf' ? 'btf' : 'classic', '--', ...wl]);
    mustSucceed(v, await runRetry(cmd, a, { timeoutMs: 120_000 }));
  } else if (v === 'record' || v === 'record_classic' || v === 'record_16mb' || v === 'stat' || v === 'stat_in_kernel' || v === 'top') {
    const out = join(dir, `rec-${tag}.uscope`);
    const cli =
      v === 'stat' ? ['stat', '--', ...wl] : v === 'stat_in_kernel' ? ['stat', '--in-kernel', '--json-out', out, '--', ...wl] : v === 'top' ? ['top', '--interval', '60', '--', ...wl] : ['record', '-o', out, '--force', ...(v === 'record_classic' ? ['--hooks', 'classic'] : v === 'record_16mb' ? ['--ring-buffer-mb', '16'] : []), '--', ...wl];
    const [cmd, a] = pinned(plan.consumer, process.execPath, [cliPath, ...cli]);
    const r = mustSucceed(`uffdscope ${v}`, await runRetry(cmd, a, { timeoutMs: 120_000 }));
    // record: "lost N" on stderr; stat: "N lost"; top: "lost N" in each table (the last counts)
    const lost = /lost (\d+)/.exec(r.stderr)?.[1] ?? /(\d+) lost/.exec(r.stdout)?.[1] ?? [...r.stdout.matchAll(/lost (\d+)/g)].at(-1)?.[1];
    if (lost === undefined) throw new Error(`uffdscope ${v} printed no lost count: cannot check for loss\n${r.stdout.slice(-500)}\n${r.stderr.slice(-500)}`);
    lostRecords += Number(lost);
    if (lost !== '0') extra = `lost ${lost}`;
    if (v === 'stat_in_kernel') {
      // what it counted must be the workload's faults, or it measured nothing
      const seen = readJson<{ uffds: Array<{ fault_entries: { total: number } }> }>(out).uffds.reduce((a, u) => a + u.fault_entries.total, 0);
      const own = readJson<Truth>(json).faults.total;
      if (seen !== own) throw new Error(`uffdscope stat --in-kernel counted ${seen} fault entries, the workload ${own} uffd faults`);
    }
    if (!args.keep) rmSync(out, { force: true });
  } else {
    const [cmd, a] = pinned(plan.consumer, 'bpftrace', [btScript, '-c', wl.join(' ')]);
    const r = mustSucceed('bpftrace', await runRetry(cmd, a, { timeoutMs: 120_000 }));
    const faults = Number(/@faults: (\d+)/.exec(r.stdout)?.[1] ?? 0);
    // Its @faults counts every user page fault of the workload, uffd or
    // not: fewer than the workload's own uffd faults means it traced
    // something else (another pid, a wrapper process) and measured nothing.
    const seen = readJson<Truth>(json).faults.total;
    if (faults < seen) throw new Error(`bpftrace counted ${faults} page faults of the workload, which counted ${seen} uffd faults itself: its filter missed the workload\n${r.stdout.slice(-1000)}\n${r.stderr.slice(-1000)}`);
  }
  const t = readJson<Truth>(json);
  return { faultsPerS: t.faults.total / (t.duration_ns / 1e9), p50Us: t.latency_ns.fault.p50 / 1e3, note: extra };
}

async function main(): Promise<void> {
  await boostSession();
  requireRoot();
  requireFile(workloadBinary, 'build the workload (make -C workload BUILD_DIR=../out/workload)');
  requireFile(join(projectRoot, 'dist', 'src', 'cli', 'main.js'), 'build the TypeScript (npx tsc -p tsconfig.json)');
  const bt = await run('bpftrace', ['--version']).catch(() => null);
  if (!bt || bt.code !== 0) {
    log('overhead: bpftrace not found: apt-get install -y bpftrace');
    process.exit(3);
  }
  ensureCBuilt();
  const variants: Variant[] = ALL_VARIANTS.filter((v) => withStat || v !== 'stat');
  const dir = mkdtempSync(join(args.tmp, 'uffdscope-bench-overhead-'));
  log(`overhead: ${rounds} rounds x (${variants.join(', ')}); workload postcopy --pages ${pages} --threads ${threads} --handler-delay-us 0; ${bt.stdout.trim()}`);
  log(`overhead: workload pinned to CPU ${plan.producer}, tracers to CPU ${plan.consumer}; scheduling: ${autogroup()}`);
  const perVariant = () => Object.fromEntries(ALL_VARIANTS.map((v) => [v, [] as number[]])) as Record<Variant, number[]>;
  const tput = perVariant();
  const p50 = perVariant();
  const slow = perVariant();
  /** added time per fault, µs: 1e6 * (1/traced - 1/untraced faults/s) */
  const perFault = perVariant();
  const notes: string[] = [];
  const clean: boolean[] = [];
  log(`overhead: other users' tracers now: ${fmtForeign(foreignTracing())}`);
  try {
    // one unmeasured warm-up run of each (page cache, bpftrace's first compile)
    for (const v of variants) await runVariant(v, dir, `warm-${v}`);
    // Each traced run is paired with an untraced run right next to it
    // (untraced first in even rounds, second in odd ones): the machine's
    // speed drifts, and here jumps between two levels ~30% apart, within
    // the minute a round takes, so only adjacent runs compare fairly.
    const traced = variants.filter((v) => v !== 'untraced');
    for (let r = 0; r < rounds; r++) {
      const before = await waitForQuiet(args.quick ? 0 : 10_000);
      const got: Partial<Record<Variant, Measured>> = {};
      const base: Partial<Record<Variant, number>> = {};
      const roundUntraced: Measured[] = [];
      for (const v of rotate(traced, r)) {
        const pair: Variant[] = r % 2 === 0 ? ['untraced', v] : [v, 'untraced'];
        for (const w of pair) {
          const m = await runVariant(w, dir, `${w}-${v}-${r}`);
          if (w === 'untraced') {
            base[v] = m.faultsPerS;
            roundUntraced.push(m);
          } else {
            got[v] = m;
            tput[v].push(m.faultsPerS);
            p50[v].push(m.p50Us);
            if (m.note) notes.push(`round ${r + 1} ${v}: ${m.note}`);
          }
        }
      }
      // one untraced figure per round (the raw figures are per round)
      tput.untraced.push(spread(roundUntraced.map((m) => m.faultsPerS)).median);
      p50.untraced.push(spread(roundUntraced.map((m) => m.p50Us)).median);
      const after = foreignTracing();
      const ok = before.uscopeHostWide + before.other + after.uscopeHostWide + after.other === 0;
      clean.push(ok);
      for (const v of traced) {
        slow[v].push(100 * (1 - got[v]!.faultsPerS / base[v]!));
        perFault[v].push(1e6 * (1 / got[v]!.faultsPerS - 1 / base[v]!));
      }
      log(
        `  round ${r + 1}/${rounds}${ok ? '' : ' (another user\'s tracer loaded)'}: ` +
          traced.map((v) => `${v} ${si(got[v]!.faultsPerS)} vs ${si(base[v]!)} faults/s (${(100 * (1 - got[v]!.faultsPerS / base[v]!)).toFixed(1)}%)`).join(' | '),
      );
    }
  } finally {
    if (!args.keep) rmSync(dir, { recursive: true, force: true });
  }
  for (const n of notes) log(`overhead: NOTE ${n}`);
  const pick = pickRounds(clean);
  if (pick.note) log(`overhead: ${pick.note}`);
  const sel = (xs: number[]) => xs.filter((_, i) => pick.use(i));
  for (const v of variants) {
    tput[v] = sel(tput[v]);
    p50[v] = sel(p50[v]);
    slow[v] = sel(slow[v]);
    perFault[v] = sel(perFault[v]);
  }

  const g = 'overhead';
  const wl = `postcopy --pages ${pages} --threads ${threads} --handler-delay-us 0, workload on CPU ${plan.producer}, tracer on CPU ${plan.consumer}`;
  for (const v of variants) {
    const s = spread(tput[v]);
    log(`overhead: ${v.padEnd(14)} ${fmtSpread(s, si)} faults/s; p50 fault latency ${spread(p50[v]).median.toFixed(1)} µs`);
    emitSpread({ group: g, name: `overhead.${v}_faults_per_s`, unit: 'faults/s', target: '', note: wl }, s);
    emitSpread({ group: g, name: `overhead.${v}_fault_p50_us`, unit: 'µs', target: '', note: 'the workload\'s own p50 fault latency' }, spread(p50[v]));
  }
  const sb = spread(slow.bpftrace);
  for (const v of variants) {
    if (v === 'untraced') continue;
    const sv = spread(slow[v]);
    log(`overhead: slowdown ${v.padEnd(14)} ${fmtSpread(sv, (x) => x.toFixed(1) + '%')}`);
    const note = `${WHAT[v]}; median over rounds of 100*(1 - traced/untraced faults/s)`;
    if (v === 'record') {
      emitSpread(
        {
          group: g,
          name: 'overhead.uffdscope_slowdown',
          unit: '%',
          target: '<= 5 and < overhead.bpftrace_slowdown',
          met: sv.median <= 5 && sv.median < sb.median,
          note: note + (notes.length ? `; ${notes.length} runs lost records` : '') + (pick.note ? `; ${pick.note}` : ''),
        },
        sv,
      );
    } else if (v === 'stat') {
      emitSpread({ group: g, name: 'overhead.uffdscope_stat_slowdown', unit: '%', target: '<= 5', met: sv.median <= 5, note }, sv);
    } else if (v === 'stat_in_kernel') {
      emitSpread(
        { group: g, name: 'overhead.uffdscope_in_kernel_slowdown', unit: '%', target: '<= 5 and < overhead.bpftrace_slowdown', met: sv.median <= 5 && sv.median < sb.median, note },
        sv,
      );
    } else {
      emitSpread({ group: g, name: `overhead.${FIGURE[v]}_slowdown`, unit: '%', target: '', note }, sv);
    }
  }
  for (const v of variants) {
    if (v === 'untraced') continue;
    emitSpread(
      { group: g, name: `overhead.${FIGURE[v]}_us_per_fault`, unit: 'µs', target: '', note: 'added time per fault: 1e6 * (1/traced - 1/untraced faults/s), per round; independent of the handler\'s service time' },
      spread(perFault[v]),
    );
  }
  emit({
    group: g,
    name: 'overhead.lost_records',
    value: lostRecords,
    unit: 'records',
    target: '0',
    met: lostRecords === 0,
    note: 'records lost by all uffdscope runs (record, stat, top; warm-up runs included) at the workload\'s full fault rate, default buffer sizes',
  });
  emit({ group: g, name: 'overhead.rounds', value: rounds, unit: 'rounds', target: '>= 10 (full run)' });
  const file = saveResults(g, { autogroup: autogroup(), rounds, cleanRounds: clean, pages, threads, plan, variants, bpftrace: bt.stdout.trim() });
  log(`overhead: figures saved to ${file}`);
}

main().catch((e) => {
  log(`overhead: ${(e as Error)?.stack ?? String(e)}`);
  process.exit(1);
});
