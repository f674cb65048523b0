// The host-wide live tests' parts: `stat` with no command and no --pid,
// started and awaited until it says it is tracing (so that what a test runs
// next is traced whole), and the bundled workload run beside it.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cli, tmp, workloadBinary } from './support.js';
import type { KernelSummary } from '../../src/cli/stat.js';

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const exited = (p: ChildProcess) => new Promise<number | null>((res) => p.on('exit', (code) => res(code)));

/** The bundled workload, quiet, its truth JSON written to `truth`. */
const workload = (scenario: string, truth: string, extra: string[]) =>
  spawn(workloadBinary, ['--scenario', scenario, '--pages', '256', '--threads', '2', ...extra, '--quiet', '--json', truth], { stdio: 'ignore' });

interface HostWideStat {
  exit: Promise<number | null>;
  stderr: () => string;
}

async function startHostWideStat(durationS: number, jsonOut: string): Promise<HostWideStat> {
  const stat = spawn(process.execPath, [cli, 'stat', '--duration', String(durationS), '--json-out', jsonOut], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  stat.stderr!.on('data', (d) => (stderr += d));
  const exit = exited(stat);
  await until('stat to say it is tracing', () => {
    if (stat.exitCode !== null) throw new Error(`stat exited ${stat.exitCode} before tracing: ${stderr}`);
    return /tracing/.test(stderr);
  }, 20_000);
  return { exit, stderr: () => stderr };
}

/** Two runs of `scenario` beside one host-wide stat: "before" starts first
 *  and touches its pages 6 s later, once `ready(pid)` says its uffds exist
 *  and stat traces; "during" runs whole while stat traces. Returns stat's
 *  JSON and each run's truth file, after all three ended cleanly. */
export async function beforeAndDuring(scenario: string, ready: { what: string; ok: (pid: number) => boolean }, durationS: number): Promise<{ summary: KernelSummary; truthBefore: string; truthDuring: string }> {
  const truthBefore = tmp(`${scenario}-before.json`);
  const truthDuring = tmp(`${scenario}-during.json`);
  const out = tmp(`host-wide-${scenario}.json`);
  const t0 = Date.now();
  const before = workload(scenario, truthBefore, ['--fault-delay-ms', '6000']);
  const beforeExit = exited(before);
  await until(ready.what, () => ready.ok(before.pid!), 10_000);

  const stat = await startHostWideStat(durationS, out);
  assert.ok(Date.now() - t0 < 6000, 'tracing began before the first workload touched its pages');

  const during = workload(scenario, truthDuring, []);
  assert.equal(await exited(during), 0, 'second workload');
  assert.equal(await beforeExit, 0, 'first workload');
  assert.equal(await stat.exit, 0, `stat: ${stat.stderr()}`);
  return { summary: JSON.parse(readFileSync(out, 'utf8')) as KernelSummary, truthBefore, truthDuring };
}
