// Live: the views that count in the kernel (top's plain output, serve's
// metrics, stat's interval tables) against the workload's own counts, and
// fresh: a small run's faults are all there within 2 s of its end, on a
// host where nothing else happens to push records through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { cli, readTruth, requireLive, tmp, uffdscope, workloadBinary } from './support.js';

const WORKLOAD = ['--scenario', 'postcopy', '--pages', '300', '--threads', '2', '--handler-delay-us', '50', '--quiet'];

test('top (plain output, counting in the kernel): the final table has every fault of the workload, 0 lost', async (t) => {
  if (!requireLive(t)) return;
  const truthPath = tmp('truth.json');
  const r = await uffdscope(['top', '--interval', '1', '--', workloadBinary, ...WORKLOAD, '--json', truthPath], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  const truth = readTruth(truthPath);
  const tables = r.stdout.split(/(?=^uffdscope live)/m).filter((x) => x.trim());
  const last = tables.at(-1)!;
  assert.match(last, /lost 0\b/, 'lost 0 in the header');
  assert.match(last, /counted in the kernel/, 'says who counts');
  assert.ok(last.split('\n').some((l) => l.trimStart().startsWith(`${truth.pid} `)), `no row for the workload's pid ${truth.pid}:\n${last}`);
  const all = /^userfaults (\d+) in (\d+) uffds$/m.exec(last);
  assert.ok(all, last);
  assert.equal(Number(all![1]), truth.faults.total, 'userfaults of every uffd');
  assert.equal(Number(all![2]), truth.uffds_created);
  const m = /latency \(all uffds, (\d+) faults(?:, (\d+) more ended unseen)?\)/.exec(last);
  assert.ok(m, last);
  assert.equal(Number(m![1]) + Number(m![2] ?? 0), truth.faults.total, 'every fault waited and is in the latency view, or counted as ended unseen');
});

function scrape(port: number, accept?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics', headers: accept ? { Accept: accept } : {} }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The value of one sample; `labels` null for a metric without labels. */
function sample(body: string, name: string, labels: string | null): number {
  const head = labels === null ? `${name} ` : `${name}{${labels}} `;
  const line = body.split('\n').find((l) => l.startsWith(head));
  assert.ok(line, `no sample ${head}`);
  return Number(line!.split(' ').at(-1));
}

test('serve (counting in the kernel): after the command exits, every fault, the stage histograms and their sums; promtool accepts it', async (t) => {
  if (!requireLive(t)) return;
  const truthPath = tmp('truth.json');
  const child = spawn(process.execPath, [cli, 'serve', '--listen', '127.0.0.1:0', '--linger', '30', '--', workloadBinary, ...WORKLOAD, '--json', truthPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stderr.on('data', (d) => {
      stderr += d;
      const m = /http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(stderr);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', () => reject(new Error(`serve exited: ${stderr}`)));
  });
  try {
    // the command's end is announced; its values must be there within 2 s
    for (let i = 0; i < 600 && !/command exited \(status 0\)/.test(stderr); i++) await sleep(100);
    assert.match(stderr, /command exited \(status 0\); serving its final values for 30 s/);
    const ended = Date.now();
    const truth = readTruth(truthPath);
    let body = '';
    let seen = 0;
    while (Date.now() - ended <= 2000) {
      body = await scrape(port);
      seen = sample(body, 'uffdscope_userfaults_total', 'kind="missing"');
      if (seen === truth.faults.missing) break;
      await sleep(100);
    }
    assert.equal(seen, truth.faults.missing, 'every missing fault within 2 s of the end');
    assert.equal(sample(body, 'uffdscope_process_userfaults_total', `comm="uffd-workload",pid="${truth.pid}"`), truth.faults.total);
    assert.equal(sample(body, 'uffdscope_ioctls_total', 'ioctl="UFFDIO_COPY"'), truth.ioctls.UFFDIO_COPY.count);
    assert.equal(sample(body, 'uffdscope_open_faults', null), 0, 'nothing open');
    const counts = ['total', 'queue', 'service', 'wake'].map((st) => sample(body, 'uffdscope_fault_latency_seconds_count', `stage="${st}"`));
    const unseen = sample(body, 'uffdscope_fault_ends_unseen_total', null);
    for (const c of counts) assert.equal(c + unseen, truth.faults.total, 'every fault waited and has every stage, or ended unseen');
    const sums = ['total', 'queue', 'service', 'wake'].map((st) => sample(body, 'uffdscope_fault_latency_seconds_sum', `stage="${st}"`));
    assert.ok(Math.abs(sums[1] + sums[2] + sums[3] - sums[0]) <= 1e-9 * sums[0] + 1e-9, `queue + service + wake sums ${sums.slice(1)} != total ${sums[0]}`);
    assert.equal(sample(body, 'uffdscope_fault_latency_seconds_bucket', 'le="+Inf",stage="total"'), counts[0]);
    // no fault waits less than the handler's delay
    assert.equal(sample(body, 'uffdscope_fault_latency_seconds_bucket', 'le="0.00002",stage="total"'), 0);
    const promtool = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
    if (promtool.error) assert.fail(`promtool missing (scripts/setup.sh installs prometheus): ${promtool.error.message}`);
    assert.equal(promtool.status, 0, promtool.stdout + promtool.stderr);
    const om = await scrape(port, 'application/openmetrics-text; version=1.0.0');
    assert.match(om, /^uffdscope_userfaults_total\{kind="missing"\} \d+$/m);
    assert.match(om, /# EOF\n$/);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.on('exit', r));
  }
});

for (const perFault of [false, true]) {
  test(`stat --interval${perFault ? ' --per-fault' : ''}: a small run's faults all show within 2 s of its end, while the traced command lives on`, async (t) => {
    if (!requireLive(t)) return;
    const truthPath = tmp('truth.json');
    const marker = tmp('ended');
    const stop = tmp('stop');
    // the workload ends, then its parent waits: no more records come to push
    // the last ones through. It waits for a file the test makes once two
    // tables came 2 s or more after the end (or 30 s passed), not a fixed
    // time: how many intervals a fixed wait holds depends on the machine.
    const script = tmp('run.sh');
    writeFileSync(script, `#!/bin/sh\n"${workloadBinary}" ${WORKLOAD.join(' ')} --json "${truthPath}" || exit 1\ndate +%s%N > "${marker}"\nwhile [ ! -e "${stop}" ]; do sleep 0.1; done\n`, { mode: 0o755 });
    const child = spawn(process.execPath, [cli, 'stat', '--interval', '0.5', ...(perFault ? ['--per-fault'] : []), '--', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: Array<{ at: number; text: string }> = [];
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const parts = out.split('--- ');
      out = parts.pop()!;
      for (const p of parts) if (p.trim()) lines.push({ at: Date.now(), text: p });
    });
    const closed = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    const endedAt = () => (existsSync(marker) ? Number(readFileSync(marker, 'utf8').trim()) / 1e6 : NaN);
    const giveUp = Date.now() + 30_000;
    while (child.exitCode === null && child.signalCode === null) {
      const end = endedAt();
      if (Date.now() > giveUp || (Number.isFinite(end) && end > 0 && lines.filter((l) => l.at >= end + 2000).length >= 2)) writeFileSync(stop, '');
      await sleep(100);
    }
    const code = await closed;
    assert.equal(code, 0);
    const truth = readTruth(truthPath);
    // tables printed from 2 s after the workload's end until the command ends
    const late = lines.filter((l) => l.at >= endedAt() + 2000);
    assert.ok(late.length >= 2, `interval tables after the end: ${late.length}`);
    for (const l of late) {
      if (perFault) {
        const m = /^\s+total\s+missing[^\n]*\n\s+(\d+)/m.exec(l.text);
        assert.ok(m, l.text);
        assert.equal(Number(m![1]), truth.faults.total, `a table ${((l.at - endedAt()) / 1000).toFixed(1)} s after the end:\n${l.text}`);
        assert.doesNotMatch(l.text, /\b[1-9]\d* open\b/, 'no fault left open');
      } else {
        const row = l.text.split('\n').find((x) => x.trim().startsWith(`${truth.pid} `));
        assert.ok(row, l.text);
        assert.equal(Number(row!.trim().split(/\s+/)[5]), truth.faults.total, `a table ${((l.at - endedAt()) / 1000).toFixed(1)} s after the end:\n${l.text}`);
      }
    }
  });
}
