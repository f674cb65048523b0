// Live: `-- CMD` runs in its own process group, and however the capture ends
// (--duration, SIGINT) nothing it started is left; uffdscope's exit status
// follows the README (128 + N for signal N); `uffdscope workload` forwards
// SIGTERM; `top -- CMD` says how the command exited.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { requireLive, signalIfAlive, tmp, cli, uffdscope, workloadBinary } from './support.js';
import { waitFor } from '../fixtures/reliability/harness.js';

/** Pids whose command line contains `tag` (a unique temporary path). */
function pidsWith(tag: string): number[] {
  const r = spawnSync('pgrep', ['-f', '--', tag], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean).map(Number).filter((p) => p !== process.pid);
}

function killAll(tag: string): void {
  for (const p of pidsWith(tag)) {
    signalIfAlive(p, 'SIGKILL');
  }
}

/** Whether a process whose command line holds `tag` runs the workload binary itself (not a shell or node before it). */
const workloadRuns = (tag: string) => pidsWith(tag).some((p) => {
  try {
    return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0')[0] === workloadBinary;
  } catch {
    return false;
  }
});

test('record --duration 2 -- uffdscope workload --loops 0: ends in seconds, no workload left', { timeout: 30_000 }, async (t) => {
  if (!requireLive(t)) return;
  const tag = tmp('wl.json');
  const child = spawn(process.execPath, [cli, 'record', '-o', tmp('d.uscope'), '--duration', '2', '--', cli, 'workload', '--scenario', 'mixed', '--loops', '0', '--quiet', '--json-out', tag], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let tracingAt = 0;
  child.stderr.on('data', (d) => {
    stderr += d;
    if (!tracingAt && /^uffdscope: recording /m.test(stderr)) tracingAt = Date.now();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const code = await Promise.race([exited, sleep(20_000, undefined, { ref: false }).then(() => 'timeout' as const)]);
    assert.equal(code, 0, stderr);
    // timed from the attach, which a loaded machine slows, not from the spawn
    assert.ok(tracingAt > 0, `never said it was recording: ${stderr}`);
    assert.ok(Date.now() - tracingAt < 10_000, `ended within 10 s of the attach (${Date.now() - tracingAt} ms)`);
    assert.deepEqual(pidsWith(tag), [], 'no wrapper or workload binary left');
  } finally {
    child.kill('SIGKILL');
    killAll(tag);
  }
});

test('SIGINT to record: exit 130, the command and its child gone', { timeout: 30_000 }, async (t) => {
  if (!requireLive(t)) return;
  const tag = tmp('wl.json');
  const child = spawn(process.execPath, [cli, 'record', '-o', tmp('i.uscope'), '--', workloadBinary, '--scenario', 'mixed', '--loops', '0', '--quiet', '--json', tag], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    // attached and the workload binary itself running (not yet its shell before exec)
    assert.ok(await waitFor(() => /^uffdscope: recording /m.test(stderr) && workloadRuns(tag), 20_000), `the workload runs: ${stderr}`);
    child.kill('SIGINT');
    const code = await Promise.race([exited, sleep(10_000).then(() => 'timeout' as const)]);
    assert.equal(code, 130, stderr);
    assert.deepEqual(pidsWith(tag), [], 'no workload left');
  } finally {
    child.kill('SIGKILL');
    killAll(tag);
  }
});

test('a command that starts grandchildren: nothing left after --duration 1', { timeout: 30_000 }, async (t) => {
  if (!requireLive(t)) return;
  const tag = `${tmp('gc')}-marker`; // sleep ignores it; it names our processes
  try {
    const r = await uffdscope(['record', '-o', tmp('g.uscope'), '--duration', '1', '--', 'sh', '-c', `sleep 100 & sleep 101 & wait # ${tag}`], { timeoutMs: 20_000 });
    assert.equal(r.code, 0, r.stderr);
    await sleep(200);
    // the sh carries the tag; its sleeps are found by their parent being gone with it
    assert.deepEqual(pidsWith(tag), [], 'the command is gone');
    const sleeps = spawnSync('pgrep', ['-x', '-f', 'sleep 101'], { encoding: 'utf8' }).stdout.trim();
    assert.equal(sleeps, '', 'its children are gone');
  } finally {
    killAll(tag);
    spawnSync('pkill', ['-KILL', '-x', '-f', 'sleep 101']);
  }
});

test('uffdscope workload forwards SIGTERM: the binary finishes and the wrapper exits 0', { timeout: 30_000 }, async (t) => {
  if (!requireLive(t)) return;
  const tag = tmp('wl.json');
  const child = spawn(process.execPath, [cli, 'workload', '--scenario', 'mixed', '--loops', '0', '--quiet', '--json-out', tag], { stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    assert.ok(await waitFor(() => workloadRuns(tag), 20_000), 'the binary runs');
    assert.equal(pidsWith(tag).length, 2, 'wrapper and binary run');
    child.kill('SIGTERM');
    const code = await Promise.race([exited, sleep(10_000).then(() => 'timeout' as const)]);
    assert.equal(code, 0);
    assert.deepEqual(pidsWith(tag), []);
  } finally {
    child.kill('SIGKILL');
    killAll(tag);
  }
});

test('top -- CMD (plain): the final table says "command exited (status 3)", exit 3', { timeout: 30_000 }, async (t) => {
  if (!requireLive(t)) return;
  const r = await uffdscope(['top', '--interval', '5', '--', 'sh', '-c', 'sleep 0.5; exit 3'], { timeoutMs: 20_000 });
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stdout, /command exited \(status 3\)/);
});
