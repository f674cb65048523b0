// OpenMetrics / Prometheus exposition: the text checked by real parsers
// (`promtool check metrics` from Debian's prometheus package for the
// Prometheus text format; python3-prometheus-client's OpenMetrics parser for
// the OpenMetrics variant, when installed), label cardinality caps, the HTTP
// handler's content negotiation, and `serve --listen` validation.
// Input: a GENERATED recording (`simulate`).
import { test, before, after } from 'node:test';
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
import { listenMetrics, parseListen } from '../../src/cli/serve.js';
import { UsageError } from '../../src/cli/errors.js';

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
      m = attachMetrics(a, () => ({ lostTotal: 5, lost: { fault: 3, wake: 2 } }), opts);
    },
  );
  a!.finish();
  const r = { a: a!, m: m! };
  if (opts === undefined) shared = r;
  return r;
}

function which(cmd: string): string | null {
  for (const d of (process.env.PATH ?? '').split(':').concat(['/usr/bin', '/usr/local/bin'])) {
    const p = join(d, cmd);
    if (existsSync(p)) return p;
  }
  return null;
}

function sample(text: string, name: string, labels: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{${labels}} `) || (labels === '' && line.startsWith(`${name} `))) return Number(line.split(' ').pop());
  }
  return undefined;
}

test('Prometheus text format passes promtool check metrics', (t) => {
  const promtool = which('promtool');
  if (!promtool) {
    // scripts/setup.sh installs it; under CI a missing validator is a failure.
    if (process.env.CI) assert.fail('promtool not installed (scripts/setup.sh installs prometheus)');
    t.skip('promtool not installed (apt-get install prometheus)');
    return;
  }
  const { a, m } = fed();
  return m.textRegistry.metrics().then((text) => {
    const r = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(r.status, 0, `promtool: ${r.stdout}${r.stderr}`);
    assert.equal((r.stdout + r.stderr).trim(), '', 'no lint findings');
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
  });
});

test('OpenMetrics variant: content type, # EOF, parsed by an OpenMetrics parser', async (t) => {
  const { m } = fed();
  assert.equal(m.registry.contentType, 'application/openmetrics-text; version=1.0.0; charset=utf-8');
  const text = await m.registry.metrics();
  assert.ok(text.endsWith('# EOF\n'));
  assert.match(text, /^# TYPE uffdscope_userfaults counter$/m);
  assert.match(text, /^uffdscope_userfaults_total\{kind="rwp"\} \d+$/m);
  // scraping twice does not count twice
  const again = await m.registry.metrics();
  assert.equal(sample(again, 'uffdscope_ioctls_total', 'ioctl="UFFDIO_RWPROTECT"'), sample(text, 'uffdscope_ioctls_total', 'ioctl="UFFDIO_RWPROTECT"'));
  const py = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : null;
  const probe = py ? spawnSync(py, ['-c', 'import prometheus_client.openmetrics.parser'], { encoding: 'utf8' }) : null;
  if (!py || probe!.status !== 0) {
    if (process.env.CI) assert.fail('python3-prometheus-client not installed (scripts/setup.sh installs it)');
    t.diagnostic('OpenMetrics parser not installed (apt-get install python3-prometheus-client): structural checks only');
    return;
  }
  const r = spawnSync(
    py,
    ['-c', 'import sys\nfrom prometheus_client.openmetrics.parser import text_string_to_metric_families as p\nprint(len(list(p(sys.stdin.read()))))'],
    { input: text, encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.ok(Number(r.stdout.trim()) >= 10, `families parsed: ${r.stdout}`);
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
  assert.ok((sample(text, 'uffdscope_label_values_folded', 'label="process"') ?? 0) > 0);
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
