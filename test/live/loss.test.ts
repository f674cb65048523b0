// Live: a consumer that cannot keep up loses records, and the accounting
// says so: records delivered (in the file) + records counted lost == records
// the BPF side produced, per the kernel's own per-CPU counters.
//
// The recorder is stopped (SIGSTOP) while the workload faults, so its 16 KiB
// ring fills for certain; how fast a machine drains it does not matter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cli, requireLive, tmp, uffdscope, workloadBinary } from './support.js';
import { openRecording } from '../../src/recording/reader.js';

test('a stalled consumer with a tiny ring buffer: delivered + lost == produced, and lost > 0 is reported', async (t) => {
  if (!requireLive(t)) return;
  const file = tmp('loss.uscope');
  // The workload waits on stdin until the recorder is stopped.
  const work = spawn('/bin/sh', ['-c', 'read -r _; exec "$@"', 'gate', workloadBinary, '--scenario', 'postcopy', '--pages', '8192', '--threads', '2', '--quiet'], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  const rec = spawn(process.execPath, [cli, 'record', '-o', file, '--ring-buffer-kb', '16', '-p', String(work.pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  // 'close': the loss line comes last on stderr; at 'exit' it may be unread
  const recExit = once(rec, 'close');
  try {
    await new Promise<void>((resolve, reject) => {
      rec.stderr!.on('data', (d) => {
        stderr += d;
        if (/recording/.test(stderr)) resolve();
      });
      rec.on('exit', () => reject(new Error(`record exited before tracing: ${stderr}`)));
    });
    rec.kill('SIGSTOP');
    const workExit = once(work, 'exit');
    work.stdin!.end('go\n');
    const [code] = (await workExit) as [number | null];
    assert.equal(code, 0, 'the workload ran to the end');
    rec.kill('SIGCONT');
    rec.kill('SIGINT');
    const [recCode] = (await recExit) as [number | null];
    assert.equal(recCode, 130, `stopped by SIGINT, its outputs complete: ${stderr}`);
  } finally {
    work.kill('SIGKILL');
    rec.kill('SIGCONT');
    rec.kill('SIGKILL');
  }
  assert.match(stderr, /lost [1-9]\d*/, 'the loss is reported on the terminal');
  const recording = openRecording(file);
  const it = recording.chunks();
  let x = it.next();
  while (!x.done) x = it.next();
  const st = x.value;
  assert.ok(st.complete);
  const c = st.counters as { producedTotal: number; lostTotal: number; delivered: number; discardedAtClose: number; lost: Record<string, number> };
  assert.ok(c.lostTotal > 0, 'records were lost with a 16 KiB ring');
  assert.equal(c.discardedAtClose, 0);
  assert.equal(st.records, c.delivered, 'every delivered record is in the file');
  assert.equal(st.records + c.lostTotal, c.producedTotal, 'delivered + lost == produced');
  const byType = Object.values(c.lost).reduce((a, b) => a + b, 0);
  assert.equal(byType, c.lostTotal, 'per-type loss adds up');
  const report = await uffdscope(['report', '--json', file]);
  assert.equal(report.code, 0, report.stderr);
  assert.equal(JSON.parse(report.stdout).events.lost, c.lostTotal, 'report shows the loss');
});
