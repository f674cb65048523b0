// Live: `uffdscope check` on the bundled workload (postcopy, 2048 pages).
//  - a baseline saved from 3 traced runs at --handler-delay-us 0, against 3
//    more runs of the same configuration: exit 0;
//  - the same baseline against 3 traced runs at --handler-delay-us 200:
//    exit 1, flagged on fault latency;
//  - one run at 200 µs against the same baseline: exit 1 too.
// The false-alarm measurement (20 identical comparisons, 120 traced runs,
// 5-10 minutes) runs only with USCOPE_CHECK_FALSE_ALARM=1:
//   USCOPE_CHECK_FALSE_ALARM=1 node --test --test-concurrency=1 --test-name-pattern='false-alarm' dist/test/live/check.test.js
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { cli, requireLive, run, tmp, workloadBinary, type Run } from './support.js';
import type { CheckResult } from '../../src/check/compare.js';
import { loadSide } from '../../src/check/inputs.js';
import { compare } from '../../src/check/compare.js';
import { DEFAULT_BUDGET } from '../../src/check/budget.js';

function workload(delayUs: number, truth: string): string[] {
  return [workloadBinary, '--scenario', 'postcopy', '--pages', '2048', '--threads', '2', '--handler-delay-us', String(delayUs), '--quiet', '--json', truth];
}

async function check(args: string[], timeoutMs = 120_000): Promise<Run> {
  const r = await run(process.execPath, [cli, 'check', ...args], { timeoutMs });
  if (/unknown command/.test(r.stderr)) assert.fail(`\`check\` is not wired into the CLI (${cli}): ${r.stderr.trim()}`);
  return r;
}

async function saveBaseline(dir: string, runs: number, delayUs: number): Promise<void> {
  const r = await check(['--save-baseline', dir, '--runs', String(runs), '--', ...workload(delayUs, tmp('truth.json'))]);
  assert.equal(r.code, 0, `--save-baseline failed (${r.code}): ${r.stderr}`);
}

test('check: the same configuration passes (exit 0); a 200 us handler delay is a regression on fault latency (exit 1)', async (t) => {
  if (!requireLive(t)) return;
  let base = tmp('baseline');
  await saveBaseline(base, 3, 0);
  const files = readdirSync(base).sort();
  assert.deepEqual(files, ['manifest.json', 'run-001.json', 'run-001.uscope', 'run-002.json', 'run-002.uscope', 'run-003.json', 'run-003.uscope']);
  for (const f of files.filter((n) => n.startsWith('run-') && n.endsWith('.json'))) {
    const s = JSON.parse(readFileSync(`${base}/${f}`, 'utf8')) as { schema: string; faults: { missing: number }; events: { lost: number } };
    assert.equal(s.schema, 'uffdscope.summary/1');
    assert.equal(s.events.lost, 0, `${f}: lost events`);
    assert.equal(s.faults.missing, 2048, `${f}: every page faulted once`);
  }

  // same configuration, right after the baseline (as a CI job would run it): passes.
  // A shared host's speed moves between levels ~30 % apart, for minutes at a
  // time: when all 3 baseline runs fall on one level and all 3 current runs on
  // the other, the p50 shift is real and significant, and `check` is right to
  // flag it (0 of 69 comparisons here, 1 seen on a CI host: p50 24.9 -> 39.2 µs).
  // Such a flag is printed, then the whole pair (baseline and current) is taken
  // again once; two flags in a row fail.
  let same = await check(['--baseline', base, '--runs', '3', '--', ...workload(0, tmp('truth.json'))]);
  if (same.code === 1) {
    t.diagnostic(`same configuration flagged once (host speed shift?); baseline and current taken again:\n${same.stdout}`);
    base = tmp('baseline-again');
    await saveBaseline(base, 3, 0);
    same = await check(['--baseline', base, '--runs', '3', '--', ...workload(0, tmp('truth.json'))]);
  }
  assert.equal(same.code, 0, `expected exit 0 (same configuration), got ${same.code}\n${same.stdout}\n${same.stderr}`);
  assert.match(same.stdout, /pass/);

  // slower handler: flagged
  const out = dirname(tmp('x'));
  const slow = await check([
    '--baseline', base, '--runs', '3', '--save-current', `${out}/slow`,
    '--junit', `${out}/check.xml`, '--json-out', `${out}/check.json`, '--report', `${out}/check.html`,
    '--', ...workload(200, tmp('truth.json')),
  ]);
  assert.equal(slow.code, 1, `expected exit 1 (regression), got ${slow.code}\n${slow.stdout}\n${slow.stderr}`);
  const v = JSON.parse(readFileSync(`${out}/check.json`, 'utf8')) as CheckResult;
  assert.equal(v.verdict, 'regression');
  assert.ok(v.regressions.includes('latency.missing.fault.p50'), `fault p50 flagged: ${v.regressions.join(', ')}`);
  const p50 = v.metrics.find((m) => m.id === 'latency.missing.fault.p50')!;
  assert.equal(p50.test.mode, 'per-run');
  assert.ok(p50.test.ci!.low > 0, `the interval of the p50 change excludes 0: ${JSON.stringify(p50.test.ci)}`);
  assert.ok(p50.change! > 150_000, `p50 up by more than the 200 µs delay's share: ${p50.change}`);
  assert.match(slow.stdout, /REGRESSION/);
  const xml = readFileSync(`${out}/check.xml`, 'utf8');
  assert.match(xml, /<testcase name="latency\.missing\.fault\.p50"[^>]*>[\s\S]*?<failure type="regression"/);
  const html = readFileSync(`${out}/check.html`, 'utf8');
  assert.ok(!/https?:\/\//.test(html), 'no URLs in the HTML report');
  assert.ok((html.match(/<svg class="cdf-plot"/g) ?? []).length >= 4, 'CDF plots for total and each stage');
  assert.ok(existsSync(`${out}/slow/run-003.uscope`), '--save-current kept the runs');

  // one slow run against the 3-run baseline (the run-to-run spread of the baseline stands for both): flagged
  const one = await check(['--baseline', base, '--runs', '1', '--', ...workload(200, tmp('truth.json'))]);
  assert.equal(one.code, 1, `one slow run: expected exit 1, got ${one.code}\n${one.stdout}\n${one.stderr}`);
  assert.match(one.stdout, /latency\.missing\.fault\.p50 .* REGRESSION +t 3v1 runs/);
});

// A measurement, not a check: registered only when asked for, so the default
// (and CI) run has no skipped live test.
if (process.env.USCOPE_CHECK_FALSE_ALARM) test('check false-alarm rate: 20 identical-configuration comparisons (USCOPE_CHECK_FALSE_ALARM=1)', { timeout: 900_000 }, async (t) => {
  if (!requireLive(t)) return;
  const N = Number(process.env.USCOPE_CHECK_FALSE_ALARM_N ?? 20);
  let alarms = 0;
  const flagged: string[] = [];
  const baseDirs: string[] = [];
  const curDirs: string[] = [];
  for (let i = 0; i < N; i++) {
    let base = '';
    let cur = '';
    let r: Run | null = null;
    // a busy shared host (the native addon rebuilt under us...): retry environment/capture failures
    for (let attempt = 0; attempt < 3; attempt++) {
      base = tmp(`fa-base-${i}`);
      cur = tmp(`fa-cur-${i}`);
      const s = await check(['--save-baseline', base, '--runs', '3', '--', ...workload(0, tmp('truth.json'))]);
      if (s.code === 0) {
        r = await check(['--baseline', base, '--runs', '3', '--save-current', cur, '--json-out', `${dirname(cur)}/v.json`, '--', ...workload(0, tmp('truth.json'))]);
        if (r.code === 0 || r.code === 1) break;
      } else r = s;
      t.diagnostic(`comparison ${i}: exit ${r.code}, retrying: ${r.stderr.trim().split('\n').pop()}`);
      await new Promise((res) => setTimeout(res, 10_000));
    }
    assert.ok(r && (r.code === 0 || r.code === 1), `comparison ${i}: exit ${r?.code}: ${r?.stderr}`);
    if (r.code === 1) {
      alarms++;
      const v = JSON.parse(readFileSync(`${dirname(cur)}/v.json`, 'utf8')) as CheckResult;
      flagged.push(`#${i}: ${v.regressions.join(', ')}`);
    }
    baseDirs.push(base);
    curDirs.push(cur);
  }
  // The same runs in the other modes, in process: one current run against the
  // 3-run baseline (t with the baseline's run-to-run spread), and one
  // recording against one (per-fault bootstrap): run-001 of each side.
  const o = { uapi: null, reservoir: DEFAULT_BUDGET.reservoir, seed: DEFAULT_BUDGET.seed };
  let oneAlarms = 0;
  let singleAlarms = 0;
  for (let i = 0; i < N; i++) {
    const c = loadSide('current', `${curDirs[i]}/run-001.uscope`, o);
    if (compare(loadSide('baseline', baseDirs[i], o), c, DEFAULT_BUDGET).exit_code === 1) oneAlarms++;
    if (compare(loadSide('baseline', `${baseDirs[i]}/run-001.uscope`, o), c, DEFAULT_BUDGET).exit_code === 1) singleAlarms++;
  }
  const pc = (k: number) => `${k}/${N} (${((100 * k) / N).toFixed(0)}%)`;
  const line =
    `false alarms: ${pc(alarms)} with 3 vs 3 runs (per-run Student t)${flagged.length ? ` [${flagged.join('; ')}]` : ''}; ` +
    `${pc(oneAlarms)} with 1 run vs the 3-run baseline (per-run t); ${pc(singleAlarms)} with 1 recording vs 1 (per-fault bootstrap)`;
  t.diagnostic(line);
  process.stderr.write(`uffdscope check ${line}\n`);
  assert.ok(alarms <= Math.ceil(0.1 * N), line);
});
