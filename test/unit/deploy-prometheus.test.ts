// The Prometheus/Grafana kit in deploy/: the rules pass `promtool check rules`
// and their unit tests (`promtool test rules`, input series in
// deploy/prometheus/uffdscope-rules.test.yml); every query of the Grafana
// dashboard parses (promtool checks it as a rule), names only metrics the
// exporter serves or the rules record, and every recording rule is shown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { projectRoot } from '../../src/paths.js';
import { resolveUapi } from '../../src/events/uapi.js';
import { Analysis } from '../../src/stats/pipeline.js';
import { attachMetrics } from '../../exporters/openmetrics.js';
import { requirePromtool } from './promtool.js';

const promDir = join(projectRoot, 'deploy', 'prometheus');
const rulesFile = join(promDir, 'uffdscope-rules.yml');
const dashboardFile = join(projectRoot, 'deploy', 'grafana', 'uffdscope-dashboard.json');

interface RuleFile {
  groups: Array<{ name: string; rules: Array<{ record?: string; alert?: string; expr: string }> }>;
}

function recordedNames(): string[] {
  const rules = parseYaml(readFileSync(rulesFile, 'utf8')) as RuleFile;
  return rules.groups.flatMap((g) => g.rules.flatMap((r) => (r.record === undefined ? [] : [r.record])));
}

/** every PromQL query in the dashboard (panel targets and annotations), with Grafana's variables resolved */
function dashboardQueries(): string[] {
  const d = JSON.parse(readFileSync(dashboardFile, 'utf8')) as {
    panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
    annotations: { list: Array<{ expr: string }> };
    templating: { list: Array<{ query: unknown }> };
  };
  const exprs = [...d.panels.flatMap((p) => p.targets.map((t) => t.expr)), ...d.annotations.list.map((a) => a.expr)];
  assert.ok(d.panels.every((p) => p.targets.length > 0), 'every panel has a query');
  return exprs.map((e) => e.replaceAll('$instance', '.*'));
}

/** names of the series the exporter serves (histograms with their _bucket, _sum, _count) */
async function exportedNames(): Promise<Set<string>> {
  const m = attachMetrics(new Analysis(resolveUapi()), () => null);
  const text = await m.textRegistry.metrics();
  m.detach();
  const out = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    out.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) out.add(name + s);
  }
  return out;
}

test('promtool check rules and promtool test rules pass on deploy/prometheus', (t) => {
  const promtool = requirePromtool(t);
  if (promtool === null) return;
  const check = spawnSync(promtool, ['check', 'rules', rulesFile], { encoding: 'utf8' });
  assert.equal(check.status, 0, check.stdout + check.stderr);
  const rules = parseYaml(readFileSync(rulesFile, 'utf8')) as RuleFile;
  const count = rules.groups.reduce((n, g) => n + g.rules.length, 0);
  assert.match(check.stdout, new RegExp(`SUCCESS: ${count} rules found`));
  // the test file names the rules file relative to itself
  const unit = spawnSync(promtool, ['test', 'rules', 'uffdscope-rules.test.yml'], { cwd: promDir, encoding: 'utf8' });
  assert.equal(unit.status, 0, unit.stdout + unit.stderr);
  assert.match(unit.stdout, /SUCCESS/);
  // what the issue asks to be covered, each with a rule
  const alerts = rules.groups.flatMap((g) => g.rules.flatMap((r) => (r.alert === undefined ? [] : [r.alert])));
  assert.deepEqual(alerts.sort(), ['UffdscopeExporterDown', 'UffdscopeFaultLatencyHigh', 'UffdscopeLostRecords', 'UffdscopeModeSwitchFailed']);
  const testFile = readFileSync(join(promDir, 'uffdscope-rules.test.yml'), 'utf8');
  for (const name of [...recordedNames(), ...alerts]) assert.ok(testFile.includes(name), `${name} has a unit test`);
});

test('the Grafana dashboard: every query parses, names served or recorded metrics, and shows every recording rule', async (t) => {
  const promtool = requirePromtool(t);
  if (promtool === null) return;
  const queries = dashboardQueries();
  const dir = mkdtempSync(join(tmpdir(), 'uffdscope-dash-'));
  try {
    const file = join(dir, 'queries.yml');
    const rules = { groups: [{ name: 'dashboard', rules: queries.map((expr, i) => ({ record: `dashboard:query:${i}`, expr })) }] };
    writeFileSync(file, JSON.stringify(rules));
    const r = spawnSync(promtool, ['check', 'rules', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, `a dashboard query does not parse: ${r.stdout}${r.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const known = await exportedNames();
  const recorded = recordedNames();
  for (const n of [...recorded, 'up', 'ALERTS']) known.add(n);
  for (const q of queries) {
    // a metric name: an identifier just before a selector's "{"
    const names = [...q.replace(/"[^"]*"/g, '""').matchAll(/([a-zA-Z_:][\w:]*)\{/g)].map((m) => m[1]);
    assert.ok(names.length > 0, `no selector in ${q}`);
    for (const n of names) assert.ok(known.has(n), `unknown metric ${n} in ${q}`);
  }
  const all = queries.join('\n');
  for (const n of recorded) assert.ok(all.includes(n), `the dashboard does not use ${n}`);
});
