// Alarm rates of `uffdscope check` on a recorded corpus: how often identical
// configurations are flagged, and how often real slowdowns are caught, with
// one run a side, three runs a side, and one run against a 3-run baseline.
//
//   node dist/bench/check_alarms.js --corpus DIR [--budget FILE]
//
// DIR is what bench/scripts/check-corpus.sh records (as root:
// `bash bench/scripts/check-corpus.sh DIR 20`): rounds NN-{base,same,delay200,spin10,spin18},
// each a saved 3-run baseline. base and same are identical configurations;
// delay200 adds a 200 µs handler delay; spin10 and spin18 10 and 18 µs of busy
// service per fault (about 1.5x and 2x the fault latency: the bench prints the
// ratio it finds). Pairs, within a round:
//   1v1  NN-base/run-00k against NN-X/run-00k (k = 1..3)
//   3v3  NN-base against NN-X
//   1v3  NN-base (3 runs) against NN-X/run-00k
// A pair is "flagged" (false alarm, or caught) when check exits 1, evaluated
// in process (loadSide + compare) with the default budget or --budget FILE.
// Only complete rounds are used (every set, each with its manifest and runs).
// Figures: one JSON line each on stdout (bench/lib/common.ts), a summary on stderr.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_BUDGET, loadBudget, type Budget } from '../src/check/budget.js';
import { loadSide, type Side } from '../src/check/inputs.js';
import { compare, type CheckResult } from '../src/check/compare.js';
import { emit, log, parseArgs, saveResults } from './lib/common.js';

const SETS = ['base', 'same', 'delay200', 'spin10', 'spin18'] as const;
type Target = Exclude<(typeof SETS)[number], 'base'>;
const TARGETS: readonly Target[] = ['same', 'delay200', 'spin10', 'spin18'];
const RUNS = ['run-001', 'run-002', 'run-003'];
const MODES = ['1v1', '3v3', '1v3'] as const;
type Mode = (typeof MODES)[number];

/** Rounds whose sets are all complete, sorted. */
function completeRounds(corpus: string): string[] {
  const names = readdirSync(corpus);
  const rounds = [...new Set(names.map((n) => /^(\d+)-/.exec(n)?.[1]).filter((r): r is string => !!r))].sort();
  const complete = (r: string, s: string) =>
    existsSync(join(corpus, `${r}-${s}`, 'manifest.json')) && RUNS.every((run) => existsSync(join(corpus, `${r}-${s}`, `${run}.uscope`)) && existsSync(join(corpus, `${r}-${s}`, `${run}.json`)));
  return rounds.filter((r) => SETS.every((s) => complete(r, s)));
}

interface Tally {
  pairs: number;
  flagged: number;
  inconclusive: number;
  /** "round/run: metric ids" of flagged pairs (false alarms) or missed ones (regressions) */
  detail: string[];
}

function main(): void {
  const args = parseArgs();
  const corpus = args.extra.get('corpus');
  if (!corpus || corpus === 'true') throw new Error('usage: check_alarms --corpus DIR [--budget FILE] (DIR recorded by bench/scripts/check-corpus.sh)');
  if (!existsSync(corpus)) throw new Error(`${corpus}: no such directory (record one with: sudo bash bench/scripts/check-corpus.sh ${corpus} 20)`);
  const budgetFile = args.extra.get('budget');
  const budget: Budget = budgetFile ? loadBudget(budgetFile) : DEFAULT_BUDGET;
  const rounds = completeRounds(corpus);
  if (rounds.length === 0) throw new Error(`${corpus}: no complete round (NN-base, NN-same, NN-delay200, NN-spin10, NN-spin18, each with 3 runs and a manifest)`);
  const load = (label: 'baseline' | 'current', p: string): Side => loadSide(label, p, { uapi: null, reservoir: budget.reservoir, seed: budget.seed });

  const tallies = new Map<string, Tally>();
  const tally = (mode: Mode, t: Target) => {
    const k = `${mode}:${t}`;
    if (!tallies.has(k)) tallies.set(k, { pairs: 0, flagged: 0, inconclusive: 0, detail: [] });
    return tallies.get(k)!;
  };
  // the slowdown each regression set is: its p50 over base's, per 1v1 pair
  const p50Ratio = new Map<Target, number[]>();
  const judge = (mode: Mode, t: Target, where: string, r: CheckResult) => {
    const x = tally(mode, t);
    x.pairs++;
    if (r.exit_code === 1) x.flagged++;
    if (r.inconclusive.length) x.inconclusive++;
    const alarm = t === 'same' ? r.exit_code === 1 : r.exit_code !== 1;
    if (alarm) x.detail.push(`${where}: ${t === 'same' ? r.regressions.join(', ') : `${r.inconclusive.length} metric(s) inconclusive`}`);
  };
  const t0 = Date.now();
  for (const round of rounds) {
    const dir = (s: string) => join(corpus, `${round}-${s}`);
    const baseDir = load('baseline', dir('base'));
    const baseRuns = RUNS.map((run) => load('baseline', join(dir('base'), `${run}.uscope`)));
    for (const t of TARGETS) {
      judge('3v3', t, round, compare(baseDir, load('current', dir(t)), budget));
      RUNS.forEach((run, k) => {
        const cur = load('current', join(dir(t), `${run}.uscope`));
        const one = compare(baseRuns[k], cur, budget);
        judge('1v1', t, `${round}/${run}`, one);
        judge('1v3', t, `${round}/${run}`, compare(baseDir, cur, budget));
        const p50 = one.metrics.find((m) => m.stage === 'fault' && m.stat === 'p50' && m.kind === 'missing');
        if (p50?.baseline && p50.current) p50Ratio.set(t, [...(p50Ratio.get(t) ?? []), p50.current / p50.baseline]);
      });
    }
    log(`round ${round} done (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  }

  const g = 'check_alarms';
  const what: Record<Target, { name: string; target: string; ok: (v: number) => boolean }> = {
    same: { name: 'false_alarm_rate', target: '<= 0.05', ok: (v) => v <= 0.05 },
    delay200: { name: 'delay200_caught_rate', target: '== 1', ok: (v) => v === 1 },
    spin10: { name: 'spin10_caught_rate', target: '>= 0.9', ok: (v) => v >= 0.9 },
    spin18: { name: 'spin18_caught_rate', target: '>= 0.9', ok: (v) => v >= 0.9 },
  };
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const lines: string[] = [];
  for (const t of TARGETS) {
    for (const mode of MODES) {
      const x = tally(mode, t);
      const value = x.flagged / x.pairs;
      // 1v3 has no target of its own in the issue: reported, not judged
      const judged = mode !== '1v3';
      const slow = t === 'same' ? '' : `; ${t} p50 / base p50 median ${med(p50Ratio.get(t)!).toFixed(2)}x (1v1 pairs)`;
      emit({
        group: g,
        name: `check.${what[t].name}.${mode}`,
        value,
        unit: 'ratio',
        target: judged ? what[t].target : '',
        met: judged ? what[t].ok(value) : null,
        n: x.pairs,
        note: `${x.flagged}/${x.pairs} pairs exit 1, ${x.inconclusive} with inconclusive metrics${slow}`,
      });
      lines.push(`  ${mode} ${t.padEnd(8)} ${String(x.flagged).padStart(3)}/${x.pairs} exit 1 (${(100 * value).toFixed(0)}%), ${x.inconclusive} with inconclusive metrics`);
      for (const d of x.detail) lines.push(`      ${t === 'same' ? 'false alarm' : 'missed'} ${d}`);
    }
  }
  emit({ group: g, name: 'check.rounds', value: rounds.length, unit: 'rounds', target: '>= 20' });
  log(`check alarm rates on ${corpus}: ${rounds.length} complete rounds (${rounds[0]}..${rounds[rounds.length - 1]}), budget ${budget.file ?? 'default'} (run_noise ${budget.runNoise})`);
  log('  (same = identical configuration: exit 1 is a false alarm; delay200, spin10, spin18 = slowdowns: exit 1 is caught)');
  for (const l of lines) log(l);
  const file = saveResults(g, { corpus, rounds, budget: budget.file ?? 'default' });
  log(`figures also in ${file}`);
}

try {
  main();
} catch (e) {
  process.stderr.write(`check_alarms: ${(e as Error).message}\n`);
  process.exit(2);
}
