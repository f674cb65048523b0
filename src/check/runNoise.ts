// One run a side: what host load alone does to a run, and how check keeps it
// from reading as a regression.
//
// The per-fault tests of one recording a side see the noise within each run,
// not the noise between runs. On a busy host the runs themselves differ: over
// identical configurations (README, "One run a side"), one run's fault-latency
// p50 and p99 moved by several times, its p05 (the fastest twentieth of the
// faults) far less. Host load delays some faults; a slower handler,
// kernel or device delays every fault, the fastest too.
//
// So when a per-fault test has one run on a side, each latency is judged by
// its p05 (the reference): a statistic of that latency is a regression only
// when it is beyond its threshold and significant AND the reference rose
// significantly by more than `run_noise` (relative; budget key run_noise).
// Beyond its threshold and significant with the reference inside run_noise:
// "inconclusive", stated, not failing. With several runs a side the per-run
// t tests measure the run-to-run spread themselves; the p05 alone is also
// tested on the pooled faults, its allowance then the runs' own spread.
import type { Rule } from './budget.js';
import type { MetricDef } from './metrics.js';

/** How far, and how surely, a latency's reference statistic moved. */
export interface NoiseReference {
  /** metric id of the reference (the same latency's p05, else the metric itself) */
  id: string;
  /** relative change of the reference (null: its baseline is 0 or missing) */
  rel: number | null;
  sigUp: boolean;
  sigDown: boolean;
  /** how far (relative) the reference may move from run-to-run noise alone */
  allowance: number;
  /** where the allowance comes from */
  source: AllowanceSource;
}

/** run_noise: a side has one run (or fewer than min_runs); spread: the runs' own relative range */
export type AllowanceSource = 'run_noise' | 'spread';

/** What a metric's result says about the rule (in the verdict JSON). */
export interface RunNoiseResult {
  reference: string;
  reference_change_rel: number | null;
  allowance: number;
  allowance_source: AllowanceSource;
  /** the reference moved beyond the allowance, significantly, in the worse direction */
  beyond: boolean;
}

/** The statistic a latency is judged by when the runs cannot show their own noise. */
export const REFERENCE_STAT = 'p05';

/** The reference of a latency metric: its p05's id (same family and kind). */
export function referenceId(def: MetricDef): string {
  return def.id.replace(/\.[^.]+$/, `.${REFERENCE_STAT}`);
}

/**
 * The noise allowance of a per-sample test, from the per-run values of the
 * statistic: the largest relative range (max / min - 1) of a side with
 * several runs, and at least `runNoise` when a side has fewer than `minRuns`
 * (one run cannot show its own noise).
 */
export function noiseAllowance(runNoise: number, b: readonly number[], c: readonly number[], minRuns: number): { allowance: number; source: AllowanceSource } {
  const range = (v: readonly number[]) => (v.length >= 2 && Math.min(...v) > 0 ? Math.max(...v) / Math.min(...v) - 1 : 0);
  const spread = Math.max(range(b), range(c));
  if (b.length >= minRuns && c.length >= minRuns) return { allowance: spread, source: 'spread' };
  return spread > runNoise ? { allowance: spread, source: 'spread' } : { allowance: runNoise, source: 'run_noise' };
}

/** Whether the reference moved beyond the allowance in the rule's worse (or better) direction. */
export function referenceBeyond(ref: NoiseReference, allowance: number, rule: Pick<Rule, 'direction'>, worse: boolean): boolean {
  if (ref.rel === null) return false;
  // noise is a factor: down by the same factor as up (x1.6 up, /1.6 down)
  const up = ref.sigUp && ref.rel > allowance;
  const down = ref.sigDown && 1 + ref.rel < 1 / (1 + allowance);
  const worseUp = rule.direction !== 'decrease';
  const worseDown = rule.direction !== 'increase';
  return worse ? (worseUp && up) || (worseDown && down) : (!worseUp && up) || (!worseDown && down);
}

function pct(r: number): string {
  return `${r >= 0 ? '+' : '−'}${Math.abs(r * 100).toFixed(0)}%`;
}

/** The reason of an inconclusive verdict. */
export function inconclusiveReason(ref: NoiseReference, self: boolean): string {
  const moved = ref.rel === null ? 'did not move measurably' : `moved ${pct(ref.rel)}`;
  const from = ref.source === 'spread' ? "the runs' own spread" : 'run_noise: one run cannot show its own noise';
  return (
    `within run-to-run noise: ${self ? 'it' : `its reference ${ref.id} (the fastest faults)`} ${moved}, ` +
    `not significantly beyond the noise allowance (x${(1 + ref.allowance).toFixed(2)}, ${from})` +
    (ref.source === 'run_noise' ? '; give 3 or more runs a side (--runs 3) to judge it' : '')
  );
}

/** The note a comparison with one run a side carries: what it can and cannot tell. */
export function oneRunNote(allowance: number): string {
  const a = `${(allowance * 100).toFixed(0)}%`;
  return (
    `one run a side: the per-fault tests see the noise within a run, not between runs, and on a busy host load moves ` +
    `a whole run's p50 and p99 by several times. A latency change counts only when the same latency's p05 ` +
    `(its fastest faults, which host load spares) moved significantly by more than run_noise (${a}). ` +
    `One run a side can tell a slowdown of every fault by more than ${a}; it cannot tell smaller changes, or changes of ` +
    `the slow faults alone (p90, p99, max), from host noise: those are "inconclusive". Gate CI on 3 or more runs a side ` +
    `(--save-baseline DIR --runs 5, then --runs 3 -- CMD)`
  );
}
