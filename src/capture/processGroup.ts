// The process group a `-- CMD` runs in (it is spawned as its leader): how it
// is stopped (SIGTERM to the whole group, SIGKILL after a grace period) and
// how we know nothing of it is left. Members are found in /proc, zombies
// excluded: an exited member that its parent has not reaped yet is gone.
import { readdirSync, readFileSync } from 'node:fs';

/** Between SIGTERM to the group and SIGKILL (README: Exit codes, clean-up). */
export const COMMAND_GRACE_MS = 2000;
const POLL_MS = 50;

/** Pids of the group's live (not zombie) members. */
export function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const n of names) {
    if (!/^\d+$/.test(n)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${n}/stat`, 'latin1');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(f[2]) === pgid && f[0] !== 'Z' && f[0] !== 'X') out.push(Number(n));
  }
  return out;
}

/** Sends `signal` to every member; false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * SIGTERM to the group, then SIGKILL to what is left after `graceMs`;
 * resolves once no member is left (or shortly after the SIGKILL, should a
 * member be stuck in the kernel).
 */
export async function stopGroup(pgid: number, graceMs = COMMAND_GRACE_MS): Promise<void> {
  if (groupMembers(pgid).length === 0) return;
  signalGroup(pgid, 'SIGTERM');
  const killAt = Date.now() + graceMs;
  let killed = false;
  for (;;) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    if (groupMembers(pgid).length === 0) return;
    if (!killed && Date.now() >= killAt) {
      signalGroup(pgid, 'SIGKILL');
      killed = true;
    } else if (killed && Date.now() >= killAt + 1000) return;
  }
}

/** stopGroup for 'exit' handlers, where nothing asynchronous runs any more: waits by blocking. */
export function stopGroupSync(pgid: number, graceMs = COMMAND_GRACE_MS): void {
  if (groupMembers(pgid).length === 0) return;
  signalGroup(pgid, 'SIGTERM');
  const tick = new Int32Array(new SharedArrayBuffer(4));
  const killAt = Date.now() + graceMs;
  while (Date.now() < killAt) {
    Atomics.wait(tick, 0, 0, POLL_MS);
    if (groupMembers(pgid).length === 0) return;
  }
  signalGroup(pgid, 'SIGKILL');
}
