// Live: shrink the ring buffer until records are lost, and check the
// accounting: records delivered (in the file) + records counted lost ==
// records the BPF side produced, per the kernel's own per-CPU counters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireLive, tmp, uffdscope, workloadBinary } from './support.js';
import { openRecording } from '../../src/recording/reader.js';

test('tiny ring buffer: delivered + lost == produced, and lost > 0 is reported', async (t) => {
  if (!requireLive(t)) return;
  const file = tmp('loss.uscope');
  const r = await uffdscope(['record', '-o', file, '--ring-buffer-kb', '16', '--', workloadBinary, '--scenario', 'postcopy', '--pages', '8192', '--threads', '2', '--quiet'], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /lost [1-9]\d*/, 'the loss is reported on the terminal');
  const rec = openRecording(file);
  const it = rec.chunks();
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
