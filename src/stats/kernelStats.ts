// In-kernel statistics (the default of top, serve and stat): the BPF side
// counts faults and histograms each wait and its stages per uffd in a map
// (bpf/uffdscope.h, struct uscope_uffd_stats) instead of writing records
// per fault. This module decodes one map value and derives the figures;
// every function is pure.
import { C, L } from '../events/layout.generated.js';
import { FAULT_KINDS, type FaultKind } from '../model/faultLifecycle.js';
import { STAGES, type Stage } from './stats.js';
import { ioctlName, type Uapi } from '../events/uapi.js';
import { textTable } from './summaryText.js';

const F = L.uscope_uffd_stats.fields;
const SUB_BITS = C.USCOPE_WAIT_SUB_BITS;
const SUB = 1 << SUB_BITS;
export const WAIT_BUCKETS = C.USCOPE_WAIT_BUCKETS;

/** The bucket of a value of `ns` nanoseconds, as the BPF side computes it:
 *  below 8 ns one bucket per value; then 8 equal sub-buckets per power of
 *  two; the last bucket holds everything longer. */
export function waitBucket(ns: number): number {
  if (ns < SUB) return Math.max(0, Math.floor(ns));
  // exact for whole numbers below 2^50; from 2^40 on all land in the last bucket
  const top = Math.floor(Math.log2(ns));
  const i = (top - SUB_BITS + 1) * SUB + (Math.floor(ns / 2 ** (top - SUB_BITS)) % SUB);
  return Math.min(i, WAIT_BUCKETS - 1);
}

/** [low, high) of bucket i in nanoseconds. */
export function bucketBounds(i: number): [number, number] {
  if (i < SUB) return [i, i + 1];
  const top = Math.floor(i / SUB) + SUB_BITS - 1;
  const width = 2 ** (top - SUB_BITS);
  const low = 2 ** top + (i % SUB) * width;
  return [low, low + width];
}

/** The value at quantile q (0..1) of a histogram: the middle of the bucket
 *  holding it (at most 6.25 % from any value in that bucket); null when
 *  the histogram is empty. */
export function waitQuantile(hist: ArrayLike<number>, q: number): number | null {
  let total = 0;
  for (let i = 0; i < hist.length; i++) total += hist[i];
  if (total <= 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    seen += hist[i];
    if (seen >= rank) {
      const [lo, hi] = bucketBounds(i);
      return (lo + hi - 1) / 2;
    }
  }
  return null;
}

/** One stage's distribution as the kernel keeps it. */
export class StageHist {
  count = 0;
  sumNs = 0;
  maxNs = 0;
  readonly hist = new Float64Array(WAIT_BUCKETS);

  /** The value at quantile q, never above the largest one seen. */
  quantile(q: number): number | null {
    const v = this.count > 0 ? waitQuantile(this.hist, q) : null;
    return v === null ? null : Math.min(v, this.maxNs);
  }

  get meanNs(): number | null {
    return this.count > 0 ? this.sumNs / this.count : null;
  }

  /** Adds another stage's samples (a sum over uffds). */
  add(o: StageHist): void {
    this.count += o.count;
    this.sumNs += o.sumNs;
    if (o.maxNs > this.maxNs) this.maxNs = o.maxNs;
    for (let i = 0; i < WAIT_BUCKETS; i++) this.hist[i] += o.hist[i];
  }

  /** Counts per power of two: [lo, hi) ns with lo = 2^k (0 for values below 1 ns). */
  log2Buckets(): Array<{ lo: number; hi: number; count: number }> {
    const out = new Map<number, number>();
    for (let i = 0; i < WAIT_BUCKETS; i++) {
      const n = this.hist[i];
      if (!n) continue;
      const lo = bucketBounds(i)[0];
      const k = lo < 1 ? -1 : Math.floor(Math.log2(lo));
      out.set(k, (out.get(k) ?? 0) + n);
    }
    return [...out.entries()].sort((a, b) => a[0] - b[0]).map(([k, count]) => (k < 0 ? { lo: 0, hi: 1, count } : { lo: 2 ** k, hi: 2 ** (k + 1), count }));
  }

  /** The non-empty buckets, lowest first, as [value, count]: value is the
   *  bucket's middle (as quantile() reports), never above the largest seen. */
  buckets(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let i = 0; i < WAIT_BUCKETS; i++) {
      const n = this.hist[i];
      if (!n) continue;
      const [lo, hi] = bucketBounds(i);
      out.push([Math.min((lo + hi - 1) / 2, this.maxNs), n]);
    }
    return out;
  }

  /** Samples at or below `le` ns, a bucket counted whole on the side of its middle. */
  countAtOrBelow(le: number): number {
    let n = 0;
    for (let i = 0; i < WAIT_BUCKETS; i++) {
      const [lo, hi] = bucketBounds(i);
      if ((lo + hi - 1) / 2 > le) break;
      n += this.hist[i];
    }
    return n;
  }
}

/** One uffd's statistics as the kernel counted them. */
export interface UffdKernelStats {
  /** struct userfaultfd_ctx * */
  uffd: bigint;
  /** CLOCK_BOOTTIME of its creation; 0 when its creation was not seen (before tracing began, or made by the kernel at fork for UFFD_FEATURE_EVENT_FORK) */
  createdNs: bigint;
  /** the process whose fault created the entry */
  pid: number;
  /** the latest process to read its fault messages; 0: none seen */
  handlerPid: number;
  /** ctx->features at the latest fault */
  ctxFeatures: number;
  /** page faults in VMAs armed by this uffd, and by how the VMA is armed
   *  (a VMA armed two ways counts in both) */
  entries: number;
  entriesMissing: number;
  entriesWp: number;
  entriesMinor: number;
  /** faults that slept in handle_userfault(), and sleeps after the first */
  blocked: number;
  rewaits: number;
  /** blocked faults whose return to a CPU no hook saw: counted, not timed */
  endsUnseen: number;
  /** userfaults by kind: a fault that waited, once it runs again; an async one as it enters */
  userfaults: Record<FaultKind, number>;
  /** fault messages read by handlers */
  msgs: number;
  lastFaultTsNs: bigint;
  stages: Record<Stage, StageHist>;
}

/** A u64 counter as a Number (exact below 2^53); read signed: a re-wait
 *  read between its subtract and its add can be one below. */
function u64(dv: DataView, off: number): number {
  return dv.getInt32(off + 4, true) * 0x100000000 + dv.getUint32(off, true);
}

/** The userfaults of a uffd, all kinds. */
export function userfaultsOf(s: Pick<UffdKernelStats, 'userfaults'>): number {
  let n = 0;
  for (const k of FAULT_KINDS) n += s.userfaults[k];
  return n;
}

/** Decodes one map value. `reuse`: the same uffd's previous decode, whose
 *  histograms are kept when no stage count changed (most uffds, most reads)
 *  and else overwritten in place: a busy host's thousand uffds, read twice a
 *  second, would otherwise make ~20 MB/s of garbage arrays. */
export function decodeUffdStats(uffd: bigint, createdNs: bigint, value: Buffer, reuse?: UffdKernelStats): UffdKernelStats {
  if (value.length !== L.uscope_uffd_stats.size) {
    throw new Error(`in-kernel stats: ${value.length} bytes, expected ${L.uscope_uffd_stats.size}`);
  }
  const dv = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const userfaults = {} as Record<FaultKind, number>;
  FAULT_KINDS.forEach((k, i) => (userfaults[k] = u64(dv, F.userfaults.offset + 8 * i)));
  const counts = STAGES.map((_, i) => u64(dv, F.stage_count.offset + 8 * i));
  const same = reuse !== undefined && STAGES.every((st, i) => reuse.stages[st].count === counts[i] && reuse.stages[st].sumNs === u64(dv, F.stage_sum_ns.offset + 8 * i));
  let stages: Record<Stage, StageHist>;
  if (same) stages = reuse.stages;
  else {
    stages = reuse?.stages ?? ({} as Record<Stage, StageHist>);
    STAGES.forEach((st, i) => {
      const h = (stages[st] ??= new StageHist());
      h.count = counts[i];
      h.sumNs = u64(dv, F.stage_sum_ns.offset + 8 * i);
      h.maxNs = u64(dv, F.stage_max_ns.offset + 8 * i);
      const base = F.stage_hist.offset + i * WAIT_BUCKETS * 8;
      for (let b = 0; b < WAIT_BUCKETS; b++) h.hist[b] = u64(dv, base + 8 * b);
    });
  }
  return {
    uffd,
    createdNs,
    pid: dv.getUint32(F.tgid.offset, true),
    handlerPid: dv.getUint32(F.handler_tgid.offset, true),
    ctxFeatures: dv.getUint32(F.ctx_features.offset, true),
    entries: u64(dv, F.entries.offset),
    entriesMissing: u64(dv, F.entries_missing.offset),
    entriesWp: u64(dv, F.entries_wp.offset),
    entriesMinor: u64(dv, F.entries_minor.offset),
    blocked: u64(dv, F.blocked.offset),
    rewaits: u64(dv, F.rewaits.offset),
    endsUnseen: u64(dv, F.ends_unseen.offset),
    userfaults,
    msgs: u64(dv, F.msgs.offset),
    lastFaultTsNs: dv.getBigUint64(F.last_fault_ts_ns.offset, true),
    stages,
  };
}

/** Faults waiting now: blocked and not yet back on a CPU. */
export function pendingOf(s: UffdKernelStats): number {
  return Math.max(0, s.blocked - s.stages.total.count - s.endsUnseen);
}

/** The JSON form of one uffd's statistics (`stat --json-out`, in-kernel). */
export interface UffdKernelSummary {
  uffd: string;
  /** boot-time ns of its creation, null when its creation was not seen (before tracing began, or made by the kernel at fork) */
  created_ns: number | null;
  pid: number;
  handler_pid: number | null;
  ctx_features: string;
  /** sync or async, from ctx_features (WP_ASYNC / RWP_ASYNC), when known */
  mode: string | null;
  userfaults: Record<FaultKind, number> & { total: number };
  /** page faults in armed VMAs, by how the VMA is armed */
  fault_entries: { total: number; missing: number; wp: number; minor: number };
  blocked: number;
  rewaits: number;
  /** blocked faults whose end no hook saw (not in latency) */
  ends_unseen: number;
  msgs: number;
  latency: Record<Stage, StageSummary>;
}

export interface StageSummary {
  count: number;
  mean_ns: number | null;
  p50_ns: number | null;
  p90_ns: number | null;
  p99_ns: number | null;
  max_ns: number | null;
  /** the histogram's non-empty buckets as [value_ns, count] (value: the
   *  bucket's middle, within 6.25 %); lets `check` run per-fault tests on
   *  summaries. Per uffd: the total only; in the totals: every stage */
  hist_ns?: Array<[number, number]>;
}

/** The JSON form of every stage's distribution (one uffd's, or a sum's):
 *  with `hists` 'all', every stage's buckets; 'total', the total's alone (a
 *  host with 1,000 uffds would carry 3,000 more histograms); 'none', only
 *  the quantiles (what a table prints). */
export function summarizeStages(stages: Record<Stage, StageHist>, hists: 'none' | 'total' | 'all' = 'total'): UffdKernelSummary['latency'] {
  const latency = {} as UffdKernelSummary['latency'];
  for (const st of STAGES) {
    const h = stages[st];
    latency[st] = { count: h.count, mean_ns: h.meanNs, p50_ns: h.quantile(0.5), p90_ns: h.quantile(0.9), p99_ns: h.quantile(0.99), max_ns: h.count > 0 ? h.maxNs : null };
    if (hists === 'all' || (hists === 'total' && st === 'total')) latency[st].hist_ns = h.buckets();
  }
  return latency;
}

export function summarizeUffd(s: UffdKernelStats, modeOf?: (ctxFeatures: number) => string, hists: 'none' | 'total' = 'total'): UffdKernelSummary {
  const latency = summarizeStages(s.stages, hists);
  return {
    uffd: '0x' + s.uffd.toString(16),
    created_ns: s.createdNs > 0n ? Number(s.createdNs) : null,
    pid: s.pid,
    handler_pid: s.handlerPid || null,
    ctx_features: '0x' + s.ctxFeatures.toString(16),
    mode: modeOf ? modeOf(s.ctxFeatures) : null,
    userfaults: { ...s.userfaults, total: userfaultsOf(s) },
    fault_entries: { total: s.entries, missing: s.entriesMissing, wp: s.entriesWp, minor: s.entriesMinor },
    blocked: s.blocked,
    rewaits: s.rewaits,
    ends_unseen: s.endsUnseen,
    msgs: s.msgs,
    latency,
  };
}

const us = (ns: number | null): string => (ns === null ? '-' : ns >= 1e6 ? `${(ns / 1e6).toFixed(2)}ms` : `${(ns / 1e3).toFixed(1)}us`);

/** The table stat prints from the kernel's counts, one row per uffd,
 *  busiest first. `created` is seconds after `startNs` (boot time), `-`
 *  for a uffd created before tracing began: a context address reused by a
 *  later uffd shows once per uffd. `names`: pid -> process name. */
export function formatKernelTable(rows: readonly UffdKernelSummary[], startNs = 0, names: (pid: number) => string | undefined = () => undefined): string {
  const head = ['pid', 'comm', 'uffd', 'created', 'mode', 'userfaults', 'entries', 'blocked', 'total p50', 'p99', 'queue p50', 'service p50', 'wake p50', 'handler'];
  const body = [...rows]
    .sort((a, b) => b.userfaults.total - a.userfaults.total || b.fault_entries.total - a.fault_entries.total || (a.created_ns ?? 0) - (b.created_ns ?? 0))
    .map((r) => [
      String(r.pid),
      names(r.pid) ?? '?',
      r.uffd,
      r.created_ns === null ? '-' : ((r.created_ns - startNs) / 1e9).toFixed(3),
      r.mode ?? '-',
      String(r.userfaults.total),
      String(r.fault_entries.total),
      String(r.blocked),
      us(r.latency.total.p50_ns),
      us(r.latency.total.p99_ns),
      us(r.latency.queue.p50_ns),
      us(r.latency.service.p50_ns),
      us(r.latency.wake.p50_ns),
      r.handler_pid === null ? '-' : `${names(r.handler_pid) ?? '?'}/${r.handler_pid}`,
    ]);
  const left = new Set([1, 2, 4, 13]);
  const lines = [
    'counted in the kernel: userfaults (faults that waited, or were resolved async) and entries (page faults in VMAs the uffd arms);',
    'latency: fault to back on a CPU, and its stages queue / service / wake (buckets within 6.25 %)',
    textTable(head, body, head.map((_, i) => (left.has(i) ? 'l' : 'r')), ''),
  ];
  if (body.length === 0) lines.push('(no uffd faults seen)');
  if (rows.length >= C.USCOPE_MAX_STAT_UFFDS) lines.push(`WARNING: ${C.USCOPE_MAX_STAT_UFFDS} uffds counted, the most the kernel map holds: faults of later uffds were not counted`);
  return lines.join('\n');
}

/** The per-fault uffd ioctls the kernel counted (by ioctl nr), by name. */
export function perFaultIoctls(byNr: readonly number[], uapi: Uapi): Record<string, number> {
  const out: Record<string, number> = {};
  byNr.forEach((n, nr) => {
    if (n) out[ioctlName(Number(uapi.UFFDIO_TYPE << 8n) | nr, uapi)] = n;
  });
  return out;
}
