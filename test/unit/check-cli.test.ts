// `uffdscope check` end to end in a child process (runCheck + the CLI's
// fail()): exit 0 / 1 on real summaries of the bundled workload, and exit 2
// with ONE line naming the file and the problem for corrupt or mismatched
// inputs. (The commander wiring lives in src/cli/main.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, realSummary, scaledSummary, tmpDir, writeJson, writeRecording, lognormal } from '../fixtures/check/gen.js';
import { Rng } from '../../src/check/stats.js';
import type { CheckResult } from '../../src/check/compare.js';

const url = (p: string) => new URL(p, import.meta.url).href;
const DRIVER = `
import { runCheck } from ${JSON.stringify(url('../../src/cli/check.js'))};
import { fail } from ${JSON.stringify(url('../../src/cli/errors.js'))};
import { resolveUapi } from ${JSON.stringify(url('../../src/events/uapi.js'))};
const o = JSON.parse(process.env.USCOPE_CHECK_OPTS);
try { await runCheck({ ...o, uapi: resolveUapi() }); } catch (e) { fail(e); }
`;

function check(o: Record<string, unknown>): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', DRIVER], {
    env: { ...process.env, USCOPE_CHECK_OPTS: JSON.stringify(o), USCOPE_DEBUG: '' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function badInput(o: Record<string, unknown>, re: RegExp): void {
  const r = check(o);
  assert.equal(r.code, 2, `exit 2 expected, got ${r.code}: ${r.stderr}${r.stdout}`);
  const lines = r.stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, `one line: ${JSON.stringify(r.stderr)}`);
  assert.match(lines[0], /^uffdscope: /);
  assert.match(lines[0], re);
  assert.ok(!/\n\s+at /.test(r.stderr), 'no stack trace');
  assert.equal(r.stdout, '', 'no table');
}

const d0 = join(FIXTURES, 'postcopy-d0');
const d200 = join(FIXTURES, 'postcopy-d200');
const dir = tmpDir();

test('one summary a side (no test possible): a 16.8 -> 222 µs p50 exits 1 "beyond threshold, untestable"; JUnit and HTML fail too', () => {
  const out = join(dir, 'untestable');
  mkdirSync(out);
  const base = realSummary('postcopy-d0/run-001.json');
  const slow = realSummary('postcopy-d0/run-001.json');
  base.latency_ns.fault.p50 = base.latency_ns_by_kind.missing!.fault.p50 = 16_800;
  slow.latency_ns.fault.p50 = slow.latency_ns_by_kind.missing!.fault.p50 = 222_000;
  const b = writeJson(join(out, 'base.json'), base);
  const c = writeJson(join(out, 'cur.json'), slow);
  const r = check({ baseline: b, args: [c], junit: join(out, 'j.xml'), jsonOut: join(out, 'v.json'), report: join(out, 'r.html') });
  assert.equal(r.code, 1, r.stderr + r.stdout);
  assert.match(r.stdout, /^uffdscope check: FAIL: 1 of \d+ metrics beyond threshold, untestable/);
  assert.match(r.stdout, /latency\.missing\.fault\.p50 .* BEYOND THRESHOLD, UNTESTABLE/);
  const v = JSON.parse(readFileSync(join(out, 'v.json'), 'utf8')) as CheckResult;
  assert.equal(v.verdict, 'untestable');
  assert.deepEqual(v.regressions, ['latency.missing.fault.p50']);
  assert.match(readFileSync(join(out, 'j.xml'), 'utf8'), /<failure type="untestable" message="latency\.missing\.fault\.p50:/);
  assert.match(readFileSync(join(out, 'r.html'), 'utf8'), /FAIL: UNTESTABLE \(1\)/);
  // the real pair of single runs (delay 0 and 200 µs) fails the same way
  const real = check({ baseline: join(d0, 'run-001.json'), args: [join(d200, 'run-001.json')] });
  assert.equal(real.code, 1, real.stderr);
  assert.match(real.stdout, /beyond threshold, untestable/);
});

test('real runs: 200 µs handler delay exits 1 with JUnit/JSON/HTML written; the same runs exit 0', () => {
  const out = join(dir, 'out');
  mkdirSync(out);
  const r = check({ baseline: d0, args: [d200], junit: join(out, 'j.xml'), jsonOut: join(out, 'v.json'), report: join(out, 'r.html') });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /REGRESSION/);
  const v = JSON.parse(readFileSync(join(out, 'v.json'), 'utf8')) as CheckResult;
  assert.ok(v.regressions.includes('latency.missing.fault.p50'));
  assert.match(readFileSync(join(out, 'j.xml'), 'utf8'), /<failure type="regression"/);
  assert.match(readFileSync(join(out, 'r.html'), 'utf8'), /<svg class="cdf-plot"/);
  const same = check({ baseline: d0, args: [d0] });
  assert.equal(same.code, 0, same.stderr);
  assert.match(same.stdout, /pass/);
  assert.equal(same.stderr, '');
});

test('a summary JSON with the wrong schema: exit 2, one line', () => {
  const f = writeJson(join(dir, 'truth.json'), { schema: 'uffdscope.workload/1', faults: {} });
  badInput({ baseline: d0, args: [f] }, new RegExp(`${f}: not a uffdscope summary \\(schema "uffdscope.workload/1"; expected "uffdscope.summary/1"`));
  const none = writeJson(join(dir, 'none.json'), { hello: 1 });
  badInput({ baseline: none, args: [d0] }, /none\.json: not a uffdscope summary \(no "schema" field/);
});

test('a damaged summary JSON: exit 2 naming the field', () => {
  const s = realSummary() as unknown as { latency_ns: { fault: { p50: unknown } } };
  s.latency_ns.fault.p50 = 'fast';
  const f = writeJson(join(dir, 'damaged.json'), s);
  badInput({ baseline: d0, args: [f] }, /damaged\.json: damaged uffdscope\.summary\/1 summary: latency_ns\.fault\.p50 must be number/);
  const t = join(dir, 'trunc.json');
  writeFileSync(t, '{"schema": "uffdscope.summary/1", "faults": ');
  badInput({ baseline: d0, args: [t] }, /trunc\.json: not valid JSON/);
});

test('corrupt recordings: not a recording, damaged chunk: exit 2, one line', () => {
  const junk = join(dir, 'junk.uscope');
  writeFileSync(junk, Buffer.from('this is not a recording at all, just text\n'));
  badInput({ baseline: d0, args: [junk] }, /junk\.uscope: .*(not a uffdscope recording|magic)/);
  const rec = join(dir, 'ok.uscope');
  writeRecording(rec, { queue: lognormal(new Rng(1), 200, 20_000, 0.5) });
  const bytes = readFileSync(rec);
  const dmg = join(dir, 'damaged.uscope');
  const copy = Buffer.from(bytes);
  copy[Math.floor(copy.length / 2)] ^= 0xff; // inside the records chunk
  writeFileSync(dmg, copy);
  badInput({ baseline: dmg, args: [d0] }, /damaged\.uscope: recording is damaged \(.*checksum mismatch/);
  const cut = join(dir, 'cut.uscope');
  writeFileSync(cut, bytes.subarray(0, 10));
  badInput({ baseline: d0, args: [cut] }, /cut\.uscope: /);
});

test('a directory with no runs, a missing path: exit 2', () => {
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  writeFileSync(join(empty, 'notes.txt'), 'nothing here');
  badInput({ baseline: empty, args: [d0] }, new RegExp(`${empty}: no runs in this directory`));
  badInput({ baseline: join(dir, 'nope'), args: [d0] }, /nope: no such file or directory \(the baseline/);
});

test('baseline and current with no fault kind in common: exit 2', () => {
  const wp = join(dir, 'wp');
  mkdirSync(wp);
  writeJson(join(wp, 'run-1.json'), scaledSummary(realSummary(), 1, 'wp'));
  badInput({ baseline: d0, args: [wp] }, /nothing to compare: the baseline .* has 6144 missing userfaults, the current .* has 2048 wp userfaults; no fault kind in common/);
});

test('a bad budget and bad arguments: exit 2, one line', () => {
  const b = join(dir, 'budget.yaml');
  writeFileSync(b, 'metrics:\n  fault:\n    p99:\n      threshold: -0.5\n');
  badInput({ baseline: d0, args: [d200], budget: b }, /^uffdscope: budget\.yaml: metrics\.fault\.p99\.threshold must be a number >= 0$/);
  badInput({ baseline: d0, args: [] }, /missing CURRENT/);
  badInput({ baseline: d0, args: [d200, d0] }, /expected one CURRENT path, got 2 arguments/);
  badInput({ args: [d200] }, /missing --baseline/);
  badInput({ saveBaseline: join(dir, 'sb'), args: [] }, /--save-baseline DIR needs the command/);
  badInput({ saveBaseline: join(dir, 'sb'), baseline: d0, args: ['true'] }, /separate steps/);
  badInput({ baseline: d0, args: [], runs: 2 }, /--runs N needs the command/);
  badInput({ baseline: d0, args: [d200], runs: 2 }, /postcopy-d200: with --runs N the current side is traced from a command after --/);
  badInput({ saveBaseline: d0, args: ['true'] }, /postcopy-d0: not empty/);
  const out = join(dir, 'no-such-dir', 'j.xml');
  badInput({ baseline: d0, args: [d0], junit: out }, /j\.xml: cannot write the JUnit XML \(no such directory .*no-such-dir\)/);
});

test('a baseline directory written by --save-baseline: the manifest and paired summaries are not extra runs', () => {
  const base = join(dir, 'saved');
  mkdirSync(base);
  const rng = new Rng(3);
  for (const n of ['run-001', 'run-002']) {
    writeRecording(join(base, `${n}.uscope`), { queue: lognormal(rng, 300, 20_000, 0.5) });
    writeJson(join(base, `${n}.json`), { schema: 'uffdscope.summary/1', note: 'paired with the recording: not read' });
  }
  writeJson(join(base, 'manifest.json'), { schema: 'uffdscope.check-baseline/1', runs: 2 });
  const v = join(dir, 'saved.json');
  const r = check({ baseline: base, args: [base], jsonOut: v });
  assert.equal(r.code, 0, r.stderr);
  const res = JSON.parse(readFileSync(v, 'utf8')) as CheckResult;
  assert.equal(res.baseline.runs, 2);
  assert.deepEqual(
    res.baseline.inputs.map((i) => i.type),
    ['recording', 'recording'],
  );
  assert.equal(res.baseline.per_fault_samples, true);
});
