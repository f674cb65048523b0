// `uffdscope check` decisions on GENERATED sample sets and recordings (seeded),
// and on summaries of real runs of the bundled workload
// (test/fixtures/check/postcopy-d0, -d200: 3 runs each, handler delay 0 / 200 µs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { compare, commandDiff, type CheckResult } from '../../src/check/compare.js';
import { metricDefs } from '../../src/check/metrics.js';
import { DEFAULT_BUDGET, validateBudget, type Budget } from '../../src/check/budget.js';
import { loadSide } from '../../src/check/inputs.js';
import { formatCheckTable } from '../../src/check/report.js';
import { Rng } from '../../src/check/stats.js';
import { UsageError } from '../../src/exitCodes.js';
import {
  FIXTURES,
  lognormal,
  realSummary,
  scaledSummary,
  sideFromSamples,
  sideFromSummaries,
  stageSamples,
  tmpDir,
  writeRecording,
} from '../fixtures/check/gen.js';

const fast: Budget = { ...DEFAULT_BUDGET, resamples: 2000 };
const metric = (r: CheckResult, id: string) => {
  const m = r.metrics.find((x) => x.id === id);
  assert.ok(m, `metric ${id} in ${r.metrics.map((x) => x.id).join(', ')}`);
  return m;
};
const load = (label: 'baseline' | 'current', p: string) => loadSide(label, p, { uapi: null, reservoir: 50_000, seed: 1 });

test('shifted distribution (x2, one run a side): flagged on p05/p50/p90 with the bootstrap + Mann-Whitney, interval and effect reported', () => {
  const rng = new Rng(1);
  const b = sideFromSamples('baseline', stageSamples(rng, 4000));
  const c = sideFromSamples('current', stageSamples(rng, 4000, 2));
  const r = compare(b, c, fast);
  assert.equal(r.exit_code, 1);
  assert.equal(r.verdict, 'regression');
  const p50 = metric(r, 'latency.missing.fault.p50');
  assert.equal(p50.verdict, 'regression');
  assert.equal(p50.test.mode, 'per-sample');
  assert.match(p50.test.name, /bootstrap.*mann-whitney/);
  assert.ok(p50.test.ci!.low > 0);
  assert.ok(p50.test.mann_whitney!.p < 1e-6 && p50.test.mann_whitney!.a12 > 0.5);
  assert.ok(Math.abs(p50.change_rel! - 1) < 0.1, `effect ${p50.change_rel}`);
  assert.deepEqual(p50.run_noise, { reference: 'latency.missing.fault.p05', reference_change_rel: metric(r, 'latency.missing.fault.p05').change_rel, allowance: 0.6, allowance_source: 'run_noise', beyond: true });
  assert.equal(metric(r, 'latency.missing.fault.p05').verdict, 'regression');
  assert.equal(p50.effect.abs, p50.change);
  assert.equal(metric(r, 'latency.missing.fault.p90').verdict, 'regression');
  // the stages are diagnostics: a warning, not a failure, unless the budget gates them
  const q50 = metric(r, 'latency.missing.queue.p50');
  assert.equal(q50.verdict, 'warning');
  assert.equal(q50.fails, false);
  assert.ok(!r.regressions.includes('latency.missing.queue.p50'));
  const gated = compare(b, c, { ...validateBudget({ metrics: { queue: { p50: { gate: true } } } }), resamples: 2000 });
  assert.equal(metric(gated, 'latency.missing.queue.p50').verdict, 'regression');
  assert.ok(gated.regressions.includes('latency.missing.queue.p50'));
  // counts from one summary a side: no test possible, and unchanged
  const count = metric(r, 'faults.missing.count');
  assert.equal(count.verdict, 'insufficient data');
  assert.equal(count.fails, false);
});

test('one run a side, +30% everywhere: significant within the runs but inside run_noise, so "inconclusive" (exit 0, stated); run_noise 0.2 judges it', () => {
  const rng = new Rng(1);
  const b = sideFromSamples('baseline', stageSamples(rng, 4000));
  const c = sideFromSamples('current', stageSamples(rng, 4000, 1.3));
  const r = compare(b, c, fast);
  assert.equal(r.exit_code, 0);
  assert.equal(r.verdict, 'pass');
  for (const id of ['latency.missing.fault.p05', 'latency.missing.fault.p50', 'latency.missing.fault.p90']) {
    const m = metric(r, id);
    assert.equal(m.verdict, 'inconclusive', id);
    assert.equal(m.fails, false);
    assert.equal(m.significant, true, id);
    assert.equal(m.beyond_threshold, true, id);
    assert.match(m.reason, /within run-to-run noise/);
  }
  assert.ok(r.inconclusive.includes('latency.missing.fault.p50'));
  assert.ok(r.notes.some((n) => /^one run a side: .*cannot tell smaller changes/.test(n)), r.notes.join('\n'));
  const table = formatCheckTable(r);
  assert.match(table, /^uffdscope check: pass \(no regression in \d+ metrics; \d+ inconclusive: beyond threshold but within run-to-run noise, one run a side\)/);
  assert.match(table, /Inconclusive \(one run a side: within run-to-run noise, not failing\):\n  latency\.missing\.fault\.p05: /);
  const tight = compare(b, c, { ...validateBudget({ run_noise: 0.2 }), resamples: 2000 });
  assert.equal(tight.exit_code, 1);
  assert.ok(tight.regressions.includes('latency.missing.fault.p50'), tight.regressions.join(', '));
  assert.equal(metric(tight, 'latency.missing.fault.p50').run_noise!.allowance, 0.2);
});

test('one run a side: a slowdown of the slow faults only (p05 unchanged) is inconclusive, not a regression', () => {
  const rng = new Rng(3);
  const base = lognormal(rng, 4000, 20_000, 0.4);
  // the slowest half three times slower: p50 and up move, p05 does not
  const cur = lognormal(rng, 4000, 20_000, 0.4).map((v) => (v > 20_000 ? v * 3 : v));
  const r = compare(sideFromSamples('baseline', { 'missing:fault': base }), sideFromSamples('current', { 'missing:fault': cur }), fast);
  assert.equal(metric(r, 'latency.missing.fault.p05').verdict, 'ok');
  assert.equal(metric(r, 'latency.missing.fault.p90').verdict, 'inconclusive');
  assert.equal(metric(r, 'latency.missing.fault.p90').run_noise!.beyond, false);
  assert.equal(r.exit_code, 0);
});

test('identical distributions are not flagged in >= 95% of seeded trials', () => {
  const trials = 40;
  let flagged = 0;
  for (let t = 0; t < trials; t++) {
    const rng = new Rng(500 + t);
    const r = compare(sideFromSamples('baseline', stageSamples(rng, 1500)), sideFromSamples('current', stageSamples(rng, 1500)), { ...fast, seed: t });
    if (r.exit_code !== 0) flagged++;
  }
  assert.ok(flagged / trials <= 0.05, `flagged ${flagged} of ${trials}`);
});

test('identical distributions, thresholds off: the family-wise test alone still flags <= ~5% of trials', () => {
  const off = validateBudget({
    metrics: Object.fromEntries(['fault', 'queue', 'service', 'wake'].map((f) => [f, Object.fromEntries(['p50', 'p90', 'p99', 'max'].map((s) => [s, { threshold: 0, floor_ns: 0 }]))])),
    resamples: 2000,
  });
  const trials = 60;
  let flagged = 0;
  for (let t = 0; t < trials; t++) {
    const rng = new Rng(9000 + t);
    const r = compare(sideFromSamples('baseline', stageSamples(rng, 1000)), sideFromSamples('current', stageSamples(rng, 1000)), { ...off, seed: t });
    if (r.exit_code !== 0) flagged++;
  }
  assert.ok(flagged / trials <= 0.1, `flagged ${flagged} of ${trials} with thresholds off`);
});

test('a change beyond the threshold that is not significant is not flagged (few noisy samples)', () => {
  const rng = new Rng(77);
  const b = sideFromSamples('baseline', stageSamples(rng, 25));
  const cs = stageSamples(rng, 25);
  const r0 = compare(b, sideFromSamples('current', cs), fast);
  // scale the current until its p50 point estimate is 15-40% above the baseline's, noise alone
  const m0 = metric(r0, 'latency.missing.fault.p50');
  const want = 1.25 * m0.baseline! / m0.current!;
  const scaled = Object.fromEntries(Object.entries(cs).map(([k, v]) => [k, v.map((x) => x * want)]));
  const r = compare(b, sideFromSamples('current', scaled), fast);
  const p50 = metric(r, 'latency.missing.fault.p50');
  assert.ok(p50.change_rel! > 0.1, `beyond +10%: ${p50.change_rel}`);
  assert.equal(p50.beyond_threshold, true);
  assert.equal(p50.significant, false, JSON.stringify(p50.test));
  assert.equal(p50.verdict, 'ok');
  assert.match(p50.reason, /not significant/);
  assert.equal(r.exit_code, 0);
});

test('a significant change within the threshold (+3%) is not flagged', () => {
  const rng = new Rng(5);
  const n = 40_000;
  const base = lognormal(rng, n, 20_000, 0.3);
  const cur = lognormal(rng, n, 20_000, 0.3, 1.03);
  const r = compare(sideFromSamples('baseline', { 'missing:fault': base }), sideFromSamples('current', { 'missing:fault': cur }), fast);
  const p50 = metric(r, 'latency.missing.fault.p50');
  assert.equal(p50.significant, true);
  assert.equal(p50.beyond_threshold, false);
  assert.equal(p50.verdict, 'ok');
  assert.match(p50.reason, /significant but within the threshold/);
});

test('summaries of one run a side: beyond the threshold is "beyond threshold, untestable" and fails; within it passes', () => {
  const t = realSummary();
  const b = sideFromSummaries('baseline', [t]);
  const c = sideFromSummaries('current', [scaledSummary(t, 1.6)]);
  const r = compare(b, c, fast);
  const p99 = metric(r, 'latency.missing.fault.p99');
  assert.equal(p99.verdict, 'beyond threshold, untestable');
  assert.equal(p99.fails, true);
  assert.equal(p99.test.mode, 'none');
  assert.equal(p99.test.name, 'none');
  assert.equal(p99.beyond_threshold, true);
  assert.match(p99.reason, /cannot test: 1 vs 1 run.*beyond the threshold .* and cannot be judged: fails$/);
  assert.equal(r.exit_code, 1, 'never a pass');
  assert.equal(r.verdict, 'untestable');
  // every gating latency metric is +60 %: beyond its threshold, so each fails
  const gating = r.metrics.filter((m) => m.family === 'fault');
  assert.ok(gating.length > 0);
  assert.deepEqual(gating.filter((m) => !m.fails).map((m) => m.id), []);
  // a diagnostic stage beyond its threshold warns, does not fail
  const queue = metric(r, 'latency.missing.queue.p50');
  assert.equal(queue.verdict, 'beyond threshold, untestable');
  assert.equal(queue.fails, false);
  // the same summary on both sides: within every threshold, untested, and a pass
  const same = compare(b, sideFromSummaries('current', [t]), fast);
  assert.equal(same.exit_code, 0);
  assert.equal(same.verdict, 'pass');
  assert.equal(metric(same, 'latency.missing.fault.p99').verdict, 'insufficient data');
  // gate: false only warns; ignore drops it
  const soft = compare(b, c, validateBudget({ metrics: { fault: { p50: { gate: false }, p90: { gate: false }, p99: { gate: false }, max: { gate: false } } } }));
  assert.equal(soft.exit_code, 0);
  assert.equal(metric(soft, 'latency.missing.fault.p99').verdict, 'beyond threshold, untestable');
});

test('real runs (summaries, 3 a side): a 200 µs handler delay is flagged on fault latency; the same runs against themselves pass', () => {
  const d0 = ['run-001', 'run-002', 'run-003'].map((n) => realSummary(`postcopy-d0/${n}.json`));
  const d200 = ['run-001', 'run-002', 'run-003'].map((n) => realSummary(`postcopy-d200/${n}.json`));
  const r = compare(sideFromSummaries('baseline', d0), sideFromSummaries('current', d200), DEFAULT_BUDGET);
  assert.equal(r.exit_code, 1);
  const p50 = metric(r, 'latency.missing.fault.p50');
  assert.equal(p50.verdict, 'regression');
  assert.equal(p50.test.mode, 'per-run');
  assert.match(p50.test.name, /student-t on per-run values \(pooled, 3\+3 runs\)/);
  assert.equal(p50.test.n_baseline, 3);
  assert.equal(p50.test.df, 4);
  assert.ok(p50.test.ci!.low > 100_000, JSON.stringify(p50.test.ci));
  // unequal run counts: Welch
  const w = compare(sideFromSummaries('baseline', d0), sideFromSummaries('current', d200.slice(0, 2)), DEFAULT_BUDGET);
  assert.match(metric(w, 'latency.missing.fault.p50').test.name, /^welch-t/);
  assert.ok(p50.effect.hedges_g! > 5);
  const same = compare(sideFromSummaries('baseline', d0), sideFromSummaries('current', d0), DEFAULT_BUDGET);
  assert.equal(same.exit_code, 0);
  assert.equal(metric(same, 'faults.missing.count').verdict, 'ok');
});

test('one run against several: t with the several runs\' spread; flagged when far outside it, not when inside', () => {
  const d0 = ['run-001', 'run-002', 'run-003'].map((n) => realSummary(`postcopy-d0/${n}.json`));
  const slow = realSummary('postcopy-d200/run-001.json');
  const r = compare(sideFromSummaries('baseline', d0), sideFromSummaries('current', [slow]), DEFAULT_BUDGET);
  const p50 = metric(r, 'latency.missing.fault.p50');
  assert.equal(p50.verdict, 'regression');
  assert.equal(p50.test.mode, 'per-run');
  assert.match(p50.test.name, /1 run vs the run-to-run spread of 3/);
  assert.equal(p50.test.df, 2);
  const inside = compare(sideFromSummaries('baseline', d0.slice(0, 2)), sideFromSummaries('current', [d0[2]]), DEFAULT_BUDGET);
  assert.equal(inside.exit_code, 0, inside.regressions.join(', '));
  assert.equal(metric(inside, 'latency.missing.fault.p50').test.n_current, 1);
});

test('recordings on disk (generated): shifted queue time flagged; same distribution passes; directory of runs', () => {
  const dir = tmpDir();
  const rng = new Rng(2024);
  writeRecording(join(dir, 'base.uscope'), { queue: lognormal(rng, 1500, 20_000, 0.5), service: lognormal(rng, 1500, 3000, 0.5) });
  writeRecording(join(dir, 'same.uscope'), { queue: lognormal(rng, 1500, 20_000, 0.5), service: lognormal(rng, 1500, 3000, 0.5) });
  writeRecording(join(dir, 'slow.uscope'), { queue: lognormal(rng, 1500, 60_000, 0.5), service: lognormal(rng, 1500, 3000, 0.5) });
  const base = load('baseline', join(dir, 'base.uscope'));
  assert.equal(base.runs[0].summary.faults.missing, 1500);
  assert.equal(base.samples!.get('missing:fault')!.seen, 1500, 'every fault sampled');
  const slow = compare(base, load('current', join(dir, 'slow.uscope')), fast);
  assert.equal(slow.exit_code, 1);
  assert.ok(slow.regressions.includes('latency.missing.fault.p50'));
  assert.equal(metric(slow, 'latency.missing.queue.p50').verdict, 'warning', 'the stage that moved: a diagnostic warning');
  assert.ok(!slow.metrics.some((m) => m.id.includes('.service.') && m.verdict !== 'ok'), 'service untouched');
  const same = compare(base, load('current', join(dir, 'same.uscope')), fast);
  assert.equal(same.exit_code, 0, same.regressions.join(', '));
});

test('budget: per-kind threshold, ignore patterns, direction', () => {
  const rng = new Rng(8);
  const b = sideFromSamples('baseline', stageSamples(rng, 3000));
  const c = sideFromSamples('current', stageSamples(rng, 3000, 2));
  const loose = compare(b, c, { ...validateBudget({ kinds: { missing: { fault: { p50: { threshold: 1.5 } } } } }), resamples: 2000 });
  assert.equal(metric(loose, 'latency.missing.fault.p50').verdict, 'ok');
  assert.equal(metric(loose, 'latency.missing.fault.p50').rule.threshold, 1.5);
  const ignored = compare(b, c, { ...validateBudget({ ignore: ['latency.*'] }), resamples: 2000 });
  assert.equal(ignored.exit_code, 0);
  assert.ok(ignored.metrics.filter((m) => m.id.startsWith('latency.')).every((m) => m.verdict === 'ignored'));
  // faster is only "improved"
  const faster = compare(c, b, fast);
  assert.equal(faster.exit_code, 0);
  assert.equal(metric(faster, 'latency.missing.fault.p50').verdict, 'improved');
  const both = compare(c, b, { ...validateBudget({ metrics: { fault: { p50: { direction: 'both' } } } }), resamples: 2000 });
  assert.equal(metric(both, 'latency.missing.fault.p50').verdict, 'regression');
});

test('nothing in common (different fault kinds): UsageError, one line', () => {
  const t = realSummary();
  const b = sideFromSummaries('baseline', [t]);
  const c = sideFromSummaries('current', [scaledSummary(t, 1, 'wp')]);
  assert.throws(
    () => metricDefs(b, c),
    (e: unknown) => e instanceof UsageError && /nothing to compare.*2048 missing userfaults.*2048 wp userfaults/.test(e.message) && !e.message.includes('\n'),
  );
});

test('one metric per kind x stage x statistic, counts, rate, ioctl errors; mode switches when present', () => {
  const t = realSummary();
  const ms = JSON.parse(JSON.stringify(t));
  ms.mode_switches = [
    { ts_ns: 1, uffd: '0x1', pid: 1, enable: 1, disable: 0, result: 0, latency_ns: 5000, errno: null, tid: 1, comm: 'x', mode_before: 'sync', mode_after: 'async', woken: 0 },
    { ts_ns: 2, uffd: '0x1', pid: 1, enable: 0, disable: 1, result: -22, latency_ns: 3000, errno: 'EINVAL', tid: 1, comm: 'x', mode_before: 'async', mode_after: null, woken: 0 },
  ];
  const ids = metricDefs(sideFromSummaries('baseline', [t]), sideFromSummaries('current', [ms])).map((d) => d.id);
  assert.equal(ids.filter((i) => i.startsWith('latency.missing.')).length, 16);
  for (const id of ['faults.missing.count', 'faults.rate', 'ioctl.UFFDIO_COPY.errors', 'mode_switch.failures']) assert.ok(ids.includes(id), id);
  assert.ok(!ids.includes('mode_switch.latency.p50'), 'no mode-switch latency without switches on both sides');
  const both = metricDefs(sideFromSummaries('baseline', [ms]), sideFromSummaries('current', [ms])).map((d) => d.id);
  assert.ok(both.includes('mode_switch.latency.p50'));
  assert.ok(!both.includes('mode_switch.latency.p05'), 'no p05 of 2 switches: it needs min_samples (20) below it');
  const many = JSON.parse(JSON.stringify(ms));
  many.mode_switches = Array.from({ length: 400 }, (_, i) => ({ ...ms.mode_switches[0], ts_ns: i + 1, latency_ns: 1000 + i }));
  assert.ok(metricDefs(sideFromSummaries('baseline', [many]), sideFromSummaries('current', [many])).some((d) => d.id === 'mode_switch.latency.p05'), '400 switches: p05');
  // mode-switch results: failures up from 0 -> 1 per run, 3 runs a side
  const ok = JSON.parse(JSON.stringify(ms));
  ok.mode_switches[1].result = 0;
  const r = compare(sideFromSummaries('baseline', [ok, ok, ok]), sideFromSummaries('current', [ms, ms, ms]), DEFAULT_BUDGET);
  assert.equal(metric(r, 'mode_switch.failures').verdict, 'regression');
});

test('commandDiff names the differing arguments', () => {
  assert.equal(commandDiff(['w', '--delay', '0', '--q'], ['w', '--delay', '0', '--q']), null);
  assert.equal(commandDiff(['w', '--delay', '0', '--q'], ['w', '--delay', '200', '--q']), 'baseline `0`, current `200` (argument 3 on)');
});

test('fixtures are where the tests expect them', () => {
  assert.ok(FIXTURES.endsWith(join('test', 'fixtures', 'check')));
});
