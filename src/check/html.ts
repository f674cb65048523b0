// The self-contained HTML report of `uffdscope check`: inline CSS, inline SVG,
// no scripts and no URLs, so it opens anywhere (CI artifact viewers, mail)
// with no network. Latency CDFs of baseline vs current on a log-x axis (µs)
// for the total fault latency and each stage.
import { STAGE_KEYS, type Side, type StageKey } from './inputs.js';
import { KINDS } from './budget.js';
import { UNTESTABLE, type CheckResult } from './compare.js';
import { fmtP, formatValue } from './format.js';
import { kindsOf, sideSamples, stageOf } from './metrics.js';
import { changeText, ciText, testShort, verdictText } from './report.js';
import { mean } from './stats.js';

export function htmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** A CDF as points (value ns, cumulative fraction), ascending; `exact` false when built from percentiles only. */
export interface Cdf {
  points: Array<[number, number]>;
  exact: boolean;
  n: number;
}

const MAX_POINTS = 400;

export function cdfFromSorted(sorted: Float64Array): Cdf {
  const m = sorted.length;
  const pts: Array<[number, number]> = [];
  if (m === 0) return { points: pts, exact: true, n: 0 };
  const P = Math.min(m, MAX_POINTS);
  let last = -1;
  for (let t = 1; t <= P; t++) {
    let j = Math.ceil((t / P) * m) - 1;
    if (j <= last) continue;
    // the last index holding this value: the CDF's height there
    while (j + 1 < m && sorted[j + 1] === sorted[j]) j++;
    pts.push([sorted[j], (j + 1) / m]);
    last = j;
  }
  return { points: pts, exact: true, n: m };
}

function cdfOf(side: Side, group: string, stage: StageKey): Cdf | null {
  const key = `${group}:${stage}`;
  const s = sideSamples(side, key, () => side.samples?.get(key)?.sorted() ?? null);
  if (s && s.length) return cdfFromSorted(s);
  const ls = side.runs.map((r) => stageOf(r.summary, group, stage)).filter((l) => l && l.count > 0);
  if (!ls.length) return null;
  const avg = (f: (l: NonNullable<(typeof ls)[number]>) => number) => mean(ls.map((l) => f(l!)));
  return {
    points: [
      [avg((l) => l.p50), 0.5],
      [avg((l) => l.p90), 0.9],
      [avg((l) => l.p99), 0.99],
      [avg((l) => l.max), 1],
    ],
    exact: false,
    n: ls.reduce((a, l) => a + l!.count, 0),
  };
}

const W = 560;
const H = 300;
const ML = 52;
const MR = 16;
const MT = 14;
const MB = 44;

function fmtTick(us: number): string {
  if (us >= 1e6) return `${us / 1e6}s`;
  if (us >= 1e3) return `${us / 1e3}ms`;
  return String(us);
}

/** One CDF plot: baseline and current as two <path class="cdf ..."> elements. */
export function cdfSvg(title: string, base: Cdf | null, cur: Cdf | null): string {
  const vals: number[] = [];
  for (const c of [base, cur]) if (c) for (const [v] of c.points) if (v > 0) vals.push(v / 1000);
  const lo = Math.floor(Math.log10(Math.max(1e-3, Math.min(...(vals.length ? vals : [1])))));
  let hi = Math.ceil(Math.log10(Math.max(...(vals.length ? vals : [10]))));
  if (hi <= lo) hi = lo + 1;
  const pw = W - ML - MR;
  const ph = H - MT - MB;
  const X = (ns: number) => ML + ((Math.log10(Math.max(ns / 1000, 10 ** lo)) - lo) / (hi - lo)) * pw;
  const Y = (f: number) => MT + (1 - f) * ph;
  const parts: string[] = [];
  parts.push(`<svg class="cdf-plot" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${htmlEscape(title)}">`);
  parts.push(`<title>${htmlEscape(title)}</title>`);
  parts.push(`<rect x="${ML}" y="${MT}" width="${pw}" height="${ph}" class="frame"/>`);
  for (let d = lo; d <= hi; d++) {
    const x = X(10 ** d * 1000).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${MT}" y2="${MT + ph}" class="grid"/>`);
    parts.push(`<text x="${x}" y="${MT + ph + 16}" class="tick" text-anchor="middle">${fmtTick(10 ** d)}</text>`);
    if (d < hi) {
      for (let k = 2; k < 10; k++) {
        const xm = X(k * 10 ** d * 1000).toFixed(1);
        parts.push(`<line x1="${xm}" x2="${xm}" y1="${MT + ph}" y2="${MT + ph - 4}" class="minor"/>`);
      }
    }
  }
  for (const f of [0, 0.25, 0.5, 0.75, 0.9, 0.99, 1]) {
    const y = Y(f).toFixed(1);
    parts.push(`<line x1="${ML}" x2="${ML + pw}" y1="${y}" y2="${y}" class="${f === 0.9 || f === 0.99 ? 'grid q' : 'grid'}"/>`);
    if (f !== 0.99 && f !== 0.9) parts.push(`<text x="${ML - 6}" y="${(Y(f) + 4).toFixed(1)}" class="tick" text-anchor="end">${f}</text>`);
    else parts.push(`<text x="${ML + pw - 2}" y="${(Y(f) - 2).toFixed(1)}" class="tick q" text-anchor="end">p${f * 100}</text>`);
  }
  parts.push(`<text x="${ML + pw / 2}" y="${H - 8}" class="axis" text-anchor="middle">latency (µs, log scale)</text>`);
  parts.push(`<text x="14" y="${MT + ph / 2}" class="axis" text-anchor="middle" transform="rotate(-90 14 ${MT + ph / 2})">fraction of faults</text>`);
  for (const [cls, c] of [
    ['baseline', base],
    ['current', cur],
  ] as Array<[string, Cdf | null]>) {
    let d = '';
    if (c && c.points.length) {
      const [v0, f0] = c.points[0];
      d = c.exact ? `M${X(v0).toFixed(1)},${Y(0).toFixed(1)}V${Y(f0).toFixed(1)}` : `M${X(v0).toFixed(1)},${Y(f0).toFixed(1)}`;
      for (let i = 1; i < c.points.length; i++) {
        const [v, f] = c.points[i];
        d += `H${X(v).toFixed(1)}V${Y(f).toFixed(1)}`;
      }
    }
    parts.push(`<path class="cdf ${cls}${c && !c.exact ? ' approx' : ''}" d="${d}"/>`);
  }
  parts.push('</svg>');
  return parts.join('');
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1b1f24;background:#fff}
h1{font-size:22px;margin:0 0 8px}h2{font-size:17px;margin:28px 0 8px}h3{font-size:15px;margin:16px 0 4px}
.badge{display:inline-block;padding:2px 10px;border-radius:4px;color:#fff;font-weight:600}
.badge.pass{background:#1a7f37}.badge.regression,.badge.untestable{background:#cf222e}
table{border-collapse:collapse;font-size:12.5px}th,td{padding:3px 8px;border-bottom:1px solid #d0d7de;text-align:right;white-space:nowrap}
th{background:#f6f8fa;position:sticky;top:0}td.l,th.l{text-align:left}
tr.regression td{background:#ffebe9}tr.warning td{background:#fff8c5}tr.improved td{background:#dafbe1}tr.inconclusive td{background:#f6f8fa;font-style:italic}tr.insufficient td{color:#6e7781}tr.ignored td{color:#8c959f}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px;margin:0}dt{font-weight:600}dd{margin:0}
.plots{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0;border:1px solid #d0d7de;border-radius:6px;padding:6px}
figcaption{font-size:12px;color:#57606a;max-width:${W}px}
svg .frame{fill:none;stroke:#8c959f}svg .grid{stroke:#eaeef2}svg .grid.q{stroke-dasharray:3 3;stroke:#d0d7de}svg .minor{stroke:#8c959f}
svg .tick{font-size:10px;fill:#57606a}svg .tick.q{fill:#8c959f}svg .axis{font-size:11px;fill:#24292f}
svg path.cdf{fill:none;stroke-width:1.8}svg path.baseline{stroke:#0969da}svg path.current{stroke:#d1242f}svg path.approx{stroke-dasharray:5 3}
.key{font-size:12px}.key span{display:inline-block;width:18px;height:3px;vertical-align:middle;margin:0 4px 0 10px}
.key .b{background:#0969da}.key .c{background:#d1242f}
code{font-size:12px;background:#f6f8fa;padding:0 3px;border-radius:3px}
`;

export function checkHtml(res: CheckResult, b: Side, c: Side, now = new Date()): string {
  const e = htmlEscape;
  const L: string[] = [];
  L.push('<!DOCTYPE html>');
  L.push('<html lang="en"><head><meta charset="utf-8">');
  L.push('<meta name="viewport" content="width=device-width, initial-scale=1">');
  L.push(`<title>uffdscope check: ${res.verdict}</title>`);
  L.push(`<style>${CSS}</style></head><body>`);
  const failing = res.metrics.filter((m) => m.fails);
  L.push(
    `<h1>uffdscope check <span class="badge ${res.verdict}">${res.verdict === 'regression' ? `REGRESSION (${failing.length})` : res.verdict === 'untestable' ? `FAIL: UNTESTABLE (${failing.length})` : res.inconclusive.length ? `PASS (${res.inconclusive.length} inconclusive)` : 'PASS'}</span></h1>`,
  );
  L.push('<dl>');
  const side = (s: CheckResult['baseline']) =>
    `${e(s.path)} — ${s.runs} run${s.runs === 1 ? '' : 's'} (${e([...new Set(s.inputs.map((i) => i.type))].join(' + '))}), ` +
    `${e(Object.entries(s.kinds).map(([k, v]) => `${v} ${k}`).join(', ') || 'no')} userfaults` +
    (s.command ? `, command <code>${e(s.command.join(' '))}</code>` : '');
  L.push(`<dt>baseline</dt><dd>${side(res.baseline)}</dd>`);
  L.push(`<dt>current</dt><dd>${side(res.current)}</dd>`);
  L.push(`<dt>generated</dt><dd>${e(now.toISOString())}${res.method.budget ? `, budget ${e(res.method.budget)}` : ', default budget'}</dd>`);
  L.push('</dl>');
  L.push(`<h2>Method</h2><p>${e(res.method.description)}</p>`);
  if (failing.length) {
    L.push('<h2>Regressions</h2><ul>');
    for (const r of failing) L.push(`<li><b>${e(r.id)}</b>: ${e(changeText(r))} — ${e(r.reason)}</li>`);
    L.push('</ul>');
  }
  L.push('<h2>Metrics</h2><table><thead><tr>');
  for (const [h, l] of [
    ['metric', true],
    ['baseline', false],
    ['current', false],
    ['change', false],
    ['verdict', true],
    ['test', true],
    ['p (adj)', false],
    [`CI (${(res.method.level * 100).toPrecision(4).replace(/\.?0+$/, '')}%)`, true],
    ['why', true],
  ] as Array<[string, boolean]>)
    L.push(`<th${l ? ' class="l"' : ''}>${e(h)}</th>`);
  L.push('</tr></thead><tbody>');
  for (const r of res.metrics) {
    const cls = r.verdict === 'insufficient data' ? 'insufficient' : r.verdict === UNTESTABLE ? (r.fails ? 'regression' : 'warning') : r.verdict;
    L.push(
      `<tr class="${cls}"><td class="l">${e(r.id)}</td><td>${e(formatValue(r.baseline, r.unit))}</td><td>${e(formatValue(r.current, r.unit))}</td>` +
        `<td>${e(changeText(r))}</td><td class="l">${e(verdictText(r))}</td><td class="l" title="${e(r.test.name)}">${e(testShort(r))}</td>` +
        `<td>${e(fmtP(r.test.p_adj))}</td><td class="l">${e(ciText(r))}</td><td class="l">${e(r.reason)}</td></tr>`,
    );
  }
  L.push('</tbody></table>');

  L.push('<h2>Latency CDFs</h2>');
  L.push('<p class="key">baseline<span class="b"></span> current<span class="c"></span> — dashed: drawn from p50/p90/p99/max only (summary inputs, no per-fault samples)</p>');
  const kb = kindsOf(b);
  const kc = kindsOf(c);
  const common = KINDS.filter((k) => kb[k] && kc[k]);
  const groups = ['all', ...(common.length > 1 || (common.length === 1 && (Object.keys(kb).length > 1 || Object.keys(kc).length > 1)) ? common : [])];
  const stageName: Record<StageKey, string> = { fault: 'total fault latency', queue: 'queue (fault → message read)', service: 'service (read → resolved)', wake: 'wake (resolved → running)' };
  for (const g of groups) {
    L.push(`<h3>${g === 'all' ? 'All fault kinds' : `${e(g)} faults`}</h3><div class="plots">`);
    for (const st of STAGE_KEYS) {
      const cb = cdfOf(b, g, st);
      const cc = cdfOf(c, g, st);
      if (!cb && !cc) continue;
      const title = `${g === 'all' ? '' : g + ' '}${stageName[st]}`;
      L.push('<figure>');
      L.push(cdfSvg(title, cb, cc));
      L.push(`<figcaption>${e(title)}: baseline n=${cb?.n ?? 0}, current n=${cc?.n ?? 0}</figcaption>`);
      L.push('</figure>');
    }
    L.push('</div>');
  }
  if (res.notes.length) {
    L.push('<h2>Notes</h2><ul>');
    for (const n of res.notes) L.push(`<li>${e(n)}</li>`);
    L.push('</ul>');
  }
  L.push('</body></html>');
  return L.join('\n') + '\n';
}
