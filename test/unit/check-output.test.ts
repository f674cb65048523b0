// Outputs of `uffdscope check`: JUnit XML (well-formed, one testcase per
// metric, failures for regressions, properties for effect size and CI), the
// JSON verdict, the terminal table, and the self-contained HTML report (two
// CDF paths per plot, no URLs, no scripts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compare, type CheckResult } from '../../src/check/compare.js';
import { DEFAULT_BUDGET, type Budget } from '../../src/check/budget.js';
import { checkJson, formatCheckTable, junitXml, xmlEscape } from '../../src/check/report.js';
import { cdfFromSorted, checkHtml } from '../../src/check/html.js';
import { Rng } from '../../src/check/stats.js';
import { realSummary, scaledSummary, sideFromSamples, sideFromSummaries, stageSamples } from '../fixtures/check/gen.js';

// ------------------------------------------------ a small XML 1.0 checker

interface El {
  name: string;
  attrs: Record<string, string>;
  children: El[];
  text: string;
}

const NAME = /^[A-Za-z_:][-A-Za-z0-9_:.]*/;

function unescapeXml(s: string, where: string): string {
  return s.replace(/&([^;]*);|&/g, (m, ent: string | undefined) => {
    if (ent === undefined) throw new Error(`bare & in ${where}`);
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    if (ent in named) return named[ent];
    if (/^#\d+$/.test(ent)) return String.fromCodePoint(Number(ent.slice(1)));
    if (/^#x[0-9a-fA-F]+$/.test(ent)) return String.fromCodePoint(parseInt(ent.slice(2), 16));
    throw new Error(`unknown entity ${m} in ${where}`);
  });
}

/** Parses (a subset of) XML 1.0 strictly: balanced tags, quoted attributes, valid entities, one root. Throws on anything else. */
export function parseXml(xml: string): El {
  let i = 0;
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(xml)) throw new Error('control character not allowed in XML 1.0');
  if (xml.startsWith('<?xml')) {
    const end = xml.indexOf('?>');
    if (end < 0) throw new Error('unterminated XML declaration');
    i = end + 2;
  }
  const root: El = { name: '#document', attrs: {}, children: [], text: '' };
  const stack: El[] = [root];
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt < 0 ? xml.length : lt);
    if (text.includes('>') && /\]\]>/.test(text)) throw new Error(']]> in text');
    const top = stack[stack.length - 1];
    if (text.trim()) {
      if (top === root) throw new Error(`text outside the root element: ${text.slice(0, 40)}`);
      top.text += unescapeXml(text, `<${top.name}> text`);
    }
    if (lt < 0) break;
    if (xml.startsWith('<!--', lt)) {
      const end = xml.indexOf('-->', lt);
      if (end < 0) throw new Error('unterminated comment');
      i = end + 3;
      continue;
    }
    if (xml[lt + 1] === '/') {
      const m = NAME.exec(xml.slice(lt + 2));
      if (!m) throw new Error(`bad end tag at ${lt}`);
      const close = xml.indexOf('>', lt);
      if (xml.slice(lt + 2 + m[0].length, close).trim()) throw new Error(`junk in end tag at ${lt}`);
      const el = stack.pop();
      if (!el || el.name !== m[0]) throw new Error(`</${m[0]}> closes <${el?.name}>`);
      i = close + 1;
      continue;
    }
    const m = NAME.exec(xml.slice(lt + 1));
    if (!m) throw new Error(`bad start tag at ${lt}: ${xml.slice(lt, lt + 20)}`);
    const el: El = { name: m[0], attrs: {}, children: [], text: '' };
    let j = lt + 1 + m[0].length;
    for (;;) {
      const ws = /^\s*/.exec(xml.slice(j))![0].length;
      j += ws;
      if (xml.startsWith('/>', j)) {
        j += 2;
        if (stack.length === 1 && root.children.length) throw new Error('second root element');
        stack[stack.length - 1].children.push(el);
        break;
      }
      if (xml[j] === '>') {
        j += 1;
        if (stack.length === 1 && root.children.length) throw new Error('second root element');
        stack[stack.length - 1].children.push(el);
        stack.push(el);
        break;
      }
      if (!ws) throw new Error(`missing space before attribute in <${el.name}>`);
      const a = /^([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*("([^"<]*)"|'([^'<]*)')/.exec(xml.slice(j));
      if (!a) throw new Error(`bad attribute in <${el.name}> at ${xml.slice(j, j + 30)}`);
      if (a[1] in el.attrs) throw new Error(`duplicate attribute ${a[1]} in <${el.name}>`);
      el.attrs[a[1]] = unescapeXml(a[3] ?? a[4], `${el.name}@${a[1]}`);
      j += a[0].length;
    }
    i = j;
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1].name}>`);
  if (root.children.length !== 1) throw new Error('no root element');
  return root.children[0];
}

const all = (el: El, name: string): El[] => [...(el.name === name ? [el] : []), ...el.children.flatMap((c) => all(c, name))];

// ------------------------------------------------------------- fixtures

const fast: Budget = { ...DEFAULT_BUDGET, resamples: 2000 };

function regressionResult(): { r: CheckResult; b: ReturnType<typeof sideFromSamples>; c: ReturnType<typeof sideFromSamples> } {
  const rng = new Rng(4);
  const b = sideFromSamples('baseline', stageSamples(rng, 3000));
  const c = sideFromSamples('current', stageSamples(rng, 3000, 2));
  return { r: compare(b, c, fast), b, c };
}

test('the XML checker itself rejects broken XML', () => {
  for (const bad of ['<a><b></a></b>', '<a x="1" x="2"/>', '<a>&nope;</a>', '<a>1 & 2</a>', '<a x=1/>', '<a/><b/>', '<a>', '<a x="<"/>']) {
    assert.throws(() => parseXml(bad), Error, bad);
  }
  assert.equal(parseXml('<?xml version="1.0"?><a x="&lt;&amp;"><b>t&#233;</b></a>').attrs.x, '<&');
});

test('JUnit XML: well-formed, one testcase per metric, failures for regressions, properties with effect size and CI', () => {
  const { r } = regressionResult();
  const xml = junitXml(r, new Date('2025-01-01T00:00:00Z'));
  const doc = parseXml(xml);
  assert.equal(doc.name, 'testsuites');
  const suites = all(doc, 'testsuite');
  assert.equal(suites.length, 1);
  const cases = all(doc, 'testcase');
  assert.equal(cases.length, r.metrics.length, 'one testcase per metric');
  assert.deepEqual(
    cases.map((c) => c.attrs.name),
    r.metrics.map((m) => m.id),
  );
  assert.equal(Number(doc.attrs.tests), r.metrics.length);
  const failed = cases.filter((c) => c.children.some((x) => x.name === 'failure'));
  assert.equal(failed.length, r.regressions.length);
  assert.equal(Number(doc.attrs.failures), r.regressions.length);
  assert.ok(failed.length > 0);
  const p50 = cases.find((c) => c.attrs.name === 'latency.missing.fault.p50')!;
  const props = Object.fromEntries(all(p50, 'property').map((p) => [p.attrs.name, p.attrs.value]));
  for (const k of ['effect_size', 'effect_size_rel', 'ci_low', 'ci_high', 'ci_level', 'p', 'p_adj', 'test', 'a12']) assert.ok(props[k] !== undefined && props[k] !== '', `property ${k}`);
  assert.ok(Number(props.ci_low) > 0);
  const failure = p50.children.find((x) => x.name === 'failure')!;
  assert.equal(failure.attrs.type, 'regression');
  assert.match(failure.attrs.message, /latency\.missing\.fault\.p50: .* -> .*bootstrap/);
  // a diagnostic stage's regression: a warning, no <failure>
  const q = cases.find((c) => c.attrs.name === 'latency.missing.queue.p50')!;
  assert.equal(all(q, 'property').find((p) => p.attrs.name === 'verdict')!.attrs.value, 'warning');
  assert.ok(!q.children.some((x) => x.name === 'failure'));
  // insufficient data: skipped, not failed
  const count = cases.find((c) => c.attrs.name === 'faults.missing.count')!;
  assert.ok(count.children.some((x) => x.name === 'skipped'));
  assert.equal(Number(doc.attrs.skipped), r.metrics.filter((m) => m.verdict === 'insufficient data' || m.verdict === 'ignored').length);
});

test('JUnit XML escapes hostile text (paths with markup, control characters)', () => {
  const { r } = regressionResult();
  const hostile = { ...r, baseline: { ...r.baseline, path: 'a<b>&"c\'\u0001.uscope' } };
  const doc = parseXml(junitXml(hostile));
  const p = all(doc, 'property').find((x) => x.attrs.name === 'baseline')!;
  assert.equal(p.attrs.value, 'a<b>&"c\'.uscope');
  assert.equal(xmlEscape('<&>'), '&lt;&amp;&gt;');
});

test('JSON verdict: parses, names the test, effect size and interval of every tested metric', () => {
  const { r } = regressionResult();
  const v = JSON.parse(checkJson(r)) as CheckResult;
  assert.equal(v.schema, 'uffdscope.check/1');
  assert.equal(v.verdict, 'regression');
  assert.equal(v.exit_code, 1);
  for (const m of v.metrics) {
    assert.ok(typeof m.test.name === 'string' && m.test.name.length > 0, m.id);
    assert.ok('abs' in m.effect && 'rel' in m.effect, m.id);
    if (m.test.mode !== 'none') assert.ok(m.test.ci && Number.isFinite(m.test.ci.low) && Number.isFinite(m.test.ci.high), m.id);
  }
  assert.match(v.method.description, /Bonferroni/);
});

test('terminal table: metric, baseline, current, change, verdict, test, p, CI', () => {
  const { r } = regressionResult();
  const t = formatCheckTable(r);
  const header = t.split('\n').find((l) => l.startsWith('  metric'))!;
  for (const col of ['metric', 'baseline', 'current', 'change', 'verdict', 'test', 'p (adj)', 'CI (']) assert.ok(header.includes(col), col);
  assert.match(t, /^uffdscope check: REGRESSION in \d+ of \d+ metrics/);
  assert.match(t, /latency\.missing\.fault\.p50 .* REGRESSION +bootstrap 3000v3000 \+MWU/);
  assert.match(t, /Regressions:\n  latency\.missing\.fault\.p05: \+.*\n  latency\.missing\.fault\.p50: \+/);
});

test('HTML: self-contained (no URLs, no scripts), a CDF plot per stage with two paths each', () => {
  const { r, b, c } = regressionResult();
  const html = checkHtml(r, b, c);
  assert.ok(!/https?:\/\//i.test(html), 'no http(s) URLs');
  assert.ok(!/<script|<link|<img|<iframe|\bsrc=|@import|url\(/i.test(html), 'no scripts or external resources');
  assert.match(html, /^<!DOCTYPE html>/);
  const plots = html.match(/<svg class="cdf-plot"[\s\S]*?<\/svg>/g) ?? [];
  assert.equal(plots.length, 4, 'total, queue, service, wake');
  for (const p of plots) {
    const paths = p.match(/<path class="cdf (baseline|current)[^"]*" d="([^"]*)"/g) ?? [];
    assert.equal(paths.length, 2, 'two CDF paths per plot');
    assert.match(p, /<path class="cdf baseline" d="M[\d.]+,[\d.]+V/);
    assert.match(p, /<path class="cdf current" d="M[\d.]+,[\d.]+V/);
  }
  assert.match(html, /latency \(µs, log scale\)/);
  assert.match(html, /REGRESSION/);
});

test('HTML from summaries only: CDFs drawn from the percentiles, marked as such', () => {
  const t = realSummary();
  const b = sideFromSummaries('baseline', [t]);
  const c = sideFromSummaries('current', [scaledSummary(t, 1.2)]);
  const r = compare(b, c, fast);
  const html = checkHtml(r, b, c);
  const plots = html.match(/<svg class="cdf-plot"[\s\S]*?<\/svg>/g) ?? [];
  assert.equal(plots.length, 4);
  for (const p of plots) assert.equal((p.match(/<path class="cdf (baseline|current) approx"/g) ?? []).length, 2);
});

test('cdfFromSorted: bounded points, ends at 1, monotone', () => {
  const s = Float64Array.from({ length: 100_000 }, (_, i) => i);
  const c = cdfFromSorted(s);
  assert.ok(c.points.length <= 400);
  assert.deepEqual(c.points[c.points.length - 1], [99_999, 1]);
  for (let i = 1; i < c.points.length; i++) assert.ok(c.points[i][0] >= c.points[i - 1][0] && c.points[i][1] > c.points[i - 1][1]);
  const ties = cdfFromSorted(Float64Array.from([5, 5, 5, 7]));
  assert.deepEqual(ties.points, [
    [5, 0.75],
    [7, 1],
  ]);
});
