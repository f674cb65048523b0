// The host-wide live tests' parts: `stat` with no command and no --pid,
// started and awaited until it says it is tracing (so that what a test runs
// next is traced whole), and the bundled workload run beside it.
import { spawn, type ChildProcess } from 'node:child_process';
import { cli, workloadBinary } from './support.js';

export async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const exited = (p: ChildProcess) => new Promise<number | null>((res) => p.on('exit', (code) => res(code)));

/** The bundled workload, quiet, its truth JSON written to `truth`. */
export const workload = (scenario: string, truth: string, extra: string[]) =>
  spawn(workloadBinary, ['--scenario', scenario, '--pages', '256', '--threads', '2', ...extra, '--quiet', '--json', truth], { stdio: 'ignore' });

export interface HostWideStat {
  exit: Promise<number | null>;
  stderr: () => string;
}

export async function startHostWideStat(durationS: number, jsonOut: string): Promise<HostWideStat> {
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
