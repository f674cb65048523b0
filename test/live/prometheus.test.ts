// Live: a real Prometheus server (Debian's package, on loopback, in a temporary
// directory, with deploy/prometheus/uffdscope-rules.yml loaded) scrapes
// `uffdscope serve` tracing the bundled workload. Its HTTP API's answers are
// compared with the workload's own figures: the increase and the rate of the
// userfault counter exactly, histogram_quantile within the bucket holding it.
// The workload waits behind a gate until Prometheus has scraped zeros, so the
// window from the first sample to the last holds every fault and rate() needs
// no extrapolation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse as parseYaml } from 'yaml';
import { projectRoot } from '../../src/paths.js';
import { LATENCY_BUCKETS_S } from '../../exporters/openmetrics.js';
import { cli, readTruth, requireLive, tmp, workloadBinary } from './support.js';

const PROMETHEUS = '/usr/bin/prometheus';
const rulesFile = join(projectRoot, 'deploy', 'prometheus', 'uffdscope-rules.yml');
const SCRAPE_S = 1;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

interface Sample {
  metric: Record<string, string>;
  value?: [number, string];
  values?: Array<[number, string]>;
}

/** one instant query of the Prometheus HTTP API at `time` (seconds; now if omitted) */
async function query(base: string, q: string, time?: number): Promise<Sample[]> {
  const u = new URL('/api/v1/query', base);
  u.searchParams.set('query', q);
  if (time !== undefined) u.searchParams.set('time', time.toFixed(3));
  const res = await fetch(u);
  const body = (await res.json()) as { status: string; error?: string; data: { result: Sample[] } };
  assert.equal(body.status, 'success', `${q}: ${body.error}`);
  return body.data.result;
}

async function scalar(base: string, q: string, time: number): Promise<number> {
  const r = await query(base, q, time);
  assert.equal(r.length, 1, `${q}: ${JSON.stringify(r)}`);
  return Number(r[0].value![1]);
}

async function until<T>(what: string, ms: number, f: () => Promise<T | null>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => null);
    if (v !== null) return v;
    if (Date.now() > end) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(200);
  }
}

/** [lower, upper] bounds (seconds) of the exporter's bucket holding x */
function bucketOf(x: number): [number, number] {
  let lo = 0;
  for (const b of LATENCY_BUCKETS_S) {
    if (x <= b) return [lo, b];
    lo = b;
  }
  return [lo, Infinity];
}

function stop(child: ChildProcess | null): Promise<void> {
  if (child === null || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

test('Prometheus scrapes serve: rate and histogram_quantile agree with the workload; the rules evaluate', { timeout: 240_000 }, async (t) => {
  if (!requireLive(t)) return;
  if (!existsSync(PROMETHEUS)) {
    if (process.env.CI) assert.fail('prometheus is not installed (scripts/setup.sh installs it)');
    t.skip('prometheus not installed (apt-get install prometheus)');
    return;
  }
  const truthPath = tmp('truth.json');
  const dir = dirname(truthPath);
  const gate = join(dir, 'go');
  let serve: ChildProcess | null = null;
  let prom: ChildProcess | null = null;
  let serveErr = '';
  let promErr = '';
  try {
    // the workload starts when the gate file appears
    const workload = [workloadBinary, '--scenario', 'postcopy', '--pages', '512', '--threads', '2', '--handler-delay-us', '200', '--quiet', '--json', truthPath];
    const gated = ['sh', '-c', 'while [ ! -e "$0" ]; do sleep 0.1; done; exec "$@"', gate, ...workload];
    serve = spawn(process.execPath, [cli, 'serve', '--listen', '127.0.0.1:0', '--', ...gated], { stdio: ['ignore', 'ignore', 'pipe'] });
    serve.stderr!.on('data', (d) => (serveErr += d));
    const target = await until('serve to listen', 30_000, async () => /serving metrics on http:\/\/([^/\s]+)\/metrics/.exec(serveErr)?.[1] ?? null);

    const port = await freePort();
    const config = join(dir, 'prometheus.yml');
    writeFileSync(
      config,
      [
        'global:',
        `  scrape_interval: ${SCRAPE_S}s`,
        `  scrape_timeout: ${SCRAPE_S}s`,
        `  evaluation_interval: ${SCRAPE_S}s`,
        'rule_files:',
        `  - ${JSON.stringify(rulesFile)}`,
        'scrape_configs:',
        '  - job_name: uffdscope',
        '    static_configs:',
        `      - targets: [${JSON.stringify(target)}]`,
        '',
      ].join('\n'),
    );
    const check = spawnSync('promtool', ['check', 'config', config], { encoding: 'utf8' });
    assert.equal(check.status, 0, `promtool check config: ${check.stdout}${check.stderr}`);
    prom = spawn(PROMETHEUS, [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    prom.stderr!.on('data', (d) => (promErr += d));
    const base = `http://127.0.0.1:${port}`;
    await until(`prometheus ready (${promErr})`, 30_000, async () => ((await fetch(`${base}/-/ready`)).ok ? true : null));

    // zeros scraped before the first fault
    await until('a scrape of serve with the counters at 0', 30_000, async () => {
      const r = await query(base, 'sum(uffdscope_userfaults_total{job="uffdscope"})');
      return r.length === 1 && Number(r[0].value![1]) === 0 ? true : null;
    });
    writeFileSync(gate, '');
    // the file appears before the workload has finished writing it
    const truth = await until(`the workload to finish (serve: ${serveErr})`, 120_000, async () => {
      if (!existsSync(truthPath)) return null;
      try {
        return readTruth(truthPath);
      } catch {
        return null;
      }
    });
    const doneAt = Date.now() / 1000;
    // two more scrapes after the end: serve must still answer, with every
    // fault. Awaited by the samples' own timestamps (an instant query of up is
    // stamped with the time of the query, not of a scrape, and a loaded
    // machine delays scrapes)
    const rangeQuery = 'uffdscope_userfaults_total{job="uffdscope",kind="missing"}[10m]';
    const series = await until(`two scrapes after the workload ended (serve: ${serveErr})`, 30_000, async () => {
      const r = await query(base, rangeQuery);
      return r.length === 1 && r[0].values!.filter(([ts]) => ts > doneAt).length >= 2 ? r : null;
    });
    const samples = series[0].values!;
    const up = await query(base, 'up{job="uffdscope"}', samples[samples.length - 1][0]);
    assert.equal(up.length, 1);
    assert.equal(up[0].value![1], '1', `serve stopped answering scrapes after the command ended: ${serveErr}`);

    // the counter's samples: the first is 0, the last is the final count
    const [t0, v0] = samples[0];
    const [tEnd, vEnd] = samples[samples.length - 1];
    assert.equal(Number(v0), 0, 'the first scrape saw no fault');
    assert.equal(Number(vEnd), truth.faults.missing, 'the last scrape has every missing fault');
    // a window from half a scrape before the first sample to the last one
    const windowMs = Math.round((tEnd - t0) * 1000 + (SCRAPE_S * 1000) / 2);
    const w = `[${windowMs}ms]`;
    const increase = await scalar(base, `sum(increase(uffdscope_userfaults_total{job="uffdscope"}${w}))`, tEnd);
    assert.equal(increase, truth.faults.total, 'increase() over the run: every userfault');
    const rate = await scalar(base, `sum(rate(uffdscope_userfaults_total{job="uffdscope",kind="missing"}${w}))`, tEnd);
    assert.ok(Math.abs((rate * windowMs) / 1000 - truth.faults.missing) <= 1e-9 * truth.faults.missing, `rate ${rate}/s over ${windowMs} ms vs ${truth.faults.missing} faults`);
    const observed = await scalar(base, `sum(increase(uffdscope_fault_latency_seconds_count{job="uffdscope",stage="total"}${w}))`, tEnd);
    const unseen = await scalar(base, `sum(increase(uffdscope_fault_ends_unseen_total{job="uffdscope"}${w}))`, tEnd);
    assert.equal(observed + unseen, truth.faults.total, 'every userfault has a total latency, or ended unseen');

    // histogram_quantile: within the bucket holding it, against the workload's
    // own latency (measured around each touch: 10 % apart at most, as in
    // stat.test), widened by 12.5 %: counting in the kernel, an `le` bound is
    // exact to a kernel bucket's width (exporters/kernelLatencyMetric.ts)
    for (const [q, self] of [
      [0.5, truth.latency_ns.fault.p50],
      [0.99, truth.latency_ns.fault.p99],
    ] as const) {
      const v = await scalar(base, `histogram_quantile(${q}, sum by (le) (increase(uffdscope_fault_latency_seconds_bucket{job="uffdscope",stage="total"}${w})))`, tEnd);
      const [lo, hi] = bucketOf(v);
      const s = self / 1e9;
      t.diagnostic(`p${q * 100}: prometheus ${v} s (bucket ${lo}..${hi}), workload ${s} s`);
      assert.ok(lo <= s * 1.1 * 1.125 && (s * 0.9) / 1.125 <= hi, `p${q * 100}: prometheus ${v} s in (${lo}, ${hi}], the workload measured ${s} s`);
    }

    // the recording rules and alerts loaded and evaluate without error, on this data
    const rules = (await (await fetch(`${base}/api/v1/rules`)).json()) as { data: { groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> } };
    const all = rules.data.groups.flatMap((g) => g.rules);
    const file = parseYaml(readFileSync(rulesFile, 'utf8')) as { groups: Array<{ rules: unknown[] }> };
    assert.equal(all.length, file.groups.reduce((n, g) => n + g.rules.length, 0), 'every rule of the file loaded');
    for (const r of all) assert.equal(r.health, 'ok', `${r.name}: ${r.lastError}`);
    // a rule group evaluates on its own clock, which a loaded machine delays:
    // its first evaluation over two samples may be stamped after tEnd, so the
    // recorded series are awaited at the present (5m look-back holds the run)
    const recorded = await until('the userfault rate rule to record a series above 0', 30_000, async () => {
      const r = await query(base, 'instance:uffdscope_userfaults:rate5m');
      return r.length === 1 && Number(r[0].value![1]) > 0 ? r : null;
    });
    assert.equal(recorded[0].metric.job, 'uffdscope', 'the rate rule keeps the job label');
    await until('the p99 rule to record a series for stage="total"', 30_000, async () => {
      const r = await query(base, 'instance_stage:uffdscope_fault_latency_seconds:p99_5m{stage="total"}');
      return r.length === 1 && Number.isFinite(Number(r[0].value![1])) ? r : null;
    });
    const firing = await query(base, 'ALERTS{alertstate="firing"}');
    assert.deepEqual(firing.map((a) => a.metric.alertname), [], 'no alert fires on a healthy run');
  } finally {
    await stop(prom);
    await stop(serve);
  }
});
