// In-kernel statistics (`stat --in-kernel`): the BPF side counts faults and
// histograms waits per uffd context in a per-CPU map (bpf/uffdscope.h,
// struct uscope_uffd_stats) instead of writing a record per fault. This
// module sums the CPUs and derives the figures; every function is pure.
import { C, L } from '../events/layout.generated.js';

const F = L.uscope_uffd_stats.fields;
const SUB_BITS = C.USCOPE_WAIT_SUB_BITS;
const SUB = 1 << SUB_BITS;
export const WAIT_BUCKETS = C.USCOPE_WAIT_BUCKETS;

/** One uffd context's statistics, summed over CPUs. */
export interface UffdWaitStats {
  /** struct userfaultfd_ctx * */
  uffd: bigint;
  /** CLOCK_BOOTTIME of its creation; 0 when created before tracing began
   *  (a context freed and reallocated at the same address is another uffd) */
  createdNs: bigint;
  /** the process whose fault created the entry */
  pid: number;
  /** ctx->features at the latest fault (of the CPU that saw the latest fault) */
  ctxFeatures: number;
  /** page faults in VMAs armed by this uffd: user faults, and faults the
   *  kernel resolved without one (a read of a WP-armed page, say) */
  entries: number;
  /** ... by how the VMA is armed */
  entriesMissing: number;
  entriesWp: number;
  entriesMinor: number;
  /** faults that slept in handle_userfault() */
  blocked: number;
  /** sleeps after the first, of the same fault */
  rewaits: number;
  /** waits ended: fault to the thread back on a CPU, once per blocked fault */
  waits: number;
  waitSumNs: number;
  waitMaxNs: number;
  lastFaultTsNs: bigint;
  /** log-linear buckets (waitBucket) */
  hist: number[];
}

/** The bucket of a wait of `ns` nanoseconds, as the BPF side computes it:
 *  below 8 ns one bucket per value; then 8 equal sub-buckets per power of
 *  two; the last bucket holds everything longer. */
export function waitBucket(ns: number): number {
  if (ns < SUB) return Math.max(0, Math.floor(ns));
  // exact for whole numbers below 2^50; from 2^40 on all land in the last bucket
  const top = Math.floor(Math.log2(ns));
  const i = (top - SUB_BITS + 1) * SUB + Math.floor(ns / 2 ** (top - SUB_BITS)) % SUB;
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

/** The wait at quantile q (0..1) of a histogram: the middle of the bucket
 *  holding it (at most 6.25 % from any value in that bucket); null when
 *  the histogram is empty. */
export function waitQuantile(hist: readonly number[], q: number): number | null {
  const total = hist.reduce((a, b) => a + b, 0);
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

/** A uffd with nothing counted yet. */
export function emptyWaitStats(uffd: bigint, createdNs: bigint): UffdWaitStats {
  return {
    uffd,
    createdNs,
    pid: 0,
    ctxFeatures: 0,
    entries: 0,
    entriesMissing: 0,
    entriesWp: 0,
    entriesMinor: 0,
    blocked: 0,
    rewaits: 0,
    waits: 0,
    waitSumNs: 0,
    waitMaxNs: 0,
    lastFaultTsNs: 0n,
    hist: new Array<number>(WAIT_BUCKETS).fill(0),
  };
}

/** Sums one map entry's per-CPU values (`perCpu`: ncpu structs back to back). */
export function sumPerCpu(uffd: bigint, createdNs: bigint, perCpu: Buffer): UffdWaitStats {
  const size = L.uscope_uffd_stats.size;
  if (perCpu.length === 0 || perCpu.length % size !== 0) {
    throw new Error(`in-kernel stats: ${perCpu.length} bytes is not a whole number of ${size}-byte entries`);
  }
  const dv = new DataView(perCpu.buffer, perCpu.byteOffset, perCpu.byteLength);
  const s = emptyWaitStats(uffd, createdNs);
  // Counters are u64 per CPU; a re-wait moves a sample between CPUs, so one
  // CPU's count can wrap below zero. Summing as BigInt modulo 2^64 and then
  // reading as signed gives the exact total.
  const sum = (field: { offset: number }, extra = 0): number => {
    let t = 0n;
    for (let o = 0; o < perCpu.length; o += size) t += dv.getBigUint64(o + field.offset + extra, true);
    return Number(BigInt.asIntN(64, t));
  };
  for (let o = 0; o < perCpu.length; o += size) {
    const pid = dv.getUint32(o + F.tgid.offset, true);
    if (pid && !s.pid) s.pid = pid;
    const last = dv.getBigUint64(o + F.last_fault_ts_ns.offset, true);
    if (last > s.lastFaultTsNs) {
      s.lastFaultTsNs = last;
      s.ctxFeatures = dv.getUint32(o + F.ctx_features.offset, true);
    }
    const max = Number(dv.getBigUint64(o + F.wait_max_ns.offset, true));
    if (max > s.waitMaxNs) s.waitMaxNs = max;
  }
  s.entries = sum(F.entries);
  s.entriesMissing = sum(F.entries_missing);
  s.entriesWp = sum(F.entries_wp);
  s.entriesMinor = sum(F.entries_minor);
  s.blocked = sum(F.blocked);
  s.rewaits = sum(F.rewaits);
  s.waits = sum(F.waits);
  s.waitSumNs = sum(F.wait_sum_ns);
  for (let i = 0; i < WAIT_BUCKETS; i++) s.hist[i] = sum(F.wait_hist, i * 8);
  return s;
}

/** The JSON form of one uffd's statistics (`stat --in-kernel --json-out`). */
export interface UffdWaitSummary {
  uffd: string;
  /** boot-time ns of its creation, null when created before tracing began */
  created_ns: number | null;
  pid: number;
  ctx_features: string;
  /** sync or async, from ctx_features (WP_ASYNC / RWP_ASYNC), when known */
  mode: string | null;
  /** page faults in armed VMAs, by how the VMA is armed (a VMA armed two
   *  ways counts in both); `blocked` of them reached handle_userfault() and
   *  waited */
  fault_entries: { total: number; missing: number; wp: number; minor: number };
  blocked: number;
  rewaits: number;
  wait: { count: number; mean_ns: number | null; p50_ns: number | null; p90_ns: number | null; p99_ns: number | null; max_ns: number | null };
}

/** `modeOf`: sync/async from ctx->features (the registry's, which knows the
 *  uapi table and its overrides); without it, mode is null. */
export function summarizeUffd(s: UffdWaitStats, modeOf?: (ctxFeatures: number) => string): UffdWaitSummary {
  // a bucket's middle can lie above the largest wait in it: never report more than the max
  const q = (p: number) => {
    const v = waitQuantile(s.hist, p);
    return v !== null && s.waits > 0 ? Math.min(v, s.waitMaxNs) : v;
  };
  return {
    uffd: '0x' + s.uffd.toString(16),
    created_ns: s.createdNs > 0n ? Number(s.createdNs) : null,
    pid: s.pid,
    ctx_features: '0x' + s.ctxFeatures.toString(16),
    mode: modeOf ? modeOf(s.ctxFeatures) : null,
    fault_entries: { total: s.entries, missing: s.entriesMissing, wp: s.entriesWp, minor: s.entriesMinor },
    blocked: s.blocked,
    rewaits: s.rewaits,
    wait: {
      count: s.waits,
      mean_ns: s.waits > 0 ? s.waitSumNs / s.waits : null,
      p50_ns: q(0.5),
      p90_ns: q(0.9),
      p99_ns: q(0.99),
      max_ns: s.waits > 0 ? s.waitMaxNs : null,
    },
  };
}

const us = (ns: number | null): string => (ns === null ? '-' : ns >= 1e6 ? `${(ns / 1e6).toFixed(2)}ms` : `${(ns / 1e3).toFixed(1)}us`);

/** The table `stat --in-kernel` prints, one row per uffd, busiest first.
 *  `created` is seconds after `startNs` (boot time; 0: boot), `-` for a
 *  uffd created before tracing began: a context address reused by a later
 *  uffd shows once per uffd. */
export function formatInKernelTable(rows: readonly UffdWaitSummary[], startNs = 0): string {
  const head = ['pid', 'uffd', 'created', 'mode', 'entries', 'missing', 'wp', 'minor', 'blocked', 'rewaits', 'wait p50', 'p90', 'p99', 'max', 'mean'];
  const body = [...rows]
    .sort((a, b) => b.fault_entries.total - a.fault_entries.total || (a.created_ns ?? 0) - (b.created_ns ?? 0))
    .map((r) => [
      String(r.pid),
      r.uffd,
      r.created_ns === null ? '-' : ((r.created_ns - startNs) / 1e9).toFixed(3),
      r.mode ?? '-',
      String(r.fault_entries.total),
      String(r.fault_entries.missing),
      String(r.fault_entries.wp),
      String(r.fault_entries.minor),
      String(r.blocked),
      String(r.rewaits),
      us(r.wait.p50_ns),
      us(r.wait.p90_ns),
      us(r.wait.p99_ns),
      us(r.wait.max_ns),
      us(r.wait.mean_ns),
    ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 || i === 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const lines = [
    'in-kernel statistics (counted in the kernel: no per-fault events, stages or timeline)',
    'entries: page faults in VMAs the uffd arms; blocked: of them, waits in handle_userfault(); wait: fault to back on a CPU (buckets within 6.25 %)',
    line(head),
    ...body.map(line),
  ];
  if (body.length === 0) lines.push('(no uffd faults seen)');
  if (rows.length >= C.USCOPE_MAX_STAT_UFFDS) lines.push(`WARNING: ${C.USCOPE_MAX_STAT_UFFDS} uffds counted, the most the kernel map holds: faults of later uffds were not counted`);
  return lines.join('\n');
}
