// Live: tracing stops while a fault still waits for its handler. Record ABI 2
// sends a fault's record when its thread runs again, so at stop the tracer
// flushes every thread's unsent fault (uscope_flush_pending): the recording
// must hold that fault, blocked and open at the end, as ABI 1's did.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { requireLive, tmp, uffdscope, workloadBinary } from './support.js';

test('a fault its handler has not answered when tracing stops is in the recording, open at the end', async (t) => {
  if (!requireLive(t)) return;
  const rec = tmp('stuck.uscope');
  // One missing fault, 1.5 s after start; its handler sleeps 10 s before
  // resolving it. The workload is traced by pid, so stopping after 3 s
  // does not signal it: its fault still waits.
  const w = spawn(workloadBinary, ['--scenario', 'postcopy', '--pages', '1', '--threads', '1', '--handler-delay-us', '10000000', '--start-delay-ms', '1500', '--quiet', '--json', tmp('stuck.truth.json')], { stdio: 'ignore' });
  try {
    const r = await uffdscope(['record', '-o', rec, '-p', String(w.pid), '-d', '3'], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, `record failed: ${r.stderr}`);
  } finally {
    w.kill('SIGKILL');
  }
  const rep = await uffdscope(['report', '--json', rec]);
  assert.equal(rep.code, 0, `report failed: ${rep.stderr}`);
  const s = JSON.parse(rep.stdout) as { faults: { entries: number; blocked: number; ended: Record<string, number> }; messages: { pagefault: Record<string, number> } };
  assert.equal(s.faults.entries, 1, 'the one fault');
  assert.equal(s.faults.blocked, 1, 'it waited');
  assert.equal(s.faults.ended.open_at_end, 1, 'still waiting when tracing stopped');
  assert.equal(s.messages.pagefault.missing, 1, 'the handler read its message');
});
