// The metrics `uffdscope check` compares: which exist for two sides (fault
// latency by kind and stage, per statistic; counts, rate, ioctl errors, mode
// switches), each with its value in one run and the pooled per-event samples
// of a side.
import type { Summary } from '../stats/summary.js';
import { UsageError } from '../exitCodes.js';
import { type Family, type Stat, STATS, KINDS } from './budget.js';
import { STAGE_KEYS, type Run, type Side, type StageKey } from './inputs.js';
import { quantileSorted } from './stats.js';

export const STAT_Q: Record<Stat, number> = { p05: 0.05, p50: 0.5, p90: 0.9, p99: 0.99, max: 1 };

export type Unit = 'ns' | 'faults' | 'faults/s' | 'errors' | 'switches';

/** What a metric is: its id and where it sits (definitions and results carry it). */
export interface MetricKey {
  id: string;
  family: Family;
  /** fault kind, 'all', or null (ioctls, mode switches, rate) */
  kind: string | null;
  stage: StageKey | null;
  stat: Stat | null;
  unit: Unit;
}

export interface MetricDef extends MetricKey {
  /** this metric's value in one run; null when the run has none */
  perRun: (r: Run) => number | null;
  /** the pooled per-event samples of a side, sorted; null when there are none */
  samples?: (side: Side) => Float64Array | null;
}

export function kindsOf(side: Side): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of side.runs) {
    for (const k of KINDS) {
      const n = (r.summary.faults as unknown as Record<string, number>)[k] ?? 0;
      if (n > 0) out[k] = (out[k] ?? 0) + n;
    }
  }
  return out;
}

export function stageOf(s: Summary, group: string, stage: StageKey) {
  if (group === 'all') return s.latency_ns[stage];
  return s.latency_ns_by_kind?.[group as keyof Summary['latency_ns_by_kind']]?.[stage];
}

function hasStage(side: Side, group: string, stage: StageKey): boolean {
  return side.runs.some((r) => (stageOf(r.summary, group, stage)?.count ?? 0) > 0);
}

function modeSwitchLatencies(s: Summary): number[] {
  return s.mode_switches.map((m) => m.latency_ns).filter((v): v is number => typeof v === 'number');
}

const sortedCache = new WeakMap<object, Map<string, Float64Array>>();
/** A side's (or a run's) sorted samples under `key`, made once. */
export function sideSamples(side: Side | Run, key: string, make: () => Float64Array | null): Float64Array | null {
  let m = sortedCache.get(side);
  if (!m) sortedCache.set(side, (m = new Map()));
  if (m.has(key)) return m.get(key)!;
  const v = make();
  if (v) m.set(key, v);
  return v;
}

/**
 * The metrics the two sides can be compared on. UsageError when there are none.
 * p05 only where every run has min_samples faults below it (a bootstrap of an
 * extreme quantile of a few values is not to be trusted).
 */
export function metricDefs(b: Side, c: Side, minSamples = 20): MetricDef[] {
  const kb = kindsOf(b);
  const kc = kindsOf(c);
  const common = KINDS.filter((k) => kb[k] && kc[k]);
  const union = KINDS.filter((k) => kb[k] || kc[k]);
  const msB = b.runs.some((r) => r.summary.mode_switches.length > 0);
  const msC = c.runs.some((r) => r.summary.mode_switches.length > 0);
  if (common.length === 0 && !(msB && msC)) {
    const desc = (k: Record<string, number>) => (Object.keys(k).length ? Object.entries(k).map(([n, v]) => `${v} ${n}`).join(', ') + ' userfaults' : 'no userfaults');
    throw new UsageError(
      `nothing to compare: the baseline (${b.path}) has ${desc(kb)}, the current (${c.path}) has ${desc(kc)}; no fault kind in common (different scenarios?)`,
    );
  }
  const defs: MetricDef[] = [];
  const groups: string[] = [...common];
  if (union.length >= 2 && common.length >= 1) groups.unshift('all');
  for (const g of groups) {
    for (const st of STAGE_KEYS) {
      if (!hasStage(b, g, st) || !hasStage(c, g, st)) continue;
      const key = `${g}:${st}`;
      // p05 is in no summary: only from every run's own samples (recordings, or summaries' histograms)
      const ownSamples = [...b.runs, ...c.runs].every((r) => (r.samples?.get(key)?.length ?? 0) * STAT_Q.p05 >= minSamples);
      for (const stat of STATS) {
        if (stat === 'p05' && !ownSamples) continue;
        defs.push({
          id: `latency.${g}.${st}.${stat}`,
          family: st,
          kind: g,
          stage: st,
          stat,
          unit: 'ns',
          perRun: (r) => {
            if (stat === 'p05') {
              const v = sideSamples(r, key, () => r.samples?.get(key)?.sorted() ?? null);
              return v?.length ? quantileSorted(v, STAT_Q.p05) : null;
            }
            const l = stageOf(r.summary, g, st);
            return l && l.count > 0 ? l[stat] : null;
          },
          samples: (side) => sideSamples(side, key, () => side.samples?.get(key)?.sorted() ?? null),
        });
      }
    }
  }
  for (const k of union) {
    defs.push({
      id: `faults.${k}.count`,
      family: 'count',
      kind: k,
      stage: null,
      stat: null,
      unit: 'faults',
      perRun: ({ summary: s }) => (s.faults as unknown as Record<string, number>)[k] ?? 0,
    });
  }
  defs.push({
    id: 'faults.rate',
    family: 'rate',
    kind: null,
    stage: null,
    stat: null,
    unit: 'faults/s',
    perRun: ({ summary: s }) => (s.duration_ns > 0 ? s.faults.total / (s.duration_ns / 1e9) : null),
  });
  const ioctls = new Set<string>();
  for (const side of [b, c]) for (const r of side.runs) for (const n of Object.keys(r.summary.ioctls ?? {})) ioctls.add(n);
  for (const n of [...ioctls].sort()) {
    defs.push({
      id: `ioctl.${n}.errors`,
      family: 'ioctl_errors',
      kind: null,
      stage: null,
      stat: null,
      unit: 'errors',
      perRun: ({ summary: s }) => s.ioctls?.[n]?.errors ?? 0,
    });
  }
  if (msB || msC) {
    defs.push({
      id: 'mode_switch.failures',
      family: 'mode_switch_failures',
      kind: null,
      stage: null,
      stat: null,
      unit: 'switches',
      perRun: ({ summary: s }) => s.mode_switches.filter((m) => m.result !== null && m.result !== 0).length,
    });
    const hasLat = (side: Side) => side.runs.some((r) => modeSwitchLatencies(r.summary).length > 0);
    if (hasLat(b) && hasLat(c)) {
      const ownTail = [...b.runs, ...c.runs].every((r) => modeSwitchLatencies(r.summary).length * STAT_Q.p05 >= minSamples);
      for (const stat of STATS) {
        if (stat === 'p05' && !ownTail) continue;
        defs.push({
          id: `mode_switch.latency.${stat}`,
          family: 'mode_switch',
          kind: null,
          stage: null,
          stat,
          unit: 'ns',
          perRun: ({ summary: s }) => {
            const v = modeSwitchLatencies(s).sort((x, y) => x - y);
            return v.length ? quantileSorted(v, STAT_Q[stat]) : null;
          },
          samples: (side) =>
            sideSamples(side, 'mode_switch', () => {
              const all = side.runs.flatMap((r) => modeSwitchLatencies(r.summary));
              return all.length ? Float64Array.from(all).sort() : null;
            }),
        });
      }
    }
  }
  return defs;
}
