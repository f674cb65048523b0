// The live views' figures when the kernel counts (the default of top):
// per uffd rate, totals, percentiles, waiting faults and handler from the
// in-kernel statistics (KernelStatsTracker), in the shapes the snapshot
// already has. Uffds the kernel counted but no streamed event named (made
// before tracing began) get rows of their own.
import { kernelKey, type KernelStatsTracker } from '../stats/kernelStatsTracker.js';
import { pendingOf, userfaultsOf, StageHist, type UffdKernelStats } from '../stats/kernelStats.js';
import { STAGES, type Stage } from '../stats/stats.js';
import type { LatencyView, StageSummary, UffdRow } from './topSnapshot.js';

export function stageSummary(h: StageHist): StageSummary {
  if (h.count <= 0) return { count: 0, p50Ns: null, p90Ns: null, p99Ns: null, maxNs: null };
  return { count: h.count, p50Ns: h.quantile(0.5), p90Ns: h.quantile(0.9), p99Ns: h.quantile(0.99), maxNs: h.maxNs };
}

/** Stages with nothing measured. */
export function emptyStages(): Record<Stage, StageHist> {
  return { total: new StageHist(), queue: new StageHist(), service: new StageHist(), wake: new StageHist() };
}

/** The latency view of one uffd's stages, or of all uffds'. */
export function kernelLatency(stages: Record<Stage, StageHist>, selected: string, endsUnseen = 0): LatencyView {
  const v = { selected, endsUnseen, buckets: stages.total.log2Buckets().map((b) => ({ lowNs: b.lo, highNs: b.hi, count: b.count })) } as LatencyView;
  for (const st of STAGES) v[st] = stageSummary(stages[st]);
  return v;
}

/** A uffd's key as the model writes it, from the kernel's (0: created before tracing). */
export function kernelUffdKey(s: Pick<UffdKernelStats, 'uffd' | 'createdNs'>): string {
  return kernelKey(s.uffd, s.createdNs);
}

/** The figures of a row that the kernel counts. */
export function kernelRowFigures(
  s: UffdKernelStats | undefined,
  tracker: KernelStatsTracker,
  nowSec: number,
  historyS: number,
  name: (pid: number) => string | undefined,
): Pick<UffdRow, 'faultsPerSec' | 'faultsTotal' | 'p50Ns' | 'p99Ns' | 'pending' | 'handler' | 'rateHistory'> {
  const ring = s ? tracker.rate(s.uffd, s.createdNs) : undefined;
  const history: number[] = [];
  for (let sec = nowSec - historyS + 1; sec <= nowSec; sec++) history.push(ring ? ring.at(sec * 1e9) : 0);
  const total = s ? stageSummary(s.stages.total) : null;
  return {
    faultsPerSec: ring ? ring.at((nowSec - 1) * 1e9) : 0,
    faultsTotal: s ? userfaultsOf(s) : 0,
    p50Ns: total?.p50Ns ?? null,
    p99Ns: total?.p99Ns ?? null,
    pending: s ? pendingOf(s) : 0,
    handler: s && s.handlerPid ? `${name(s.handlerPid) ?? '?'}/${s.handlerPid}` : '',
    rateHistory: history,
  };
}
