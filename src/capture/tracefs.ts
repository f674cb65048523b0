// Tracepoint attachment reads event ids from tracefs; on these hosts it is
// not mounted at boot. Mount it when we can, say exactly what is missing
// when we cannot.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

export const TRACEFS = '/sys/kernel/tracing';

export interface TracefsStatus {
  ok: boolean;
  path: string;
  mountedNow: boolean;
  problem?: string;
}

export function tracefsReady(path = TRACEFS): boolean {
  return existsSync(`${path}/events/syscalls`) || existsSync(`${path}/events/sched`);
}

export function ensureTracefs(path = TRACEFS): TracefsStatus {
  if (tracefsReady(path)) return { ok: true, path, mountedNow: false };
  const r = spawnSync('mount', ['-t', 'tracefs', 'nodev', path], { encoding: 'utf8' });
  if (r.status === 0 && tracefsReady(path)) return { ok: true, path, mountedNow: true };
  const why = (r.stderr || r.error?.message || '').trim().split('\n')[0];
  return {
    ok: false,
    path,
    mountedNow: false,
    problem: `tracefs is not mounted at ${path} and mounting it failed (${why || `exit ${r.status}`}): run \`mount -t tracefs nodev ${path}\` as root`,
  };
}
