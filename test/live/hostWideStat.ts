// The host-wide live tests' parts: `stat` with no command and no --pid,
// started and awaited until it says it is tracing (so that what a test runs
// next is traced whole), and the bundled workload run beside it.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cli, signalIfAlive, tmp, workloadBinary } from './support.js';
import type { KernelSummary } from '../../src/cli/stat.js';

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const exited = (p: ChildProcess) => new Promise<number | null>((res) => p.on('exit', (code) => res(code)));

/** The bundled workload, quiet, its truth JSON written to `truth`; the
 *  leader of its own process group (a fork child is in it too). */
const workload = (scenario: string, truth: string, extra: string[]) =>
  spawn(workloadBinary, ['--scenario', scenario, '--pages', '256', '--threads', '2', ...extra, '--quiet', '--json', truth], { stdio: 'ignore', detached: true });


interface HostWideStat {
  proc: ChildProcess;
  exit: Promise<number | null>;
  stderr: () => string;
}

/** Host-wide stat until SIGINT (its --duration only a backstop should the test hang). */
async function startHostWideStat(jsonOut: string): Promise<HostWideStat> {
  const stat = spawn(process.execPath, [cli, 'stat', '--duration', '300', '--json-out', jsonOut], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  stat.stderr!.on('data', (d) => (stderr += d));
  const exit = exited(stat);
  try {
    await until('stat to say it is tracing', () => {
      if (stat.exitCode !== null) throw new Error(`stat exited ${stat.exitCode} before tracing: ${stderr}`);
      return /tracing/.test(stderr);
    }, 20_000);
  } catch (e) {
    stat.kill('SIGKILL');
    throw e;
  }
  return { proc: stat, exit, stderr: () => stderr };
}

/** Two runs of `scenario` beside one host-wide stat: "before" starts first
 *  and touches its pages 6 s later, once `ready(pid)` says its uffds exist
 *  and stat traces; "during" runs whole while stat traces. Returns stat's
 *  JSON and each run's truth file, after all three ended cleanly.
 *
 *  Nothing here is timed against the machine's speed: "before" is stopped
 *  (SIGSTOP to its group) as soon as its uffds exist, well inside its 6 s,
 *  and continued only once stat traces, however long stat's start took; its
 *  sleep runs on while it is stopped. stat is stopped (SIGINT) once both runs
 *  have ended, not after a duration that a slow run could outlast. */
export async function beforeAndDuring(scenario: string, ready: { what: string; ok: (pid: number) => boolean }): Promise<{ summary: KernelSummary; truthBefore: string; truthDuring: string }> {
  const truthBefore = tmp(`${scenario}-before.json`);
  const truthDuring = tmp(`${scenario}-during.json`);
  const out = tmp(`host-wide-${scenario}.json`);
  const t0 = Date.now();
  const before = workload(scenario, truthBefore, ['--fault-delay-ms', '6000']);
  const beforeExit = exited(before);
  let during: ChildProcess | null = null;
  let stat: HostWideStat | null = null;
  try {
    await until(ready.what, () => ready.ok(before.pid!), 10_000);
    signalIfAlive(-before.pid!, 'SIGSTOP');
    assert.ok(Date.now() - t0 < 6000, 'the first workload was stopped before it touched its pages');

    stat = await startHostWideStat(out);
    signalIfAlive(-before.pid!, 'SIGCONT');
    during = workload(scenario, truthDuring, []);
    assert.equal(await exited(during), 0, 'second workload');
    assert.equal(await beforeExit, 0, 'first workload');
    stat.proc.kill('SIGINT');
    assert.equal(await stat.exit, 130, `stat, stopped by SIGINT: ${stat.stderr()}`);
  } finally {
    signalIfAlive(-before.pid!, 'SIGKILL');
    if (during?.pid) signalIfAlive(-during.pid, 'SIGKILL');
    if (stat && stat.proc.exitCode === null && stat.proc.signalCode === null) stat.proc.kill('SIGKILL');
  }
  return { summary: JSON.parse(readFileSync(out, 'utf8')) as KernelSummary, truthBefore, truthDuring };
}
