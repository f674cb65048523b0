// Live: `stat` on the bundled workload. Counts equal the workload's own, the
// p50 fault latency lies within 10% of what the workload measured around
// each touch, and queue + service + wake account for the total (means,
// which add up exactly per fault; percentiles do not add).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { requireLive, tmp, uffdscope, workloadBinary, readTruth } from './support.js';
import type { Summary } from '../../src/stats/summary.js';

async function statWorkload(args: string[]) {
  const out = tmp('s.json');
  const truthPath = tmp('truth.json');
  const r = await uffdscope(['stat', '--json-out', out, '--', workloadBinary, ...args, '--quiet', '--json', truthPath], { timeoutMs: 180_000 });
  assert.equal(r.code, 0, `stat failed: ${r.stderr}`);
  assert.match(r.stdout, /Latency/, 'human table printed');
  return { s: JSON.parse(readFileSync(out, 'utf8')) as Summary, truth: readTruth(truthPath) };
}

test('stat postcopy with a 200 us handler delay: counts, p50 within 10%, stages add up', async (t) => {
  if (!requireLive(t)) return;
  const { s, truth } = await statWorkload(['--scenario', 'postcopy', '--pages', '512', '--threads', '2', '--handler-delay-us', '200']);
  assert.equal(s.schema, 'uffdscope.summary/1');
  assert.equal(s.events.lost, 0);
  assert.equal(s.faults.total, truth.faults.total);
  assert.equal(s.faults.missing, truth.faults.missing);
  assert.equal(s.messages.pagefault.missing, truth.messages.pagefault.missing);
  assert.equal(s.ioctls.UFFDIO_COPY.count, truth.ioctls.UFFDIO_COPY.count);
  assert.equal(s.ioctls.UFFDIO_COPY.errors, truth.ioctls.UFFDIO_COPY.errors);
  const tool = s.latency_ns.fault.p50!;
  const self = truth.latency_ns.fault.p50;
  assert.ok(Math.abs(tool - self) <= 0.1 * self, `p50: tool ${tool} ns vs workload ${self} ns (more than 10% apart)`);
  const L = s.latency_ns;
  const parts = L.queue.mean! + L.service.mean! + L.wake.mean!;
  assert.ok(Math.abs(parts - L.fault.mean!) <= 0.05 * L.fault.mean!, `queue+service+wake means ${parts} vs fault mean ${L.fault.mean}`);
  assert.equal(L.queue.count, s.faults.total, 'every fault has its queue stage');
});

test('stat counts equal the workload for every scenario of mixed', async (t) => {
  if (!requireLive(t)) return;
  const { s, truth } = await statWorkload(['--scenario', 'mixed', '--pages', '128']);
  assert.equal(s.events.lost, 0);
  assert.equal(s.faults.missing, truth.faults.missing, 'missing');
  assert.equal(s.faults.wp, truth.faults.wp, 'wp');
  assert.equal(s.faults.minor, truth.faults.minor, 'minor');
  assert.equal(s.faults.async, truth.faults.wp_async, 'async (WP_ASYNC)');
  assert.equal(s.messages.pagefault.missing, truth.messages.pagefault.missing);
  assert.equal(s.messages.pagefault.wp, truth.messages.pagefault.wp);
  assert.equal(s.messages.pagefault.minor, truth.messages.pagefault.minor);
  for (const [name, c] of Object.entries(truth.ioctls)) {
    if (name === 'USERFAULTFD_IOC_NEW' || c.count === 0) continue;
    assert.equal(s.ioctls[name]?.count, c.count, `${name} count`);
    assert.equal(s.ioctls[name]?.errors, c.errors, `${name} errors`);
  }
  // set-mode: every attempt listed, masks and results as the workload printed.
  assert.equal(s.mode_switches.length, truth.mode_switches.length);
  s.mode_switches.forEach((m, i) => {
    const w = truth.mode_switches[i];
    // the summary's masks are u64 hex strings
    assert.equal(m.enable, `0x${w.enable.toString(16)}`, `switch ${i} enable`);
    assert.equal(m.disable, `0x${w.disable.toString(16)}`, `switch ${i} disable`);
    assert.equal(m.result, w.result, `switch ${i} result`);
  });
});
