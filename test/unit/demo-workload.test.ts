// top's D key starts the demo in its own process group; stopping it leaves nothing behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DemoWorkload } from '../../src/capture/demoWorkload.js';
import { groupMembers } from '../../src/capture/processGroup.js';

test('DemoWorkload: started once, in its own group; stop() ends the whole group', async () => {
  const d = new DemoWorkload(['sh', '-c', 'sleep 30 & sleep 30; wait']);
  assert.equal(d.running, false);
  d.start();
  d.start(); // a second D does nothing
  assert.equal(d.running, true);
  const pgid = (d as unknown as { pgid: number }).pgid;
  for (let i = 0; i < 50 && groupMembers(pgid).length < 2; i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(groupMembers(pgid).length >= 2, 'the shell and its children share the group');
  await d.stop();
  assert.equal(d.running, false);
  assert.deepEqual(groupMembers(pgid), [], 'nothing of the group is left');
});
