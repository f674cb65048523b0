// The model on a real recording of the bundled workload's mixed scenario
// (test/fixtures/recordings/mixed.uscope, recorded on Linux 6.18 with the
// tracepoint backend, 0 records lost), checked against the workload's own
// count of what it did (mixed.truth.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../src/paths.js';
import { analyzeRecording } from '../../src/pipeline/recordingPipeline.js';
import type { FaultRecord } from '../../src/model/faultLifecycle.js';

const dir = join(projectRoot, 'test', 'fixtures', 'recordings');
const truth = JSON.parse(readFileSync(join(dir, 'mixed.truth.json'), 'utf8')) as {
  faults: { total: number; missing: number; wp: number; minor: number; wp_async: number };
  messages: { pagefault: { missing: number; wp: number; minor: number } };
};

const recs: FaultRecord[] = [];
const { summary: s, read } = analyzeRecording(join(dir, 'mixed.uscope'), null, (r) => recs.push(r));

test('mixed recording: read whole, nothing lost', () => {
  assert.equal(read.status.complete, true);
  assert.deepEqual(read.status.damage, []);
  assert.equal(s.events.lost, 0);
});

test('mixed recording: 0 records lost, so 0 incomplete faults; every fault the workload made is there by kind', () => {
  assert.equal(s.faults.incomplete, 0);
  assert.equal(s.faults.recovered, 0);
  assert.equal(s.faults.total, truth.faults.total);
  assert.equal(s.faults.missing, truth.faults.missing);
  assert.equal(s.faults.wp, truth.faults.wp);
  assert.equal(s.faults.minor, truth.faults.minor);
  assert.equal(s.faults.async, truth.faults.wp_async);
  const messages = truth.messages.pagefault.missing + truth.messages.pagefault.wp + truth.messages.pagefault.minor;
  assert.equal(s.faults.ended.resolved, messages, 'every fault that sent a message was resolved');
  assert.equal(s.faults.ended.async, truth.faults.wp_async);
  assert.equal(s.faults.ended.incomplete, 0);
  assert.equal(s.faults.ended.open_at_end, 0);
});

test('mixed recording: a blocked fault with no resume is one whose wake-up came before its block record', () => {
  const noResume = recs.filter((r) => r.blocked && r.resumeTs === undefined);
  // the recording has exactly one such race (see faultLifecycle.ts wakeRacedBlock)
  assert.equal(noResume.length, 1);
  for (const r of noResume) {
    assert.equal(r.end, 'resolved');
    assert.equal(r.incomplete, false);
    assert.equal(r.wakeTs, undefined);
    // not on the uffd's wait queue any more when it switched out: the wake-up had taken it off
    assert.equal(r.blockHow, 'stack');
    assert.ok(r.resolveIoctl!.exitTs! <= r.blockTs!, 'the resolving ioctl had returned before the block record');
  }
  assert.equal(s.latency_ns.fault.count, recs.filter((r) => r.blocked).length - noResume.length);
});
