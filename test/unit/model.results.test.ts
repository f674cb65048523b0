// The analysis's typed results (src/model/analysisResults.ts), on a GENERATED
// stream: what a sink such as the Perfetto writer is told, and in which order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Analysis } from '../../src/stats/pipeline.js';
import { onResults, type AnalysisResult } from '../../src/model/analysisResults.js';
import { StreamBuilder, thread, uapi, bit } from './streamBuilder.js';

const U = 0xffff888012340000n;
const vmm = thread(1000, 1000, 'qemu');
const vcpu = thread(1000, 1002, 'vcpu');
const hnd = thread(2000, 2001, 'uffd-hnd');

test('results: created, ioctls completed, modes changed, a fault ended with the moment it was resolved, closed, created again', () => {
  const rwp = bit('UFFD_FEATURE_RWP');
  const rwpAsync = bit('UFFD_FEATURE_RWP_ASYNC');
  const analysis = new Analysis(uapi);
  const got: AnalysisResult[] = [];
  onResults(analysis, (r) => got.push(r));
  const b = new StreamBuilder(1_000_000_000, (e) => analysis.push(e));
  b.create(vmm, U);
  b.api(vmm, U, BigInt(rwp));
  b.register(vmm, U, 0x7f0000000000n, 1n << 20n, 1n);
  const f = b.missingFault(vcpu, hnd, U, 0x7f0000001234n);
  const h = b.ioctlEnter(vmm, U, 'UFFDIO_SET_MODE', { enable: BigInt(rwpAsync), disable: 0n }, rwp);
  b.ioctlExit(h, 0, undefined, rwp | rwpAsync);
  b.close(vmm, U);
  b.create(vmm, U);
  analysis.finish();

  assert.deepEqual(
    got.map((r) => (r.type === 'ioctl_completed' ? `${r.type} ${r.exit.name}` : r.type === 'mode_changed' ? `${r.type} ${r.change.mode} ${r.change.cause}` : r.type)),
    [
      'uffd_created',
      'ioctl_completed UFFDIO_API',
      'mode_changed sync api',
      'ioctl_completed UFFDIO_REGISTER',
      'ioctl_completed UFFDIO_COPY',
      'ioctl_completed UFFDIO_SET_MODE',
      'mode_changed async set_mode',
      'uffd_closed',
      'uffd_created',
      // resumed, it settles when its thread moves on or the trace ends
      'fault_ended',
    ],
  );
  const [first, , , , , setMode, , closed, second, ended] = got;
  assert.ok(first.type === 'uffd_created' && second.type === 'uffd_created' && closed.type === 'uffd_closed');
  assert.equal(first.replaced, undefined);
  assert.equal(second.replaced, first.uffd, 'the address now holds a new uffd');
  assert.equal(closed.uffd, first.uffd);
  assert.ok(ended.type === 'fault_ended');
  const r = ended.record;
  assert.equal(ended.uffd, first.uffd, 'the uffd that held the address when it faulted');
  assert.equal(r.end, 'resolved');
  // resolved at the wake-up (the COPY's exit came after it): the stages meet there
  assert.equal(r.resolvedTs, f.wakeTs);
  assert.equal(r.msgTs! + r.stages.service!, r.resolvedTs);
  assert.equal(r.resumeTs! - r.stages.wake!, r.resolvedTs);
  assert.ok(setMode.type === 'ioctl_completed');
  assert.equal(setMode.uffd, first.uffd);
  assert.equal(setMode.setMode?.ret, 0);
  assert.equal(setMode.setMode?.modeAfter, 'async');
  assert.deepEqual(setMode.args, { enable: BigInt(rwpAsync), disable: 0n }, 'the entry arguments of a control ioctl');
});
