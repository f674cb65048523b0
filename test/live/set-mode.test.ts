// UFFDIO_SET_MODE on this kernel, traced for real: the rules of the seed
// patch (docs/set-mode.md) must agree with every answer the kernel gives, a
// refused attempt has no drain, and only a precise backend shows one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeRecording } from '../../src/pipeline/recordingPipeline.js';
import { readTruth, requireLive, tmp, uffdscope, workloadBinary } from './support.js';

test('set-mode: the rules agree with every answer of this kernel; drain only for switches a precise backend traced', async (t) => {
  if (!requireLive(t)) return;
  const rec = tmp('set-mode.uscope');
  const truthPath = tmp('truth.json');
  const r = await uffdscope(['record', '-o', rec, '--', workloadBinary, '--scenario', 'set-mode', '--quiet', '--json', truthPath], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, `record failed: ${r.stderr}`);
  const truth = readTruth(truthPath) as ReturnType<typeof readTruth> & { rwp_granted: boolean };
  const { summary } = analyzeRecording(rec, null);
  const mine = summary.mode_switches.filter((m) => m.pid === truth.pid);
  assert.equal(mine.length, truth.mode_switches.length, 'every attempt');
  for (const [i, m] of mine.entries()) {
    const w = truth.mode_switches[i];
    assert.deepEqual([m.enable, m.disable, m.result], [`0x${w.enable.toString(16)}`, `0x${w.disable.toString(16)}`, w.result]);
    assert.equal(m.kernel_agrees, true, `attempt ${i}: ${m.rule}: ${m.why}`);
    if (m.result !== 0) assert.deepEqual([m.drain_ns, m.wakeup_ns], [null, null], 'a refused attempt never takes the lock');
    else if (summary.backend !== 'tracepoint') assert.ok(m.drain_ns !== null && m.drain_ns <= m.latency_ns!, 'drain within the ioctl');
    if (summary.backend === 'tracepoint') assert.equal(m.drain_ns, null, 'the tracepoint backend sees the ioctl latency only');
  }
  // UFFDIO_API asked for RWP alone: the first enable really switches the uffd to async
  if (truth.rwp_granted) assert.deepEqual([mine[0].mode_before, mine[0].mode_after], ['sync', 'async']);
  else assert.ok(mine.every((m) => m.rule === 'no_set_mode' || m.rule === 'not_initialized'), 'without the series: refused as an unknown cmd');
});
