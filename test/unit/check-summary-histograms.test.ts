// check on one summary a side: with the total-latency histograms a summary
// carries (latency_hist_ns), the per-fault tests run on them, so a 13x
// slower p50 is a tested regression, not "beyond threshold, untestable".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lognormal, realSummary, tmpDir, writeJson } from '../fixtures/check/gen.js';
import { Rng } from '../../src/check/stats.js';
import { loadSide } from '../../src/check/inputs.js';
import { compare } from '../../src/check/compare.js';
import { DEFAULT_BUDGET } from '../../src/check/budget.js';
import type { Summary } from '../../src/stats/summary.js';
import { StageHist, summarizeStages, waitBucket } from '../../src/stats/kernelStats.js';
import { STAGES } from '../../src/stats/stats.js';

const dir = tmpDir();

/** A postcopy summary whose fault latencies are `n` draws around `median` ns, carried as a histogram. */
function summaryWith(name: string, median: number, hist: boolean): string {
  const s: Summary = realSummary('postcopy-d0/run-001.json');
  const v = lognormal(new Rng(median), 400, median, 0.3).map(Math.round);
  const counts = new Map<number, number>();
  for (const x of v) counts.set(x, (counts.get(x) ?? 0) + 1);
  const sorted = [...v].sort((a, b) => a - b);
  const p50 = sorted[Math.floor(sorted.length / 2)];
  s.latency_ns.fault.p50 = s.latency_ns_by_kind.missing!.fault.p50 = p50;
  if (hist) s.latency_hist_ns = { fault: [...counts.entries()].sort((a, b) => a[0] - b[0]) };
  else delete s.latency_hist_ns;
  return writeJson(join(dir, name), s);
}

function verdictOf(b: string, c: string, id: string) {
  const o = { uapi: null, reservoir: DEFAULT_BUDGET.reservoir, seed: DEFAULT_BUDGET.seed };
  const res = compare(loadSide('baseline', b, o), loadSide('current', c, o), DEFAULT_BUDGET);
  return { res, m: res.metrics.find((x) => x.id === id)! };
}

test('two summaries with histograms: 16.8 -> 222 µs p50 is a regression found by the per-fault test', () => {
  const { res, m } = verdictOf(summaryWith('b.json', 16_800, true), summaryWith('c.json', 222_000, true), 'latency.missing.fault.p50');
  assert.equal(m.verdict, 'regression');
  assert.match(m.test.name, /bootstrap on per-fault samples/);
  assert.equal(res.verdict, 'regression');
  assert.equal(res.exit_code, 1);
  assert.ok(res.notes.some((n) => /histograms/.test(n)), res.notes.join('\n'));
  // no change: the same histogram on both sides passes, tested
  const same = verdictOf(summaryWith('b2.json', 16_800, true), summaryWith('c2.json', 16_800, true), 'latency.missing.fault.p50');
  assert.equal(same.m.verdict, 'ok');
  assert.match(same.m.test.name, /bootstrap/);
});

test('without the histograms the same pair stays untestable (exit 1, never a pass)', () => {
  const { res, m } = verdictOf(summaryWith('b3.json', 16_800, false), summaryWith('c3.json', 222_000, false), 'latency.missing.fault.p50');
  assert.equal(m.verdict, 'beyond threshold, untestable');
  assert.equal(res.exit_code, 1);
});

test('stage histograms, when a summary carries them, give the stages per-fault tests too; without them the stages stay untested', () => {
  const withStages = (name: string, serviceMedian: number, stages: boolean): string => {
    const s = JSON.parse(readFileSync(summaryWith(name, 16_800, true), 'utf8')) as Summary;
    const hist = (median: number): Array<[number, number]> => {
      const counts = new Map<number, number>();
      for (const x of lognormal(new Rng(median), 400, median, 0.3).map(Math.round)) counts.set(x, (counts.get(x) ?? 0) + 1);
      return [...counts.entries()].sort((a, b) => a[0] - b[0]);
    };
    if (stages) Object.assign(s.latency_hist_ns!, { queue: hist(5_000), service: hist(serviceMedian), wake: hist(3_000) });
    return writeJson(join(dir, name), s);
  };
  const { res, m } = verdictOf(withStages('bs.json', 3_000, true), withStages('cs.json', 30_000, true), 'latency.missing.service.p50');
  assert.equal(m.test.mode, 'per-sample');
  assert.equal(m.test.n_baseline, 400);
  assert.equal(m.verdict, 'warning', 'a stage: diagnostic, and its p05 moved x10');
  assert.equal(res.metrics.find((x) => x.id === 'latency.missing.service.p05')!.test.mode, 'per-sample');
  assert.ok(res.notes.some((n) => /per-fault tests of the total, queue, service, wake latencies use the summaries' histograms/.test(n)), res.notes.join('\n'));
  const bare = verdictOf(withStages('bn.json', 3_000, false), withStages('cn.json', 30_000, false), 'latency.missing.service.p50');
  assert.equal(bare.m.test.mode, 'none');
  assert.equal(bare.res.metrics.some((x) => x.id === 'latency.missing.service.p05'), false, 'no p05 without per-fault data');
});

/** What `stat --json-out` writes when the kernel counts (uffdscope.in-kernel/2), for `n` postcopy faults around `median` ns. */
function kernelSummary(name: string, median: number): string {
  const stages = Object.fromEntries(STAGES.map((st) => [st, new StageHist()])) as Record<(typeof STAGES)[number], StageHist>;
  for (const v of lognormal(new Rng(median + 1), 400, median, 0.3)) {
    const x = Math.round(v);
    for (const st of STAGES) {
      const h = stages[st];
      const y = st === 'total' ? x : Math.round(x / 3);
      h.count++;
      h.sumNs += y;
      h.maxNs = Math.max(h.maxNs, y);
      h.hist[waitBucket(y)]++;
    }
  }
  const doc = {
    schema: 'uffdscope.in-kernel/2',
    backend: 'tracepoint',
    duration_ns: 1e9,
    lost: 0,
    uffds: [],
    totals: { uffds: 1, userfaults: { missing: 400, wp: 0, minor: 0, rwp: 0, async: 0, unknown: 0, total: 400 }, fault_entries: 400, blocked: 400, ends_unseen: 0, latency: summarizeStages(stages) },
    per_fault_ioctls: { UFFDIO_COPY: 400 },
    events: { received: 10, lost: 0, by_type: {}, lost_by_type: {} },
    mode_switches: [],
    ioctls: {},
  };
  return writeJson(join(dir, name), doc);
}

test('two in-kernel stat summaries (uffdscope.in-kernel/2): read, and a 13x slower p50 is a tested regression', () => {
  const { res, m } = verdictOf(kernelSummary('k-b.json', 16_800), kernelSummary('k-c.json', 222_000), 'latency.missing.fault.p50');
  assert.equal(m.verdict, 'regression');
  assert.match(m.test.name, /bootstrap on per-fault samples/);
  assert.equal(res.exit_code, 1);
  const same = verdictOf(kernelSummary('k-b2.json', 16_800), kernelSummary('k-c2.json', 16_800), 'latency.missing.fault.p50');
  assert.equal(same.m.verdict, 'ok');
  assert.equal(same.res.exit_code, 0);
});
