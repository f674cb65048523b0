// The statistics behind `uffdscope check`, on GENERATED sample sets (seeded).
// Reference values for Welch and Mann-Whitney from scipy.stats 1.17
// (ttest_ind(equal_var=False), mannwhitneyu(method='asymptotic')).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Reservoir,
  Rng,
  bootstrapP,
  bootstrapQuantileDiff,
  drawBootstrapQuantile,
  mannWhitney,
  percentileInterval,
  quantileSorted,
  studentQuantileTwoSided,
  studentTwoSidedP,
  welch,
  welchInterval,
  oneVersusMany,
  studentT,
} from '../../src/check/stats.js';
import { lognormal, sorted } from '../fixtures/check/gen.js';

const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tolerance ${tol})`);

test('Rng: same seed, same stream; uniform mean and normal moments', () => {
  const a = new Rng(42);
  const b = new Rng(42);
  for (let i = 0; i < 100; i++) assert.equal(a.next(), b.next());
  const r = new Rng(7);
  let s = 0;
  let s2 = 0;
  let u = 0;
  const n = 200_000;
  for (let i = 0; i < n; i++) {
    const z = r.normal();
    s += z;
    s2 += z * z;
    u += r.next();
  }
  close(u / n, 0.5, 0.005, 'uniform mean');
  close(s / n, 0, 0.01, 'normal mean');
  close(s2 / n, 1, 0.02, 'normal variance');
  let beta = 0;
  for (let i = 0; i < 50_000; i++) beta += r.beta(3, 7);
  close(beta / 50_000, 0.3, 0.005, 'Beta(3,7) mean');
});

test('Reservoir: bounded, uniform, keeps the maximum', () => {
  const res = new Reservoir(1000, 1);
  for (let i = 0; i < 100_000; i++) res.add(i);
  assert.equal(res.length, 1000);
  assert.equal(res.seen, 100_000);
  const s = res.sorted();
  assert.equal(s[s.length - 1], 99_999, 'exact max kept');
  // uniform: the sample median is near the stream median
  close(quantileSorted(s, 0.5), 50_000, 5_000, 'median of a uniform sample');
  const small = new Reservoir(10, 1);
  for (const v of [5, 3, 9]) small.add(v);
  assert.deepEqual([...small.sorted()], [3, 5, 9]);
});

test('exact bootstrap draw of a quantile matches resampling by brute force', () => {
  const rng = new Rng(3);
  const x = sorted(lognormal(rng, 41, 1000, 0.8));
  for (const q of [0.5, 0.9, 1]) {
    const B = 20_000;
    const fast: number[] = [];
    const slow: number[] = [];
    const r1 = new Rng(11);
    const r2 = new Rng(12);
    for (let b = 0; b < B; b++) {
      fast.push(drawBootstrapQuantile(x, q, r1));
      const re = new Float64Array(x.length);
      for (let i = 0; i < x.length; i++) re[i] = x[r2.int(x.length)];
      slow.push(quantileSorted(re.sort(), q));
    }
    fast.sort((a, b) => a - b);
    slow.sort((a, b) => a - b);
    for (const p of [0.05, 0.25, 0.5, 0.75, 0.95]) {
      const i = Math.floor(p * B);
      // same distribution: quantiles of the two bootstrap distributions agree to a rank or so
      const rf = x.indexOf(fast[i]);
      const rs = x.indexOf(slow[i]);
      assert.ok(Math.abs(rf - rs) <= 1, `q=${q} p=${p}: rank ${rf} vs ${rs}`);
    }
  }
});

test('bootstrap of a shifted distribution: interval excludes 0 and covers the shift', () => {
  const rng = new Rng(5);
  const base = sorted(lognormal(rng, 5000, 20_000, 0.5));
  const cur = sorted(lognormal(rng, 5000, 20_000, 0.5, 1.3));
  const bs = bootstrapQuantileDiff(base, cur, 0.5, 4000, new Rng(1));
  const ci = percentileInterval(bs.reps, 0.99);
  assert.ok(ci.low > 0, `CI [${ci.low}, ${ci.high}] excludes 0`);
  assert.ok(ci.low < 6000 && ci.high > 6000, `CI [${ci.low}, ${ci.high}] covers the true +6000 ns`);
  assert.ok(bootstrapP(bs.reps) < 0.001);
});

test('identical distributions: the raw bootstrap and Mann-Whitney reject at about their nominal 5%', () => {
  // calibration of the tests alone (no threshold, no family-wise correction)
  const trials = 300;
  let bootRej = 0;
  let mwRej = 0;
  let p99Rej = 0;
  for (let t = 0; t < trials; t++) {
    const rng = new Rng(1000 + t);
    const a = sorted(lognormal(rng, 400, 20_000, 0.6));
    const b = sorted(lognormal(rng, 400, 20_000, 0.6));
    const ci = percentileInterval(bootstrapQuantileDiff(a, b, 0.5, 1000, new Rng(t)).reps, 0.95);
    if (ci.low > 0 || ci.high < 0) bootRej++;
    if (mannWhitney(a, b).p < 0.05) mwRej++;
    const ci99 = percentileInterval(bootstrapQuantileDiff(a, b, 0.99, 1000, new Rng(t + 7)).reps, 0.95);
    if (ci99.low > 0 || ci99.high < 0) p99Rej++;
  }
  assert.ok(bootRej / trials <= 0.09, `bootstrap p50 rejected ${bootRej}/${trials}`);
  assert.ok(mwRej / trials <= 0.09, `Mann-Whitney rejected ${mwRej}/${trials}`);
  assert.ok(p99Rej / trials <= 0.1, `bootstrap p99 rejected ${p99Rej}/${trials}`);
});

test('Mann-Whitney U: matches scipy (asymptotic, continuity correction); A12', () => {
  const x = Float64Array.from([1.1, 2.2, 3.3, 4.4, 10.0]);
  const y = Float64Array.from([3.0, 4.5, 5.5, 6.0, 7.25, 9.0]);
  const r = mannWhitney(x, y);
  assert.equal(r.u, 22);
  close(r.p, 0.23533326650958586, 1e-6, 'p');
  close(r.a12, 22 / 30, 1e-12, 'A12');
  const same = mannWhitney(Float64Array.from([1, 2, 3]), Float64Array.from([1, 2, 3]));
  assert.equal(same.p, 1);
  assert.equal(same.a12, 0.5);
});

test("Welch's t: statistic, df, p and interval match scipy", () => {
  const x = [1.1, 2.2, 3.3, 4.4, 10.0];
  const y = [3.0, 4.5, 5.5, 6.0, 7.25, 9.0];
  const w = welch(x, y);
  close(w.t, 0.9456651039755476, 1e-9, 't');
  close(w.df, 6.336750698137026, 1e-9, 'df');
  close(w.p, 0.3789692373485543, 1e-7, 'p');
  const ci = welchInterval(w, 0.99);
  close(ci.low, -4.750824791343937, 1e-5, 'CI low');
  close(ci.high, 8.100824791343936, 1e-5, 'CI high');
  const w2 = welch([55700, 58200, 61000], [61100, 57400, 66000]);
  close(w2.p, 0.3466352457989145, 1e-7, 'p (3 vs 3)');
  // no variance at all: exact
  assert.deepEqual(welchInterval(welch([2048, 2048], [2048, 2048]), 0.95), { low: 0, high: 0 });
  assert.equal(welch([2048, 2048], [2049, 2049]).p, 0);
});

test("Student's pooled t: matches scipy (equal_var=True)", () => {
  const x = [1.1, 2.2, 3.3, 4.4, 10.0];
  const y = [3.0, 4.5, 5.5, 6.0, 7.25, 9.0];
  const s = studentT(x, y);
  close(s.t, 0.9913754634637587, 1e-9, 't');
  assert.equal(s.df, 9);
  close(s.p, 0.3474057418429773, 1e-7, 'p');
});

test('one run against several: prediction t (se = s * sqrt(1 + 1/n), df = n - 1)', () => {
  const w = oneVersusMany([56383, 55455, 55359], [60000]);
  close(w.t, 6.535246543348909, 1e-9, 't');
  assert.equal(w.df, 2);
  close(w.p, 0.022622526805256126, 1e-7, 'p');
  // either side may be the single run; the sign follows current - baseline
  const r = oneVersusMany([60000], [56383, 55455, 55359]);
  close(r.t, -6.535246543348909, 1e-9, 't reversed');
});

test('Student t: two-sided p and quantile', () => {
  close(studentTwoSidedP(2.228, 10), 0.05001177181711132, 1e-7, 'p(2.228, 10)');
  close(studentQuantileTwoSided(0.0025, 2.5), 12.629365903411136, 1e-5, 't(0.99875, 2.5)');
  close(studentQuantileTwoSided(0.05, 1), 12.706204736, 1e-5, 't(0.975, 1)');
});
