// The GENERATED mode-toggle scenario through the real model: switches to
// async under load show their drain time and wake the faults waiting then;
// the recording says it is generated.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSimulate } from '../../src/cli/simulate.js';
import { analyzeRecording } from '../../src/cli/report.js';
import { resolveUapi } from '../../src/events/uapi.js';

test('mode-toggle (generated): sync -> async -> sync with drain times and a wake-up burst', () => {
  const uapi = resolveUapi();
  const file = join(mkdtempSync(join(tmpdir(), 'uscope-sim-')), 'sim.uscope');
  const origWrite = process.stderr.write.bind(process.stderr);
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    runSimulate({ scenario: 'mode-toggle', output: file, seed: 7, duration: 10, faultRate: 200, uapi });
  } finally {
    process.stderr.write = origWrite;
  }
  const { summary, read } = analyzeRecording(file, null);
  assert.ok(read.header.generated, 'the header says generated');
  assert.equal(summary.generated, true);
  const ok = summary.mode_switches.filter((m) => m.result === 0);
  const toAsync = ok.filter((m) => m.enable !== 0);
  const toSync = ok.filter((m) => m.disable !== 0);
  assert.ok(toAsync.length >= 3 && toSync.length >= 3, 'sync -> async -> sync on every uffd');
  for (const m of ok) {
    assert.ok((m.latency_ns ?? 0) > 100_000, `drain time recorded (${m.latency_ns} ns)`);
    assert.equal(m.kernel_agrees, true);
  }
  const woken = toAsync.reduce((a, m) => a + m.woken, 0);
  assert.ok(woken > 0, 'switching to async woke the faults waiting at that moment');
  assert.ok(summary.faults.ended.mode_switch >= woken, 'those faults end by the switch');
  assert.ok(summary.faults.async > 0 && summary.faults.rwp > 0, 'RWP faults while sync, async ones while async');
  const refused = summary.mode_switches.filter((m) => m.result === -22);
  assert.equal(refused.length, 1);
  assert.match(refused[0].why ?? '', /both enable and disable/);
});
