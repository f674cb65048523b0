// A latency histogram as text, bpftrace style: one line per power of two
// from the lowest to the highest non-empty bucket (empty ones between them
// included), with its count and a bar scaled to the largest count; and which
// histograms `stat --hist` and `report --hist` draw (and put in their JSON).
import type { FaultKind } from '../model/faultTypes.js';
import { STAGES, type GroupStats, type Stage, type Stats } from './stats.js';

export interface Log2Count {
  /** [lo, hi) ns; lo = 2^k, or 0 for the bucket of values below 1 ns */
  lo: number;
  hi: number;
  count: number;
}

const SUFFIX = ['', 'K', 'M', 'G', 'T'];

/** 2^k as bpftrace writes it: 512, 1K, 2K, ..., 1M (powers of 1024). */
function pow2Label(v: number): string {
  let i = 0;
  while (v >= 1024 && v % 1024 === 0 && i < SUFFIX.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v}${SUFFIX[i]}`;
}

/** The lines of the histogram, or one line saying it is empty. */
export function formatLog2Histogram(title: string, buckets: readonly Log2Count[], width = 50): string {
  const seen = buckets.filter((b) => b.count > 0);
  if (seen.length === 0) return `${title}\n  (no samples)`;
  const byLo = new Map<number, number>();
  for (const b of seen) byLo.set(b.lo, (byLo.get(b.lo) ?? 0) + b.count);
  const ks = seen.map((b) => (b.lo === 0 ? -1 : Math.log2(b.lo)));
  const rows: Array<[string, number]> = [];
  for (let k = Math.min(...ks); k <= Math.max(...ks); k++) {
    const lo = k < 0 ? 0 : 2 ** k;
    rows.push([`[${pow2Label(lo)}, ${pow2Label(2 ** (k + 1))})`, byLo.get(lo) ?? 0]);
  }
  const peak = Math.max(...rows.map((r) => r[1]));
  const labelW = Math.max(...rows.map((r) => r[0].length));
  const countW = Math.max(...rows.map((r) => String(r[1]).length));
  const lines = rows.map(([label, n]) => {
    const bar = '@'.repeat(Math.round((n / peak) * width));
    return `${label.padEnd(labelW)}  ${String(n).padStart(countW)} |${bar.padEnd(width)}|`;
  });
  return [title, ...lines].join('\n');
}

/** Anything that counts per power of two: an HDR histogram (faults streamed) or the kernel's log-linear one. */
export interface Log2Source {
  log2Buckets(): Log2Count[];
}

/** One histogram `--hist` draws, as the JSON carries it. Whose faults: one
 *  kind, one process (pid -1: those beyond the per-process cap), or, with
 *  neither, all userfaults. */
export interface LatencyHist {
  stage: Stage;
  kind?: FaultKind;
  pid?: number;
  comm?: string;
  buckets: Log2Count[];
}

const STAGE_TITLES: Record<Stage, string> = {
  total: 'total latency (ns): fault to back on a CPU',
  queue: 'queue (ns): fault to its message read',
  service: 'service (ns): message read to the wake-up by the resolving ioctl',
  wake: 'wake (ns): that wake-up to back on a CPU',
};

function histTitle(h: LatencyHist): string {
  // a group's histogram names the stage only: the all-userfaults one above it says what it spans
  const stage = `${h.stage === 'total' ? 'total latency' : h.stage} (ns)`;
  if (h.kind !== undefined) return `${h.kind} faults: ${stage}`;
  if (h.pid !== undefined) return `${h.pid < 0 ? 'other processes' : `pid ${h.pid} ${h.comm || '?'}`}: ${stage}`;
  return STAGE_TITLES[h.stage];
}

/** A group's histograms in stage order: total always (an empty one says so), other stages when they have samples. */
export function stageHists(stages: Partial<Record<Stage, Log2Source | null>>, whose: Pick<LatencyHist, 'kind' | 'pid' | 'comm'> = {}): LatencyHist[] {
  const out: LatencyHist[] = [];
  for (const stage of STAGES) {
    const src = stages[stage];
    const buckets = src ? src.log2Buckets() : [];
    if (stage === 'total' || buckets.length > 0) out.push({ stage, ...whose, buckets });
  }
  return out;
}

/** What `report --hist` draws: every stage of all userfaults, then the total
 *  latency of each fault kind and of each process that has timed faults. */
export function recordingHists(stats: Stats): LatencyHist[] {
  const out = stageHists(stats.latency);
  for (const [kind, g] of stats.byKind) if (g.latency.total) out.push(...stageHists({ total: g.latency.total }, { kind }));
  const pids: Array<[number, GroupStats]> = [...stats.byPid].sort((a, b) => b[1].faults - a[1].faults || a[0] - b[0]);
  pids.push([-1, stats.otherPids]);
  for (const [pid, g] of pids) {
    if (g.latency.total) out.push(...stageHists({ total: g.latency.total }, { pid, comm: g.comm }));
  }
  return out;
}

/** The histograms as text, a blank line between them: how `stat --hist` and `report --hist` draw. */
export function formatLatencyHists(hists: readonly LatencyHist[], width?: number): string {
  return hists.map((h) => formatLog2Histogram(histTitle(h), h.buckets, width)).join('\n\n');
}
