// Text table, JUnit XML and JSON forms of a check result.
import { textTable } from '../stats/summaryText.js';
import { UNTESTABLE, type CheckResult, type MetricResult, type SideInfo } from './compare.js';
import { fmtP, formatChange, formatPercent, formatValue } from './format.js';

function levelText(level: number): string {
  return `${(level * 100).toPrecision(4).replace(/\.?0+$/, '')}%`;
}

function sideLine(s: SideInfo): string {
  const types = new Set(s.inputs.map((i) => i.type));
  const what = types.size === 2 ? 'recordings and summaries' : types.has('recording') ? (s.runs === 1 ? 'recording' : 'recordings') : s.runs === 1 ? 'summary' : 'summaries';
  const kinds = Object.entries(s.kinds)
    .map(([k, v]) => `${v} ${k}`)
    .join(', ');
  return `${s.path}: ${s.runs} run${s.runs === 1 ? '' : 's'} (${what}), ${kinds || 'no'} userfaults`;
}

export function testShort(r: MetricResult): string {
  const t = r.test;
  if (t.mode === 'per-run') return `${t.name.split(' ')[0]} ${t.n_baseline}v${t.n_current} runs`;
  if (t.mode === 'per-sample') return `bootstrap ${t.n_baseline}v${t.n_current}${t.mann_whitney ? ' +MWU' : ''}`;
  return 'none';
}

export function changeText(r: MetricResult): string {
  const c = formatChange(r.change, r.unit);
  const p = formatPercent(r.change_rel);
  return p ? `${c} (${p})` : c;
}

export function ciText(r: MetricResult): string {
  const ci = r.test.ci;
  if (!ci) return '-';
  return `[${formatChange(ci.low, r.unit)}, ${formatChange(ci.high, r.unit)}]`;
}

export function verdictText(r: MetricResult): string {
  if (r.verdict === 'regression') return 'REGRESSION';
  if (r.verdict === 'warning') return 'warning';
  if (r.verdict === 'inconclusive') return 'inconclusive (run noise)';
  if (r.verdict === UNTESTABLE) return r.fails ? 'BEYOND THRESHOLD, UNTESTABLE' : 'beyond threshold, untestable (warning)';
  return r.verdict;
}

/** The terminal report. */
export function formatCheckTable(res: CheckResult): string {
  const out: string[] = [];
  const failing = res.metrics.filter((m) => m.fails);
  const untested = failing.filter((m) => m.verdict === UNTESTABLE).length;
  out.push(
    res.verdict === 'regression'
      ? `uffdscope check: REGRESSION in ${failing.length - untested} of ${res.metrics.length} metrics` + (untested ? `, ${untested} more beyond threshold, untestable` : '')
      : res.verdict === 'untestable'
        ? `uffdscope check: FAIL: ${untested} of ${res.metrics.length} metrics beyond threshold, untestable (no test possible on these inputs)`
        : `uffdscope check: pass (no regression in ${res.metrics.length} metrics` +
          (res.inconclusive.length ? `; ${res.inconclusive.length} inconclusive: beyond threshold but within run-to-run noise, one run a side)` : ')'),
  );
  out.push(`  baseline  ${sideLine(res.baseline)}`);
  out.push(`  current   ${sideLine(res.current)}`);
  out.push(`  method    ${res.method.description}`);
  out.push('');
  const rows = res.metrics.map((r) => [
    r.id,
    formatValue(r.baseline, r.unit),
    formatValue(r.current, r.unit),
    changeText(r),
    verdictText(r),
    testShort(r),
    fmtP(r.test.p_adj),
    ciText(r),
  ]);
  out.push(
    textTable(['metric', 'baseline', 'current', 'change', 'verdict', 'test', 'p (adj)', `CI (${levelText(res.method.level)})`], rows, ['l', 'r', 'r', 'r', 'l', 'l', 'r', 'l']),
  );
  if (failing.length) {
    out.push('');
    out.push(untested === failing.length ? 'Failing (beyond threshold, untestable):' : 'Regressions:');
    for (const r of failing) out.push(`  ${r.id}: ${changeText(r)}, ${r.reason}`);
  }
  const warnings = res.metrics.filter((m) => !m.fails && (m.verdict === 'warning' || m.verdict === UNTESTABLE));
  if (warnings.length) {
    out.push('');
    out.push('Warnings (diagnostic metrics, not failing):');
    for (const r of warnings) out.push(`  ${r.id}: ${changeText(r)}, ${r.reason}`);
  }
  const inconclusive = res.metrics.filter((m) => m.verdict === 'inconclusive');
  if (inconclusive.length) {
    out.push('');
    out.push('Inconclusive (one run a side: within run-to-run noise, not failing):');
    for (const r of inconclusive) out.push(`  ${r.id}: ${changeText(r)}, ${r.reason}`);
  }
  if (res.notes.length) {
    out.push('');
    out.push('Notes:');
    for (const n of res.notes) out.push(`  - ${n}`);
  }
  return out.join('\n') + '\n';
}

// ----------------------------------------------------------------- JUnit

/** XML 1.0 attribute/text escape; characters XML 1.0 cannot carry are dropped. */
export function xmlEscape(s: string): string {
  return s
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

function prop(name: string, value: unknown): string {
  const v = value === null || value === undefined ? '' : typeof value === 'number' ? (Number.isFinite(value) ? String(value) : '') : String(value);
  return `<property name="${xmlEscape(name)}" value="${xmlEscape(v)}"/>`;
}

export function junitXml(res: CheckResult, now = new Date()): string {
  const tests = res.metrics.length;
  const failures = res.metrics.filter((m) => m.fails).length;
  const notJudged = (m: MetricResult) => !m.fails && (m.verdict === 'ignored' || m.verdict === 'insufficient data' || m.verdict === 'inconclusive');
  const skipped = res.metrics.filter(notJudged).length;
  const counts = `tests="${tests}" failures="${failures}" errors="0" skipped="${skipped}" time="0"`;
  const L: string[] = [];
  L.push('<?xml version="1.0" encoding="UTF-8"?>');
  L.push(`<testsuites name="uffdscope check" ${counts}>`);
  L.push(`  <testsuite name="uffdscope check" ${counts} timestamp="${now.toISOString().replace(/\.\d+Z$/, '')}">`);
  L.push('    <properties>');
  for (const [k, v] of [
    ['verdict', res.verdict],
    ['baseline', res.baseline.path],
    ['baseline_runs', res.baseline.runs],
    ['current', res.current.path],
    ['current_runs', res.current.runs],
    ['confidence', res.method.confidence],
    ['correction', res.method.correction],
    ['family_size', res.method.family_size],
    ['ci_level', res.method.level],
    ['resamples', res.method.resamples],
    ['seed', res.method.seed],
    ['budget', res.method.budget ?? ''],
    ['method', res.method.description],
  ] as Array<[string, unknown]>)
    L.push(`      ${prop(k, v)}`);
  L.push('    </properties>');
  for (const r of res.metrics) {
    const cls = `uffdscope.check.${r.id.split('.').slice(0, -1).join('.')}`;
    L.push(`    <testcase name="${xmlEscape(r.id)}" classname="${xmlEscape(cls)}" time="0">`);
    L.push('      <properties>');
    const ps: Array<[string, unknown]> = [
      ['verdict', r.verdict],
      ['unit', r.unit],
      ['baseline', r.baseline],
      ['current', r.current],
      ['change', r.change],
      ['change_rel', r.change_rel],
      ['effect_size', r.effect.abs],
      ['effect_size_rel', r.effect.rel],
      ['test', r.test.name],
      ['n_baseline', `${r.test.n_baseline} ${r.test.n_unit}`],
      ['n_current', `${r.test.n_current} ${r.test.n_unit}`],
      ['p', r.test.p],
      ['p_adj', r.test.p_adj],
      ['ci_level', r.test.ci?.level],
      ['ci_low', r.test.ci?.low],
      ['ci_high', r.test.ci?.high],
      ['threshold', r.rule.threshold],
      ['floor', r.rule.floor],
      ['direction', r.rule.direction],
      ['gate', r.rule.gate],
    ];
    if (r.effect.a12 !== undefined) ps.push(['a12', r.effect.a12]);
    if (r.effect.hedges_g !== undefined) ps.push(['hedges_g', r.effect.hedges_g]);
    for (const [k, v] of ps) L.push(`        ${prop(k, v)}`);
    L.push('      </properties>');
    const summary = `${r.id}: ${formatValue(r.baseline, r.unit)} -> ${formatValue(r.current, r.unit)} (${changeText(r)}); test ${r.test.name}, p(adj) ${fmtP(r.test.p_adj)}, CI ${ciText(r)}; ${r.reason}`;
    if (r.fails) {
      const type = r.verdict === 'regression' ? 'regression' : 'untestable';
      L.push(`      <failure type="${type}" message="${xmlEscape(summary)}">${xmlEscape(summary)}</failure>`);
    } else if (notJudged(r)) {
      L.push(`      <skipped message="${xmlEscape(`${r.verdict}: ${r.reason}`)}"/>`);
    }
    L.push(`      <system-out>${xmlEscape(summary)}</system-out>`);
    L.push('    </testcase>');
  }
  L.push('  </testsuite>');
  L.push('</testsuites>');
  return L.join('\n') + '\n';
}

export function checkJson(res: CheckResult): string {
  return JSON.stringify(res, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n';
}
