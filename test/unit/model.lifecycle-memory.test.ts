// The analysis pipeline on a long stream must not fill V8's old space with
// garbage: `top` ran at a ~20 MB live set but saw-toothed to 260 MB of RSS
// because the lifecycle's per-thread / per-page Maps, long-lived and so in
// old space, got a new backing table there at almost every ioctl and fault
// (see src/model/intMap.ts). Old space may grow by what the model keeps, not
// by what every event passes through.
//
// GENERATED STREAMS (test/unit/streamBuilder.ts), fed as they are built.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Analysis } from '../../src/stats/pipeline.js';
import type { UffdEvent } from '../../src/events/types.js';
import { StreamBuilder, thread, uapi } from './streamBuilder.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const U = 0xffff888012340000n;
const BASE = 0x7f0000000000n;
/** old-space growth allowed over the whole stream; the bug was ~140 bytes per ioctl / fault */
const LIMIT = 4 << 20;

function oldSpaceUsed(): number {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')!.space_used_size;
}

/** Feeds `steps` rounds of `round` into a fresh Analysis whose long-lived
 *  state was first moved to old space (as in any trace longer than a few
 *  scavenges); returns the largest old-space growth seen meanwhile. */
function oldSpaceGrowth(steps: number, round: (b: StreamBuilder, i: number) => void): { growth: number; analysis: Analysis } {
  const analysis = new Analysis(uapi);
  const b = new StreamBuilder(1_000_000_000, (e: UffdEvent) => analysis.push(e));
  round(b, 0); // the model's tables exist
  gc();
  gc(); // ... and are in old space
  const base = oldSpaceUsed();
  let growth = 0;
  for (let i = 1; i <= steps; i++) {
    round(b, i);
    if (i % 500 === 0) growth = Math.max(growth, oldSpaceUsed() - base);
  }
  return { growth, analysis };
}

test('an ioctl storm (enter + exit, one thread) does not grow old space', () => {
  const storm = thread(4000, 4000, 'ioctl_storm');
  const { growth, analysis } = oldSpaceGrowth(200_000, (b) => b.ioctl(storm, U, 'UFFDIO_WAKE', { start: BASE, len: 4096n }));
  assert.equal(analysis.received().ioctl_exit, 200_001);
  assert.equal(analysis.lifecycle.inflightIoctls, 0);
  assert.ok(growth < LIMIT, `old space grew by ${(growth / 2 ** 20).toFixed(1)} MiB over 200k ioctls`);
});

test('resolved faults on ever new pages, four threads, do not grow old space', () => {
  const vcpus = [1, 2, 3, 4].map((n) => thread(100, 100 + n, `vcpu${n}`));
  const handler = thread(100, 110, 'uffd-handler');
  const { growth, analysis } = oldSpaceGrowth(50_000, (b, i) => {
    b.missingFault(vcpus[i % 4], handler, U, BASE + BigInt(i % 40_000) * 4096n);
  });
  analysis.finish();
  assert.equal(analysis.lifecycle.counters.records, 50_001);
  assert.equal(analysis.lifecycle.counters.ends.resolved, 50_001);
  assert.ok(growth < LIMIT, `old space grew by ${(growth / 2 ** 20).toFixed(1)} MiB over 50k faults`);
});
