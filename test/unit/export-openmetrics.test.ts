// OpenMetrics / Prometheus exposition: the text checked by real parsers
// (`promtool check metrics` from Debian's prometheus package for the
// Prometheus text format; python3-prometheus-client's OpenMetrics parser for
// the OpenMetrics variant; scripts/setup.sh installs both), formats alternating
// on one instance, label cardinality caps, the HTTP handler's content
// negotiation, and `serve --listen` validation.
// Input: a GENERATED recording (`simulate`).
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { runSimulate } from '../../src/cli/simulate.js';
import { resolveUapi } from '../../src/events/uapi.js';
import { forEachRecordedEvent } from '../../src/source/recordingSource.js';
import { Analysis } from '../../src/stats/pipeline.js';
import { attachMetrics, LabelCap, LATENCY_BUCKETS_S, type AttachedMetrics, type MetricsOptions } from '../../exporters/openmetrics.js';
import { listenMetrics, parseListen } from '../../exporters/metricsServer.js';
import { UsageError } from '../../src/exitCodes.js';
import { toolVersion } from '../../src/capture/recordingHeader.js';
import { requirePromtool } from './promtool.js';

const uapi = resolveUapi();
const dir = mkdtempSync(join(tmpdir(), 'uffdscope-metrics-'));
const rec = join(dir, 'sim.uscope');

after(() => rmSync(dir, { recursive: true, force: true }));

before(() => {
  runSimulate({ scenario: 'mode-toggle', output: rec, seed: 5, duration: 2, faultRate: 200, uapi, force: true });
});

let shared: { a: Analysis; m: AttachedMetrics } | null = null;

/** the recording through an Analysis with metrics attached (default options: one shared instance) */
function fed(opts?: MetricsOptions): { a: Analysis; m: AttachedMetrics } {
  if (opts === undefined && shared !== null) return shared;
  let a: Analysis | null = null;
  let m: AttachedMetrics | null = null;
  forEachRecordedEvent(
    rec,
    null,
    (e) => a!.push(e),
    (_h, u) => {
      a = new Analysis(u);
      m = attachMetrics(a, () => ({ lostTotal: 5, lost: { fault: 3, wake: 2 }, backend: 'tracepoint' }), opts);
    },
  );
  a!.finish();
  const r = { a: a!, m: m! };
  if (opts === undefined) shared = r;
  return r;
}

function sample(text: string, name: string, labels: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{${labels}} `) || (labels === '' && line.startsWith(`${name} `))) return Number(line.split(' ').pop());
  }
  return undefined;
}

/** `promtool check metrics` on a Prometheus text body: no error, no lint finding. */
function promtoolCheck(promtool: string, text: string): void {
  const r = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(r.status, 0, `promtool: ${r.stdout}${r.stderr}`);
  assert.equal((r.stdout + r.stderr).trim(), '', 'no lint findings');
}

interface ParsedFamily {
  name: string;
  type: string;
  samples: string[];
}

const py = '/usr/bin/python3';

/** true when python3-prometheus-client is installed; skips locally, fails under CI. */
function requireOpenMetricsParser(t: TestContext): boolean {
  if (existsSync(py) && spawnSync(py, ['-c', 'import prometheus_client.openmetrics.parser']).status === 0) return true;
  if (process.env.CI) assert.fail('python3-prometheus-client not installed (scripts/setup.sh installs it)');
  t.skip('python3-prometheus-client not installed (apt-get install python3-prometheus-client)');
  return false;
}

/** The families python3-prometheus-client's OpenMetrics parser reads from a body (it raises on anything invalid). */
function openMetricsParse(text: string): ParsedFamily[] {
  const script = [
    'import sys, json',
    'from prometheus_client.openmetrics.parser import text_string_to_metric_families as p',
    'print(json.dumps([{"name": f.name, "type": f.type, "samples": sorted({s.name for s in f.samples})} for f in p(sys.stdin.read())]))',
  ].join('\n');
  const r = spawnSync(py, ['-c', script], { input: text, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as ParsedFamily[];
}

/** family name -> type, from a body's # TYPE lines */
function types(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out.set(m[1], m[2]);
  return out;
}

test('Prometheus text format passes promtool check metrics', async (t) => {
  const promtool = requirePromtool(t);
  if (promtool === null) return;
  const { a, m } = fed();
  const text = await m.textRegistry.metrics();
  promtoolCheck(promtool, text);
  const s = a.summary({ backend: 'generated' });
  assert.equal(sample(text, 'uffdscope_userfaults_total', 'kind="rwp"'), s.faults.rwp);
  assert.equal(sample(text, 'uffdscope_userfaults_total', 'kind="async"'), s.faults.async);
  assert.equal(sample(text, 'uffdscope_fault_latency_seconds_count', 'stage="total"'), s.latency_ns.fault.count);
  assert.equal(sample(text, 'uffdscope_ioctls_total', 'ioctl="UFFDIO_SET_MODE"'), s.ioctls.UFFDIO_SET_MODE.count);
  const failed = (errno: string) => s.mode_switches.filter((x) => x.errno === errno).length;
  assert.equal(sample(text, 'uffdscope_mode_switch_attempts_total', 'result="ok"'), s.mode_switches.filter((x) => x.result === 0).length);
  assert.equal(sample(text, 'uffdscope_mode_switch_attempts_total', 'result="EINVAL"'), failed('EINVAL'));
  assert.equal(sample(text, 'uffdscope_mode_switch_attempts_total', 'result="EFAULT"'), failed('EFAULT'));
  assert.equal(sample(text, 'uffdscope_lost_records_total', 'type="fault"'), 3);
  assert.equal(sample(text, 'uffdscope_events_received_total', 'type="fault"'), s.events.by_type.fault);
  let byProc = 0;
  for (const line of text.split('\n')) if (line.startsWith('uffdscope_process_userfaults_total{')) byProc += Number(line.split(' ').pop());
  assert.equal(byProc, s.faults.total);
  // nothing per address, thread or uffd id
  assert.doesNotMatch(text, /(address|tid|uffd)="/);
  // every counter is named *_total
  for (const [name, type] of types(text)) if (type === 'counter') assert.match(name, /_total$/, name);
  // build info and the exporter's own process
  assert.equal(sample(text, 'uffdscope_build_info', `version="${toolVersion}",nodejs_version="${process.versions.node}",backend="tracepoint"`), 1);
  assert.ok(sample(text, 'uffdscope_process_resident_memory_bytes', '')! > 0);
  assert.ok(sample(text, 'uffdscope_process_cpu_seconds_total', '')! > 0);
  assert.equal(sample(text, 'uffdscope_process_start_time_seconds', ''), Math.round(performance.timeOrigin) / 1000);
});

test('OpenMetrics variant: content type, # EOF, parsed by an OpenMetrics parser', async (t) => {
  if (!requireOpenMetricsParser(t)) return;
  const { m } = fed();
  assert.equal(m.registry.contentType, 'application/openmetrics-text; version=1.0.0; charset=utf-8');
  const text = await m.registry.metrics();
  assert.ok(text.endsWith('# EOF\n'));
  assert.match(text, /^# TYPE uffdscope_userfaults counter$/m);
  assert.match(text, /^uffdscope_userfaults_total\{kind="rwp"\} \d+$/m);
  // scraping twice does not count twice
  const again = await m.registry.metrics();
  assert.equal(sample(again, 'uffdscope_ioctls_total', 'ioctl="UFFDIO_RWPROTECT"'), sample(text, 'uffdscope_ioctls_total', 'ioctl="UFFDIO_RWPROTECT"'));
  const families = openMetricsParse(text);
  // the same families as the text format, counters without their _total
  const textTypes = types(await m.textRegistry.metrics());
  assert.deepEqual(
    new Map(families.map((f) => [f.type === 'counter' ? `${f.name}_total` : f.name, f.type])),
    textTypes,
  );
});

test('formats alternate on one instance: each scrape in the format it asked for, none changes another', async (t) => {
  const promtool = requirePromtool(t);
  if (promtool === null || !requireOpenMetricsParser(t)) return;
  const { m } = fed();
  const { server } = await listenMetrics('127.0.0.1:0', m.handler);
  // the exporter's own CPU and memory move between scrapes; everything else must not
  const stable = (body: string) => body.split('\n').filter((l) => !/^uffdscope_process_(cpu_seconds|resident_memory_bytes)/.test(l)).join('\n');
  try {
    const port = (server.address() as AddressInfo).port;
    const bodies = { om: [] as string[], text: [] as string[] };
    for (let i = 0; i < 4; i++) {
      for (const om of i % 2 === 0 ? [true, false] : [false, true]) {
        const res = await fetch(`http://127.0.0.1:${port}/metrics`, om ? { headers: { Accept: 'application/openmetrics-text; version=1.0.0,text/plain;q=0.5' } } : {});
        assert.equal(res.status, 200);
        const body = await res.text();
        if (om) {
          assert.match(res.headers.get('content-type') ?? '', /^application\/openmetrics-text; version=1\.0\.0/);
          assert.ok(body.endsWith('# EOF\n'));
          assert.ok(openMetricsParse(body).some((f) => f.name === 'uffdscope_userfaults' && f.type === 'counter' && f.samples.includes('uffdscope_userfaults_total')));
          bodies.om.push(stable(body));
        } else {
          assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
          promtoolCheck(promtool, body);
          assert.match(body, /^# TYPE uffdscope_userfaults_total counter$/m);
          assert.match(body, /^uffdscope_userfaults_total\{kind="missing"\} \d+$/m);
          assert.doesNotMatch(body, /^uffdscope_userfaults\{/m);
          bodies.text.push(stable(body));
        }
      }
    }
    for (const b of bodies.om) assert.equal(b, bodies.om[0]);
    for (const b of bodies.text) assert.equal(b, bodies.text[0]);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('label cardinality is capped, the rest folded into "other"', async () => {
  const cap = new LabelCap(3);
  assert.deepEqual(['a', 'b', 'a', 'c', 'd', 'e', 'b'].map((v) => cap.value(v)), ['a', 'b', 'a', 'c', 'other', 'other', 'b']);
  assert.equal(cap.size, 3);
  assert.equal(cap.folded, 2);
  // two owner processes in the scenario; a cap of 1 folds the second
  const { a, m } = fed({ maxProcesses: 1 });
  const text = await m.textRegistry.metrics();
  const procLines = text.split('\n').filter((l) => l.startsWith('uffdscope_process_userfaults_total{'));
  assert.equal(procLines.length, 2, procLines.join('\n'));
  assert.ok(procLines.some((l) => l.includes('comm="other",pid="other"')));
  let sum = 0;
  for (const l of procLines) sum += Number(l.split(' ').pop());
  assert.equal(sum, a.summary({ backend: 'generated' }).faults.total);
  assert.ok((sample(text, 'uffdscope_label_values_folded_total', 'label="process"') ?? 0) > 0);
  // buckets: log-spaced 1 µs .. 10 s
  assert.equal(LATENCY_BUCKETS_S[0], 1e-6);
  assert.equal(LATENCY_BUCKETS_S[LATENCY_BUCKETS_S.length - 1], 10);
  for (let i = 1; i < LATENCY_BUCKETS_S.length; i++) {
    const r = LATENCY_BUCKETS_S[i] / LATENCY_BUCKETS_S[i - 1];
    assert.ok(r >= 2 && r <= 2.5 + 1e-9, `ratio ${r}`);
  }
});

test('HTTP: /metrics negotiates the format; 404 elsewhere', async () => {
  const { m } = fed();
  const { server } = await listenMetrics('127.0.0.1:0', m.handler);
  try {
    const port = (server.address() as AddressInfo).port;
    const om = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { Accept: 'application/openmetrics-text; version=1.0.0,text/plain;q=0.5' } });
    assert.equal(om.status, 200);
    assert.match(om.headers.get('content-type') ?? '', /^application\/openmetrics-text; version=1\.0\.0/);
    assert.ok((await om.text()).endsWith('# EOF\n'));
    const txt = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.match(txt.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.doesNotMatch(await txt.text(), /# EOF/);
    const nf = await fetch(`http://127.0.0.1:${port}/nope`);
    assert.equal(nf.status, 404);
    await nf.text();
    // the port is taken: a one-line usage error
    await assert.rejects(listenMetrics(`127.0.0.1:${port}`, m.handler), (e: unknown) => e instanceof UsageError && /in use/.test(e.message) && !e.message.includes('\n'));
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('--listen validation', () => {
  assert.deepEqual(parseListen('127.0.0.1:9465'), { host: '127.0.0.1', port: 9465 });
  assert.deepEqual(parseListen('9465'), { host: '127.0.0.1', port: 9465 });
  assert.deepEqual(parseListen(':9100'), { host: '127.0.0.1', port: 9100 });
  assert.deepEqual(parseListen('[::1]:9465'), { host: '::1', port: 9465 });
  assert.deepEqual(parseListen('0.0.0.0:80'), { host: '0.0.0.0', port: 80 });
  assert.deepEqual(parseListen('localhost:9465'), { host: 'localhost', port: 9465 });
  for (const bad of ['', 'host', '127.0.0.1', '127.0.0.1:', '127.0.0.1:70000', 'example.com:9465', '::1:9465', '[127.0.0.1]:1', '1.2.3:4', '127.0.0.1:-1']) {
    assert.throws(() => parseListen(bad), (e: unknown) => e instanceof UsageError && !e.message.includes('\n'), `rejects "${bad}"`);
  }
});
