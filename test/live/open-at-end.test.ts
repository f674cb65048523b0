// Live: tracing stops while a fault still waits for its handler. Record ABI 2
// sends a fault's record when its thread runs again, so at stop the tracer
// flushes every thread's unsent fault (uscope_flush_pending): the recording
// must hold that fault, blocked and open at the end, as ABI 1's did.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { cli, requireLive, signalIfAlive, tmp, uffdscope, workloadBinary } from './support.js';
import { childrenOf } from '../fixtures/reliability/harness.js';

/** What each thread of `pid` sleeps in (/proc wchan), '' when it is gone. */
function wchans(pid: number): string[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map((tid) => readFileSync(`/proc/${pid}/task/${tid}/wchan`, 'utf8'));
  } catch {
    return [];
  }
}

test('a fault its handler has not answered when tracing stops is in the recording, open at the end', async (t) => {
  if (!requireLive(t)) return;
  const rec = tmp('stuck.uscope');
  // One missing fault, served by a handler process. Every step is awaited,
  // none timed (a start delay and a duration raced record's attach and the
  // handler's 10 s on a loaded machine): the workload waits on stdin until
  // record traces it; once the handler has read the fault's message (it then
  // sleeps before resolving) it is stopped (SIGSTOP), so the fault waits for
  // as long as it takes; record is stopped by SIGINT then. Traced by pid, the
  // workload itself is not signalled.
  const w = spawn('/bin/sh', ['-c', 'read -r _; exec "$@"', 'gate', workloadBinary, '--scenario', 'postcopy', '--pages', '1', '--threads', '1', '--handler-process', '--handler-delay-us', '10000000', '--quiet', '--json', tmp('stuck.truth.json')], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  const r = spawn(process.execPath, [cli, 'record', '-o', rec, '-p', String(w.pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const closed = once(r, 'close');
  let handler: number | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      r.stderr!.on('data', (d) => {
        stderr += d;
        if (/^uffdscope: recording /m.test(stderr)) resolve();
      });
      r.on('exit', () => reject(new Error(`record exited before tracing: ${stderr}`)));
    });
    w.stdin!.end('go\n');
    const end = Date.now() + 30_000;
    for (;;) {
      handler = childrenOf(w.pid!).find((c) => wchans(c).some((x) => /nanosleep/.test(x)));
      if (handler !== undefined) break;
      assert.ok(Date.now() < end, `the handler did not read the fault's message in 30 s (workload threads in ${wchans(w.pid!).join(', ')})`);
      await sleep(20);
    }
    process.kill(handler, 'SIGSTOP');
    // its thread may still be on its way to sleep (preempted after queueing the message)
    while (!wchans(w.pid!).includes('handle_userfault')) {
      assert.ok(Date.now() < end, `the fault does not wait (workload threads in ${wchans(w.pid!).join(', ')})`);
      await sleep(20);
    }
    r.kill('SIGINT');
    const [code] = (await closed) as [number | null];
    assert.equal(code, 130, `stopped by SIGINT: ${stderr}`);
  } finally {
    if (handler !== undefined) signalIfAlive(handler, 'SIGKILL');
    w.kill('SIGKILL');
    r.kill('SIGKILL');
  }
  const rep = await uffdscope(['report', '--json', rec]);
  assert.equal(rep.code, 0, `report failed: ${rep.stderr}`);
  const s = JSON.parse(rep.stdout) as { faults: { entries: number; blocked: number; ended: Record<string, number> }; messages: { pagefault: Record<string, number> } };
  assert.equal(s.faults.entries, 1, 'the one fault');
  assert.equal(s.faults.blocked, 1, 'it waited');
  assert.equal(s.faults.ended.open_at_end, 1, 'still waiting when tracing stopped');
  assert.equal(s.messages.pagefault.missing, 1, 'the handler read its message');
});
