// The comparison of `uffdscope check`: which metrics exist for the two sides,
// which test each one gets, and the verdicts.
//
// A metric is a REGRESSION only when its change is both
//   - beyond its threshold in the worse direction: |change| > threshold x
//     |baseline| and > the absolute floor, and
//   - statistically significant: the confidence interval of the change
//     (current - baseline) excludes 0 (for p50 of per-fault samples, the
//     Mann-Whitney U test must agree too).
// Regressions of gating metrics fail the check; of diagnostic ones (the
// queue/service/wake stages, by default) they are warnings.
//
// Which test:
//   per-run     >= min_runs runs on both sides: the runs are the unit of
//               replication (run-to-run noise is what CI machines have).
//               t test on the per-run values (each run's p50, p99, count...):
//               Student's pooled t for equal run counts (its df do not
//               collapse when one side is noisier), else Welch's; one run
//               against >= min_runs: t with the others' run-to-run spread.
//               Works with summary JSON too.
//   per-sample  otherwise, when both sides have per-fault samples
//               (recordings): bootstrap of the quantile difference, the
//               exact order-statistic draw (B resamples, seeded), percentile
//               interval; plus Mann-Whitney U for p50. It cannot see the
//               noise between runs: a latency regresses only when its p05
//               moved beyond run_noise too, else "inconclusive" (runNoise.ts).
//   none        summaries of one run a side: the test cannot be done. Within
//               its threshold the metric passes ("insufficient data": a
//               regression needs both); beyond it, in the worse direction, it
//               cannot pass: "beyond threshold, untestable" fails a gating
//               metric (exit 1) and warns for a diagnostic one.
// The confidence is family-wise by default (Bonferroni over the gating
// metrics that were tested): each interval is at 1 - (1 - confidence) / m.

import { ruleFor, type Budget, type Rule, KINDS } from './budget.js';
import type { Side } from './inputs.js';
import { STAT_Q, kindsOf, metricDefs, type MetricDef, type MetricKey } from './metrics.js';
import { fmtP, formatChange, formatValue } from './format.js';
import { REFERENCE_STAT, inconclusiveReason, noiseAllowance, oneRunNote, referenceBeyond, referenceId, type AllowanceSource, type NoiseReference, type RunNoiseResult } from './runNoise.js';
import {
  Rng,
  bootstrapP,
  bootstrapQuantileDiff,
  mannWhitney,
  mean,
  percentileInterval,
  quantileSorted,
  seedFor,
  variance,
  welch,
  welchInterval,
  oneVersusMany,
  studentT,
  type MannWhitney,
  type Welch,
} from './stats.js';

export const CHECK_SCHEMA = 'uffdscope.check/1';
/**
 * warning: a regression (beyond threshold and significant) of a metric that does not gate;
 * beyond threshold, untestable: worse beyond its threshold, but no test could say whether the change is real;
 * inconclusive: worse beyond its threshold and significant within one run a side, but within run-to-run noise (runNoise.ts)
 */
export type Verdict = 'regression' | 'warning' | 'inconclusive' | 'improved' | 'ok' | 'insufficient data' | 'beyond threshold, untestable' | 'ignored';

export const UNTESTABLE: Verdict = 'beyond threshold, untestable';

export interface TestResult {
  /** e.g. "welch-t on per-run values", "bootstrap on per-fault samples + mann-whitney U" */
  name: string;
  mode: 'per-run' | 'per-sample' | 'none';
  n_baseline: number;
  n_current: number;
  /** what n counts */
  n_unit: 'runs' | 'faults' | 'switches';
  /** two-sided p-value of "no change", before the family-wise correction */
  p: number | null;
  /** after it (p x m, capped at 1) */
  p_adj: number | null;
  /** interval of the change (current - baseline) at the per-metric level */
  ci: { level: number; low: number; high: number } | null;
  df?: number;
  resamples?: number;
  mann_whitney?: { p: number; z: number; a12: number };
  /** why no test was done */
  why?: string;
}

export interface MetricResult extends MetricKey {
  baseline: number | null;
  current: number | null;
  /** current - baseline */
  change: number | null;
  /** change / |baseline| (null when the baseline is 0) */
  change_rel: number | null;
  rule: { threshold: number; floor: number; direction: Rule['direction']; gate: boolean };
  /** beyond the threshold (and floor) in the worse direction */
  beyond_threshold: boolean;
  significant: boolean;
  test: TestResult;
  effect: { abs: number | null; rel: number | null; a12?: number; hedges_g?: number };
  verdict: Verdict;
  fails: boolean;
  reason: string;
  /** one run a side (per-sample test of a latency): the run-noise rule's inputs */
  run_noise?: RunNoiseResult;
}

export interface SideInfo {
  path: string;
  runs: number;
  inputs: Array<{ file: string; type: 'recording' | 'summary' }>;
  /** userfaults by kind, over all runs */
  kinds: Record<string, number>;
  per_fault_samples: boolean;
  command: string[] | null;
}

export interface CheckResult {
  schema: typeof CHECK_SCHEMA;
  /** untestable: nothing regressed significantly, but a gating metric is beyond its threshold untested */
  verdict: 'pass' | 'regression' | 'untestable';
  exit_code: 0 | 1;
  baseline: SideInfo;
  current: SideInfo;
  method: {
    confidence: number;
    correction: 'bonferroni' | 'none';
    /** metrics whose change was tested (the Bonferroni m) */
    family_size: number;
    /** per-metric interval level */
    level: number;
    resamples: number;
    seed: number;
    min_runs: number;
    min_samples: number;
    reservoir: number;
    /** one run a side: the relative move of a latency's p05 that host load alone can cause */
    run_noise: number;
    budget: string | null;
    description: string;
  };
  metrics: MetricResult[];
  regressions: string[];
  /** worse beyond the threshold, but within run-to-run noise (one run a side): not failing */
  inconclusive: string[];
  notes: string[];
}

// --------------------------------------------------------------- tests

interface Pending {
  def: MetricDef;
  rule: Rule;
  baseline: number | null;
  current: number | null;
  mode: TestResult['mode'];
  testName?: string;
  nB: number;
  nC: number;
  nUnit: TestResult['n_unit'];
  why?: string;
  welch?: Welch;
  reps?: Float64Array;
  p: number | null;
  mwu?: MannWhitney;
  hedges?: number;
  /** no uncertainty at all (every value equal on both sides): not counted in the family */
  degenerate: boolean;
  /** per-sample latency tests: the run-to-run noise allowance (runNoise.ts) */
  noise?: { allowance: number; source: AllowanceSource };
}

function hedgesG(b: number[], c: number[]): number | undefined {
  const nb = b.length;
  const nc = c.length;
  if (nb < 2 || nc < 2) return undefined;
  const sp = Math.sqrt(((nb - 1) * variance(b) + (nc - 1) * variance(c)) / (nb + nc - 2));
  if (!(sp > 0)) return undefined;
  const j = 1 - 3 / (4 * (nb + nc) - 9);
  return ((mean(c) - mean(b)) / sp) * j;
}

function evaluate(def: MetricDef, b: Side, c: Side, budget: Budget): Pending {
  const rule = ruleFor(budget, def.id, def.family, def.kind, def.stat);
  const vb = b.runs.map((r) => def.perRun(r)).filter((v): v is number => v !== null && Number.isFinite(v));
  const vc = c.runs.map((r) => def.perRun(r)).filter((v): v is number => v !== null && Number.isFinite(v));
  const sb = def.samples?.(b) ?? null;
  const sc = def.samples?.(c) ?? null;
  const q = def.stat ? STAT_Q[def.stat] : null;
  const base: Pending = {
    def,
    rule,
    baseline: vb.length ? mean(vb) : null,
    current: vc.length ? mean(vc) : null,
    mode: 'none',
    nB: vb.length,
    nC: vc.length,
    nUnit: 'runs',
    p: null,
    degenerate: false,
  };
  const multiB = vb.length >= budget.minRuns;
  const multiC = vc.length >= budget.minRuns;
  const oneVsMany = (multiB && vc.length === 1) || (multiC && vb.length === 1);
  // the noise reference is tested on the pooled samples whatever the run counts, against the runs' own spread
  const pooledReference = def.stat === REFERENCE_STAT && sb && sc && sb.length >= budget.minSamples && sc.length >= budget.minSamples;
  if (((multiB && multiC) || oneVsMany) && !pooledReference) {
    const w = oneVsMany ? oneVersusMany(vb, vc) : vb.length === vc.length ? studentT(vb, vc) : welch(vb, vc);
    const testName = oneVsMany
      ? `t on per-run values (1 run vs the run-to-run spread of ${Math.max(vb.length, vc.length)})`
      : vb.length === vc.length
        ? `student-t on per-run values (pooled, ${vb.length}+${vc.length} runs)`
        : 'welch-t on per-run values';
    return {
      ...base,
      mode: 'per-run',
      testName,
      welch: w,
      p: w.p,
      hedges: oneVsMany ? undefined : hedgesG(vb, vc),
      degenerate: w.se === 0 && w.diff === 0,
    };
  }
  if (q !== null && sb && sc && sb.length >= budget.minSamples && sc.length >= budget.minSamples) {
    const rng = new Rng(seedFor(budget.seed, def.id));
    const bs = bootstrapQuantileDiff(sb, sc, q, budget.resamples, rng);
    const mwu = def.stat === 'p50' ? mannWhitney(sb, sc) : undefined;
    const allowance = def.unit === 'ns' ? noiseAllowance(budget.runNoise, vb, vc, budget.minRuns) : undefined;
    return {
      ...base,
      baseline: quantileSorted(sb, q),
      current: quantileSorted(sc, q),
      noise: allowance,
      ...(b.runs.length > 1 || c.runs.length > 1 ? { testName: `bootstrap on per-fault samples pooled over ${b.runs.length}+${c.runs.length} runs` } : {}),
      mode: 'per-sample',
      nB: sb.length,
      nC: sc.length,
      nUnit: def.family === 'mode_switch' ? 'switches' : 'faults',
      reps: bs.reps,
      // no replicate on the other side of 0: p < 1/B, reported as 1/B
      p: Math.max(bootstrapP(bs.reps), 1 / bs.reps.length),
      mwu,
      degenerate: sb[0] === sb[sb.length - 1] && sc[0] === sc[sc.length - 1] && sb[0] === sc[0],
    };
  }
  // no test: point values from the samples when there are some, else the runs
  let why: string;
  if (vb.length === 0 || vc.length === 0) why = `no value on the ${vb.length === 0 ? 'baseline' : 'current'} side`;
  else if (q !== null && sb && sc) why = `fewer than min_samples (${budget.minSamples}) samples on a side (${sb.length} vs ${sc.length})`;
  else
    why = `${vb.length} vs ${vc.length} run(s)${q !== null ? ' and no per-fault samples on both sides' : ''}: a test needs >= ${budget.minRuns} runs on a side${q !== null ? ', or recordings on both' : ''}`;
  const pb = q !== null && sb && sb.length ? quantileSorted(sb, q) : base.baseline;
  const pc = q !== null && sc && sc.length ? quantileSorted(sc, q) : base.current;
  return { ...base, baseline: pb, current: pc, why };
}

// ------------------------------------------------------------- compare

export function sideInfo(s: Side): SideInfo {
  return {
    path: s.path,
    runs: s.runs.length,
    inputs: s.runs.map((r) => ({ file: r.file, type: r.type })),
    kinds: kindsOf(s),
    per_fault_samples: s.samples !== null,
    command: s.runs[0]?.command ?? null,
  };
}

export function compare(b: Side, c: Side, budget: Budget): CheckResult {
  const defs = metricDefs(b, c, budget.minSamples);
  const pending = defs.map((d) => evaluate(d, b, c, budget));
  const alpha = 1 - budget.confidence;
  // the family: the gating metrics that were tested (non-gating ones are judged at the same level)
  const family = pending.filter((p) => p.mode !== 'none' && !p.rule.ignore && p.rule.gate && !p.degenerate).length;
  const m = budget.correction === 'bonferroni' ? Math.max(1, family) : 1;
  const a = alpha / m;
  const level = 1 - a;

  const byId = new Map(pending.map((p) => [p.def.id, p]));
  const metrics: MetricResult[] = pending.map((p) => finish(p, level, a, m, noiseReference(p, byId, level)));
  const failing = metrics.filter((r) => r.fails);
  const notes: string[] = [...b.notes.map((n) => `baseline: ${n}`), ...c.notes.map((n) => `current: ${n}`)];
  const cb = b.runs[0]?.command;
  const cc = c.runs[0]?.command;
  if (cb && cc) {
    const d = commandDiff(cb, cc);
    if (d) notes.push(`the commands differ: ${d}`);
  }
  const sourceKinds = (side: Side) => new Set(side.runs.map((r) => String((r.summary.source as { kind?: unknown } | undefined)?.kind ?? 'unknown')));
  const sb = sourceKinds(b);
  const sc = sourceKinds(c);
  if ([...sb].join() !== [...sc].join()) {
    notes.push(`the sides come from different sources (baseline: ${[...sb].join(', ')}; current: ${[...sc].join(', ')}): durations, and so faults.rate, are measured differently`);
  }
  for (const side of [b, c]) {
    if (side.runs.some((r) => r.generated)) notes.push(`${side.label}: GENERATED data (simulated, not captured from a kernel)`);
  }
  const kb = kindsOf(b);
  const kc = kindsOf(c);
  for (const k of KINDS) {
    if (kb[k] && !kc[k]) notes.push(`${k} faults only in the baseline (${kb[k]}): no latency comparison for them`);
    if (!kb[k] && kc[k]) notes.push(`${k} faults only in the current (${kc[k]}): no latency comparison for them`);
  }
  if (metrics.some((r) => r.test.mode === 'per-run' && (r.test.n_baseline === 1 || r.test.n_current === 1))) {
    notes.push(
      'one run on a side: its run-to-run noise is assumed to be that of the other side; this flags more identical configurations than ' +
        'several runs a side do (use --runs 3 or more for CI gating)',
    );
  }
  if (metrics.some((r) => r.run_noise)) notes.push(oneRunNote(budget.runNoise));
  const insufficient = metrics.filter((r) => r.verdict === 'insufficient data').length;
  const untestable = metrics.filter((r) => r.verdict === UNTESTABLE).length;
  if (insufficient || untestable) {
    notes.push(
      `${insufficient + untestable} metric(s) could not be tested: ${insufficient} within their threshold (pass), ${untestable} beyond it (cannot pass: ` +
        `fail when gating); to test them give several runs a side (directories, or --runs N) or recordings on both sides`,
    );
  }

  const description =
    `A metric regresses when its change is beyond its threshold (relative, and an absolute floor) in the worse direction AND ` +
    `its ${(level * 100).toPrecision(4).replace(/\.?0+$/, '')}% interval excludes 0` +
    (budget.correction === 'bonferroni' ? ` (family-wise ${(budget.confidence * 100).toFixed(0)}% over the ${m} gating metric(s) tested, Bonferroni)` : '') +
    `; regressions of gating metrics fail, of diagnostic ones (fault stages, by default) warn` +
    `. With >= ${budget.minRuns} runs a side: t test on per-run values (Student's pooled t for equal run counts, else Welch's; ` +
    `1 run against >= ${budget.minRuns}: t with the others' run-to-run spread). ` +
    `Otherwise, with recordings on both sides: bootstrap ` +
    `(${budget.resamples} resamples, seed ${budget.seed}) of the quantile difference on per-fault samples, plus Mann-Whitney U for p50; ` +
    `as that sees no run-to-run noise, a latency regresses only if its p05 also rose significantly by more than run_noise ` +
    `(${(budget.runNoise * 100).toFixed(0)}%), else "inconclusive" (does not fail). ` +
    `Otherwise no test: within the threshold passes, beyond it fails (gating) or warns (diagnostic) as "beyond threshold, untestable".`;

  return {
    schema: CHECK_SCHEMA,
    verdict: failing.some((r) => r.verdict === 'regression') ? 'regression' : failing.length ? 'untestable' : 'pass',
    exit_code: failing.length ? 1 : 0,
    baseline: sideInfo(b),
    current: sideInfo(c),
    method: {
      confidence: budget.confidence,
      correction: budget.correction,
      family_size: family,
      level,
      resamples: budget.resamples,
      seed: budget.seed,
      min_runs: budget.minRuns,
      min_samples: budget.minSamples,
      reservoir: budget.reservoir,
      run_noise: budget.runNoise,
      budget: budget.file,
      description,
    },
    metrics,
    regressions: failing.map((r) => r.id),
    inconclusive: metrics.filter((r) => r.verdict === 'inconclusive').map((r) => r.id),
    notes,
  };
}

/** The arguments two command lines differ in, or null when equal. */
export function commandDiff(a: string[], b: string[]): string | null {
  if (a.length === b.length && a.every((x, i) => x === b[i])) return null;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  let j = 0;
  while (j < a.length - i && j < b.length - i && a[a.length - 1 - j] === b[b.length - 1 - j]) j++;
  const show = (c: string[]) => (c.slice(i, c.length - j).join(' ') || '(nothing)');
  return `baseline \`${show(a)}\`, current \`${show(b)}\` (argument ${i + 1} on)`;
}

/** The run-noise reference of a per-sample latency metric: its p05 when tested per sample, else itself. */
function noiseReference(p: Pending, byId: Map<string, Pending>, level: number): NoiseReference | undefined {
  if (p.mode !== 'per-sample' || !p.noise || !p.reps) return undefined;
  const ref = byId.get(referenceId(p.def));
  const r = ref && ref.mode === 'per-sample' && ref.reps && ref.noise ? ref : p;
  const iv = percentileInterval(r.reps!, level);
  const rel = r.baseline !== null && r.current !== null && r.baseline !== 0 ? (r.current - r.baseline) / Math.abs(r.baseline) : null;
  return { id: r.def.id, rel, sigUp: iv.low > 0, sigDown: iv.high < 0, ...r.noise! };
}

function finish(p: Pending, level: number, a: number, m: number, noise: NoiseReference | undefined): MetricResult {
  const allowance = noise?.allowance ?? 0;
  const { def, rule } = p;
  const change = p.baseline !== null && p.current !== null ? p.current - p.baseline : null;
  const rel = change !== null && p.baseline !== null && p.baseline !== 0 ? change / Math.abs(p.baseline) : null;
  const limit = p.baseline !== null ? Math.max(rule.threshold * Math.abs(p.baseline), rule.floor) : rule.floor;
  const up = change !== null && change > limit;
  const down = change !== null && -change > limit;
  const worseUp = rule.direction !== 'decrease';
  const worseDown = rule.direction !== 'increase';
  const beyondWorse = (worseUp && up) || (worseDown && down);
  const beyondBetter = (!worseUp && up) || (!worseDown && down);

  let ci: TestResult['ci'] = null;
  let name = 'none';
  let df: number | undefined;
  if (p.mode === 'per-run' && p.welch) {
    const iv = welchInterval(p.welch, level);
    ci = { level, low: iv.low, high: iv.high };
    name = p.testName ?? 'welch-t on per-run values';
    df = Number.isFinite(p.welch.df) ? p.welch.df : undefined;
  } else if (p.mode === 'per-sample' && p.reps) {
    const iv = percentileInterval(p.reps, level);
    ci = { level, low: iv.low, high: iv.high };
    name = p.testName ?? `bootstrap on per-${p.nUnit === 'switches' ? 'switch' : 'fault'} samples` + (p.mwu ? ' + mann-whitney U' : '');
  }
  // significance, and its direction
  let sigUp = ci !== null && ci.low > 0;
  let sigDown = ci !== null && ci.high < 0;
  if (p.mwu) {
    const mw = p.mwu.p < a;
    sigUp = sigUp && mw && p.mwu.a12 > 0.5;
    sigDown = sigDown && mw && p.mwu.a12 < 0.5;
  }
  const significant = sigUp || sigDown;
  const sigWorse = (worseUp && sigUp) || (worseDown && sigDown);
  const sigBetter = (!worseUp && sigUp) || (!worseDown && sigDown);
  // one run a side: a change counts only when its reference moved beyond run-to-run noise too
  const refWorse = !noise || referenceBeyond(noise, allowance, rule, true);
  const refBetter = !noise || referenceBeyond(noise, allowance, rule, false);

  const u = def.unit;
  const thr = `${rule.direction === 'decrease' ? '−' : rule.direction === 'both' ? '±' : '+'}${(rule.threshold * 100).toFixed(0)}% and ${formatValue(rule.floor, u)}`;
  const ciText = ci ? `${(ci.level * 100).toPrecision(4).replace(/\.?0+$/, '')}% CI [${formatChange(ci.low, u)}, ${formatChange(ci.high, u)}]` : '';
  let verdict: Verdict;
  let fails = false;
  let reason: string;
  if (rule.ignore) {
    verdict = 'ignored';
    reason = 'ignored by the budget';
  } else if (p.mode === 'none') {
    // No test: within the threshold it cannot be a regression; beyond it,
    // nothing says the change is noise, so it never passes.
    verdict = beyondWorse ? UNTESTABLE : 'insufficient data';
    fails = beyondWorse && rule.gate;
    reason =
      `cannot test: ${p.why}; ` +
      (beyondWorse
        ? `the change is beyond the threshold (${thr}) and cannot be judged: ${rule.gate ? 'fails' : 'a diagnostic metric: warns'}`
        : `within the threshold (${thr})`);
  } else if (sigWorse && beyondWorse && !refWorse) {
    verdict = 'inconclusive';
    reason = `beyond the threshold (${thr}) and significant within these runs (${ciText}), but ${inconclusiveReason(noise!, noise!.id === def.id)}`;
  } else if (sigWorse && beyondWorse) {
    verdict = rule.gate ? 'regression' : 'warning';
    fails = rule.gate;
    reason = `beyond the threshold (${thr}) and significant: ${ciText} excludes 0` + (rule.gate ? '' : ' (a diagnostic metric: warns, does not fail; gate: true in the budget to fail)');
  } else if (sigBetter && beyondBetter && refBetter) {
    verdict = 'improved';
    reason = `better beyond the threshold (${thr}), significant: ${ciText} excludes 0`;
  } else {
    verdict = 'ok';
    if (sigBetter && beyondBetter) reason = `better beyond the threshold (${thr}) and significant, but within run-to-run noise (one run a side)`;
    else if (beyondWorse || beyondBetter) reason = `beyond the threshold (${thr}) but not significant (${ciText}${p.mwu && !(p.mwu.p < a) ? `, mann-whitney p ${fmtP(p.mwu.p)}` : ''})`;
    else if (significant) reason = `significant but within the threshold (${thr})`;
    else reason = `within the threshold (${thr}), not significant`;
  }
  return {
    id: def.id,
    family: def.family,
    kind: def.kind,
    stage: def.stage,
    stat: def.stat,
    unit: u,
    baseline: p.baseline,
    current: p.current,
    change,
    change_rel: rel,
    rule: { threshold: rule.threshold, floor: rule.floor, direction: rule.direction, gate: rule.gate },
    beyond_threshold: beyondWorse,
    significant,
    test: {
      name,
      mode: p.mode,
      n_baseline: p.nB,
      n_current: p.nC,
      n_unit: p.nUnit,
      p: p.p,
      p_adj: p.p === null ? null : Math.min(1, p.p * m),
      ci,
      ...(df !== undefined ? { df } : {}),
      ...(p.mode === 'per-sample' && p.reps ? { resamples: p.reps.length } : {}),
      ...(p.mwu ? { mann_whitney: { p: p.mwu.p, z: p.mwu.z, a12: p.mwu.a12 } } : {}),
      ...(p.why ? { why: p.why } : {}),
    },
    effect: { abs: change, rel, ...(p.mwu ? { a12: p.mwu.a12 } : {}), ...(p.hedges !== undefined ? { hedges_g: p.hedges } : {}) },
    verdict,
    fails,
    reason,
    ...(noise
      ? { run_noise: { reference: noise.id, reference_change_rel: noise.rel, allowance, allowance_source: noise.source, beyond: referenceBeyond(noise, allowance, rule, true) } }
      : {}),
  };
}

