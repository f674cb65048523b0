// Latency distributions: a thin wrapper over hdr-histogram-js, fixed to
// nanoseconds, 1 ns .. 60 s, 3 significant digits. Every latency uffdscope
// reports goes through this class; no array of samples is ever kept.
//
// Values outside the range are clamped (and counted): a negative stage (two
// CPUs' clocks a few ns apart) records as 0, anything above 60 s as 60 s.
// count/min/max/mean are tracked exactly beside the histogram; percentiles
// come from the histogram (within 0.1%).

import * as hdr from 'hdr-histogram-js';

export const HISTOGRAM_LOWEST_NS = 1;
export const HISTOGRAM_HIGHEST_NS = 60e9;
export const HISTOGRAM_DIGITS = 3;

export interface LatencySnapshot {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface Log2Bucket {
  /** bucket covers [lo, hi) ns; lo = 2^k (0 for the bucket of zeros) */
  lo: number;
  hi: number;
  count: number;
}

export interface LatencyHistogramOptions {
  /** PackedHistogram: a few hundred bytes while sparse, ~5x slower to record. */
  packed?: boolean;
}

export class LatencyHistogram {
  private readonly h: hdr.JsHistogram;
  private n = 0;
  private sum = 0;
  private lo = Infinity;
  private hi = 0;
  /** values recorded below 0 (as 0) or above 60 s (as 60 s) */
  clamped = 0;
  // hdr's index arithmetic, for the fast path (values < 2^32 ns)
  private readonly fast: boolean;
  private readonly halfMag: number;
  private readonly unitMag: number;
  private readonly halfCount: number;

  constructor(opts: LatencyHistogramOptions = {}) {
    const C = opts.packed ? hdr.PackedHistogram : hdr.Int32Histogram;
    this.h = new C(HISTOGRAM_LOWEST_NS, HISTOGRAM_HIGHEST_NS, HISTOGRAM_DIGITS);
    this.h.autoResize = false;
    this.halfMag = this.h.subBucketHalfCountMagnitude;
    this.unitMag = this.h.unitMagnitude;
    this.halfCount = this.h.subBucketHalfCount;
    this.fast = !opts.packed;
  }

  /**
   * hdr's counts index of v (0 <= v < 2^32), as JsHistogram.countsArrayIndex
   * computes it, with integer ops instead of log2/pow (hdr-histogram-js spends
   * most of recordValue there).
   */
  private index32(v: number): number {
    let bucket = 31 - Math.clz32(v) - this.halfMag - this.unitMag;
    if (bucket < 0) bucket = 0;
    const sub = v >>> (bucket + this.unitMag);
    return ((bucket + 1) << this.halfMag) + (sub - this.halfCount);
  }

  private put(v: number): void {
    const h = this.h;
    if (this.fast && v < 0x100000000) {
      h.incrementCountAtIndex(this.index32(v));
      h.updateMinAndMax(v);
      h.incrementTotalCount();
    } else h.recordValue(v);
  }

  /** Records one latency in ns (fractions are truncated). */
  record(ns: number): void {
    let v = ns;
    if (!(v >= 0)) {
      // negative or NaN
      v = 0;
      this.clamped++;
    } else if (v > HISTOGRAM_HIGHEST_NS) {
      v = HISTOGRAM_HIGHEST_NS;
      this.clamped++;
    } else {
      v = Math.floor(v);
    }
    this.put(v);
    this.n++;
    this.sum += v;
    if (v < this.lo) this.lo = v;
    if (v > this.hi) this.hi = v;
  }

  /** Records `count` occurrences of one value. */
  recordCount(ns: number, count: number): void {
    if (count <= 0) return;
    let v = ns;
    if (!(v >= 0)) {
      v = 0;
      this.clamped += count;
    } else if (v > HISTOGRAM_HIGHEST_NS) {
      v = HISTOGRAM_HIGHEST_NS;
      this.clamped += count;
    } else {
      v = Math.floor(v);
    }
    this.h.recordValueWithCount(v, count);
    this.n += count;
    this.sum += v * count;
    if (v < this.lo) this.lo = v;
    if (v > this.hi) this.hi = v;
  }

  /** hdr's own counts index of v, for checking the fast path against it. */
  checkIndex(v: number): { fast: number; hdr: number } {
    return { fast: this.index32(v), hdr: this.h.countsArrayIndex(v) };
  }

  get count(): number {
    return this.n;
  }

  /** Exact largest recorded value (0 when empty). */
  get max(): number {
    return this.hi;
  }

  /** Exact smallest recorded value (0 when empty). */
  get min(): number {
    return this.n ? this.lo : 0;
  }

  /** Exact arithmetic mean (0 when empty). */
  get mean(): number {
    return this.n ? this.sum / this.n : 0;
  }

  /**
   * Value at percentile p (0..100): the highest value equivalent (within the
   * histogram's resolution) to the recorded value at that rank, capped at the
   * exact maximum. 0 when empty.
   */
  percentile(p: number): number {
    if (!this.n) return 0;
    const v = this.h.getValueAtPercentile(Math.min(100, Math.max(0, p)));
    return Math.min(v, this.hi);
  }

  snapshot(): LatencySnapshot {
    return { count: this.n, p50: this.percentile(50), p90: this.percentile(90), p99: this.percentile(99), max: this.max };
  }

  /** Adds all of `other`'s values to this histogram. */
  merge(other: LatencyHistogram): void {
    if (!other.n) return;
    this.h.add(other.h);
    this.n += other.n;
    this.sum += other.sum;
    this.clamped += other.clamped;
    if (other.lo < this.lo) this.lo = other.lo;
    if (other.hi > this.hi) this.hi = other.hi;
  }

  reset(): void {
    this.h.reset();
    this.n = 0;
    this.sum = 0;
    this.lo = Infinity;
    this.hi = 0;
    this.clamped = 0;
  }

  /**
   * The non-empty buckets, lowest first, as [value, count]: value is the
   * bucket's highest equivalent value (as percentile() reports), capped at
   * the exact maximum. What a summary carries for per-fault tests.
   */
  buckets(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    const h = this.h;
    const len = h.countsArrayLength;
    for (let i = 0; i < len; i++) {
      const c = h.getCountAtIndex(i);
      if (c) out.push([Math.min(h.highestEquivalentValue(h.valueFromIndex(i)), this.hi), c]);
    }
    return out;
  }

  /**
   * Counts per power-of-two bucket [2^k, 2^(k+1)) in ns, from the lowest to
   * the highest non-empty bucket (empty buckets in between included, so a
   * text histogram can print them as is). Exact: hdr's sub-buckets never
   * straddle a power of two. Zeros get the bucket {lo: 0, hi: 1}.
   */
  log2Buckets(): Log2Bucket[] {
    if (!this.n) return [];
    const h = this.h;
    const counts = new Map<number, number>(); // k -> count, k = -1 for zero
    let kmin = Infinity;
    let kmax = -Infinity;
    const len = h.countsArrayLength;
    for (let i = 0; i < len; i++) {
      const c = h.getCountAtIndex(i);
      if (!c) continue;
      const v = h.valueFromIndex(i);
      const k = v === 0 ? -1 : log2Floor(v);
      counts.set(k, (counts.get(k) ?? 0) + c);
      if (k < kmin) kmin = k;
      if (k > kmax) kmax = k;
    }
    const out: Log2Bucket[] = [];
    for (let k = kmin; k <= kmax; k++) {
      out.push({ lo: k < 0 ? 0 : 2 ** k, hi: 2 ** (k + 1), count: counts.get(k) ?? 0 });
    }
    return out;
  }
}

/** floor(log2(v)) for v >= 1, exact for every integer value. */
export function log2Floor(v: number): number {
  if (v < 0x80000000) return 31 - Math.clz32(v);
  let k = Math.floor(Math.log2(v));
  if (2 ** k > v) k--;
  else if (2 ** (k + 1) <= v) k++;
  return k;
}
