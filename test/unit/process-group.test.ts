// The process group a `-- CMD` leads: stopGroup ends every member, those that
// ignore SIGTERM by SIGKILL after the grace period; zombies are not members.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { groupMembers, stopGroup, stopGroupSync } from '../../src/capture/processGroup.js';

/** A detached sh (its own group) with two sleeping children; resolves once all three run. */
async function group(script: string): Promise<number> {
  const child = spawn('/bin/sh', ['-c', script], { detached: true, stdio: 'ignore' });
  const pid = child.pid!;
  while (groupMembers(pid).length < 3) await new Promise((r) => setTimeout(r, 20));
  return pid;
}

test('stopGroup: SIGTERM ends the leader and the children it started', async () => {
  const pgid = await group('sleep 100 & sleep 100 & wait');
  assert.equal(groupMembers(pgid).length, 3);
  await stopGroup(pgid, 5000);
  assert.deepEqual(groupMembers(pgid), []);
});

test('stopGroup: members that ignore SIGTERM get SIGKILL after the grace period', async () => {
  const pgid = await group("trap '' TERM; sleep 100 & sleep 100 & wait");
  await stopGroup(pgid, 100);
  assert.deepEqual(groupMembers(pgid), []);
});

test('stopGroupSync (exit handlers) does the same, blocking', async () => {
  const pgid = await group("trap '' TERM; sleep 100 & sleep 100 & wait");
  stopGroupSync(pgid, 100);
  // SIGKILL was sent last: wait for the kernel to finish them
  while (groupMembers(pgid).length) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(groupMembers(pgid), []);
});

test('a group with no member: nothing to do', async () => {
  await stopGroup(2 ** 22 + 12345, 100);
  assert.deepEqual(groupMembers(2 ** 22 + 12345), []);
});
