// Statistics for `uffdscope check`: a seeded random source, a bounded
// uniform reservoir of per-fault samples, the bootstrap of a quantile
// difference, the Mann-Whitney U test and Welch's t interval.
//
// Everything random is seeded, so a comparison gives the same answer every
// time it is run on the same inputs.

// ---------------------------------------------------------------- random

/** xoshiro128** seeded through splitmix32: fast, good enough, reproducible. */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare: number | null = null;

  constructor(seed: number) {
    let x = seed >>> 0;
    const next = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** uniform uint32 */
  u32(): number {
    const r = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3 >>> 0, 11);
    this.s0 >>>= 0;
    this.s1 >>>= 0;
    this.s2 >>>= 0;
    return r;
  }

  /** uniform in [0, 1), 53 bits */
  next(): number {
    return ((this.u32() >>> 5) * 67108864 + (this.u32() >>> 6)) / 9007199254740992;
  }

  /** uniform integer in [0, n) */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Gamma(shape, 1) by Marsaglia & Tsang (boosted for shape < 1). */
  gamma(shape: number): number {
    if (shape < 1) {
      let u = 0;
      while (u === 0) u = this.next();
      return this.gamma(shape + 1) * Math.pow(u, 1 / shape);
    }
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.next();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v;
      if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  /** Beta(a, b) */
  beta(a: number, b: number): number {
    const x = this.gamma(a);
    const y = this.gamma(b);
    return x / (x + y);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** A stable 32-bit seed from a base seed and a label (FNV-1a). */
export function seedFor(base: number, label: string): number {
  let h = (0x811c9dc5 ^ base) >>> 0;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

// ------------------------------------------------------------- reservoir

/**
 * A uniform random sample of at most `cap` values out of a stream of any
 * length (Vitter's algorithm R), seeded. The largest value seen is kept
 * exactly (sorted() puts it in when sampling dropped it), so `max` is exact.
 */
export class Reservoir {
  private values: Float64Array;
  private size = 0;
  /** values offered */
  seen = 0;
  max = -Infinity;
  private readonly rng: Rng;

  constructor(
    readonly cap: number,
    seed: number,
  ) {
    this.values = new Float64Array(Math.min(cap, 1024));
    this.rng = new Rng(seed);
  }

  add(v: number): void {
    this.seen++;
    if (v > this.max) this.max = v;
    if (this.size < this.cap) {
      if (this.size === this.values.length) {
        const grown = new Float64Array(Math.min(this.cap, this.values.length * 2));
        grown.set(this.values);
        this.values = grown;
      }
      this.values[this.size++] = v;
      return;
    }
    const j = this.rng.int(this.seen);
    if (j < this.cap) this.values[j] = v;
  }

  get length(): number {
    return this.size;
  }

  /** The sample, sorted ascending (a copy). */
  sorted(): Float64Array {
    const out = this.values.slice(0, this.size);
    if (this.size > 0 && this.seen > this.size) {
      let has = false;
      for (let i = 0; i < out.length && !has; i++) if (out[i] === this.max) has = true;
      if (!has) out[this.rng.int(out.length)] = this.max;
    }
    return out.sort();
  }
}

// ------------------------------------------------------------- quantiles

/** Nearest-rank quantile of sorted values; q = 1 is the maximum. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const m = sorted.length;
  if (m === 0) return NaN;
  const k = q >= 1 ? m : Math.max(1, Math.ceil(q * m));
  return sorted[k - 1];
}

export function mean(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

export function variance(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) * (x - m);
  return s / (xs.length - 1);
}

// ------------------------------------------------------------- bootstrap

/**
 * One bootstrap draw of the nearest-rank q-quantile: the quantile of m
 * values resampled with replacement from `sorted`, drawn exactly without
 * building the resample. Its k-th order statistic is F_m^-1(U_(k)), and the
 * k-th order statistic of m uniforms is Beta(k, m - k + 1).
 */
export function drawBootstrapQuantile(sorted: Float64Array, q: number, rng: Rng): number {
  const m = sorted.length;
  if (m === 1) return sorted[0];
  const k = q >= 1 ? m : Math.max(1, Math.ceil(q * m));
  const u = rng.beta(k, m - k + 1);
  const i = Math.min(m - 1, Math.max(0, Math.ceil(u * m) - 1));
  return sorted[i];
}

export interface BootstrapDiff {
  /** current - baseline on the whole samples */
  diff: number;
  /** the resampled differences, sorted ascending */
  reps: Float64Array;
}

/** Bootstrap distribution of quantile(current) - quantile(baseline), independent resamples of each side. */
export function bootstrapQuantileDiff(base: Float64Array, cur: Float64Array, q: number, resamples: number, rng: Rng): BootstrapDiff {
  const reps = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) reps[b] = drawBootstrapQuantile(cur, q, rng) - drawBootstrapQuantile(base, q, rng);
  reps.sort();
  return { diff: quantileSorted(cur, q) - quantileSorted(base, q), reps };
}

/** Percentile interval at `level` from sorted replicates. */
export function percentileInterval(reps: Float64Array, level: number): { low: number; high: number } {
  const B = reps.length;
  const a = (1 - level) / 2;
  const lo = Math.min(B - 1, Math.max(0, Math.ceil(a * B) - 1));
  const hi = Math.min(B - 1, Math.max(0, Math.ceil((1 - a) * B) - 1));
  return { low: reps[lo], high: reps[hi] };
}

/** Two-sided bootstrap p-value for "difference is 0": twice the smaller tail at 0. */
export function bootstrapP(reps: Float64Array): number {
  let le = 0;
  let ge = 0;
  for (const r of reps) {
    if (r <= 0) le++;
    if (r >= 0) ge++;
  }
  return Math.min(1, (2 * Math.min(le, ge)) / reps.length);
}

// ---------------------------------------------------------- Mann-Whitney

export interface MannWhitney {
  /** U of the current sample */
  u: number;
  z: number;
  /** two-sided, normal approximation with tie and continuity corrections */
  p: number;
  /** P(current > baseline) + P(equal)/2 (Vargha-Delaney A; 0.5 = no effect) */
  a12: number;
}

/** Mann-Whitney U test of two SORTED samples (linear merge; ties get average ranks). */
export function mannWhitney(base: Float64Array, cur: Float64Array): MannWhitney {
  const nx = base.length;
  const ny = cur.length;
  let i = 0;
  let j = 0;
  let rank = 0;
  let ry = 0;
  let ties = 0;
  while (i < nx || j < ny) {
    const v = j >= ny || (i < nx && base[i] <= cur[j]) ? base[i] : cur[j];
    let cx = 0;
    let cy = 0;
    while (i < nx && base[i] === v) {
      i++;
      cx++;
    }
    while (j < ny && cur[j] === v) {
      j++;
      cy++;
    }
    const t = cx + cy;
    ry += cy * (rank + (t + 1) / 2);
    rank += t;
    if (t > 1) ties += t * t * t - t;
  }
  const u = ry - (ny * (ny + 1)) / 2;
  const n = nx + ny;
  const mu = (nx * ny) / 2;
  const sigma2 = ((nx * ny) / 12) * (n + 1 - ties / (n * (n - 1)));
  const a12 = u / (nx * ny);
  if (sigma2 <= 0) return { u, z: 0, p: 1, a12 };
  const d = u - mu;
  const z = (d - 0.5 * Math.sign(d)) / Math.sqrt(sigma2);
  return { u, z, p: Math.min(1, erfc(Math.abs(z) / Math.SQRT2)), a12 };
}

// ----------------------------------------------------------------- Welch

export interface Welch {
  diff: number;
  se: number;
  df: number;
  t: number;
  /** two-sided */
  p: number;
}

/** Welch's t test on the difference of means (current - baseline). */
export function welch(base: readonly number[], cur: readonly number[]): Welch {
  const diff = mean(cur) - mean(base);
  const vb = variance(base) / base.length;
  const vc = variance(cur) / cur.length;
  const se = Math.sqrt(vb + vc);
  if (!(se > 0)) return { diff, se: 0, df: Infinity, t: diff === 0 ? 0 : Math.sign(diff) * Infinity, p: diff === 0 ? 1 : 0 };
  const df = (vb + vc) ** 2 / ((base.length > 1 ? vb * vb / (base.length - 1) : 0) + (cur.length > 1 ? vc * vc / (cur.length - 1) : 0));
  const t = diff / se;
  return { diff, se, df, t, p: studentTwoSidedP(t, df) };
}

/**
 * Student's t with the pooled variance (df = nb + nc - 2). With equal run
 * counts its statistic is Welch's and it is robust to unequal variances;
 * its degrees of freedom do not collapse to n - 1 when one side is noisier.
 */
export function studentT(base: readonly number[], cur: readonly number[]): Welch {
  const nb = base.length;
  const nc = cur.length;
  const diff = mean(cur) - mean(base);
  const df = nb + nc - 2;
  const sp2 = df > 0 ? ((nb - 1) * variance(base) + (nc - 1) * variance(cur)) / df : 0;
  const se = Math.sqrt(sp2 * (1 / nb + 1 / nc));
  if (!(se > 0)) return { diff, se: 0, df: Infinity, t: diff === 0 ? 0 : Math.sign(diff) * Infinity, p: diff === 0 ? 1 : 0 };
  const t = diff / se;
  return { diff, se, df, t, p: studentTwoSidedP(t, df) };
}

/**
 * One value against several (either side may be the single one): the
 * difference (current - baseline) tested against the spread of the several,
 * assumed to be the spread of the single one too (a prediction interval):
 * se = s * sqrt(1/n + 1), df = n - 1.
 */
export function oneVersusMany(base: readonly number[], cur: readonly number[]): Welch {
  const many = base.length > 1 ? base : cur;
  const n = many.length;
  const diff = mean(cur) - mean(base);
  const se = Math.sqrt(variance(many)) * Math.sqrt(1 / n + 1);
  const df = n - 1;
  if (!(se > 0)) return { diff, se: 0, df: Infinity, t: diff === 0 ? 0 : Math.sign(diff) * Infinity, p: diff === 0 ? 1 : 0 };
  const t = diff / se;
  return { diff, se, df, t, p: studentTwoSidedP(t, df) };
}

/** Interval for a Welch difference at `level`. */
export function welchInterval(w: Welch, level: number): { low: number; high: number } {
  if (!(w.se > 0)) return { low: w.diff, high: w.diff };
  const tc = studentQuantileTwoSided(1 - level, w.df);
  return { low: w.diff - tc * w.se, high: w.diff + tc * w.se };
}

// ------------------------------------------------------ special functions

/** erfc, |relative error| < 1.2e-7 (Numerical Recipes' Chebyshev fit). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

function lgamma(x: number): number {
  // Lanczos, g = 7, n = 9
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lgamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

function betacf(a: number, b: number, x: number): number {
  const FPMIN = 1e-300;
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < FPMIN) d = FPMIN;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < FPMIN) d = FPMIN;
    c = 1 + aa / c;
    if (Math.abs(c) < FPMIN) c = FPMIN;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < FPMIN) d = FPMIN;
    c = 1 + aa / c;
    if (Math.abs(c) < FPMIN) c = FPMIN;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-14) break;
  }
  return h;
}

/** Regularized incomplete beta I_x(a, b). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const bt = Math.exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  if (x < (a + 1) / (a + b + 2)) return (bt * betacf(a, b, x)) / a;
  return 1 - (bt * betacf(b, a, 1 - x)) / b;
}

/** P(|T| >= |t|) for Student's t with df degrees of freedom. */
export function studentTwoSidedP(t: number, df: number): number {
  if (!Number.isFinite(t)) return 0;
  if (!Number.isFinite(df)) return Math.min(1, erfc(Math.abs(t) / Math.SQRT2));
  return Math.min(1, incompleteBeta(df / (df + t * t), df / 2, 0.5));
}

/** t such that P(|T| >= t) = alpha. */
export function studentQuantileTwoSided(alpha: number, df: number): number {
  let lo = 0;
  let hi = 1;
  while (studentTwoSidedP(hi, df) > alpha && hi < 1e12) hi *= 2;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (studentTwoSidedP(mid, df) > alpha) lo = mid;
    else hi = mid;
    if (hi - lo < 1e-10 * hi) break;
  }
  return (lo + hi) / 2;
}
