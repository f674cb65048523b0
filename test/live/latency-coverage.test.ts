// Live: every fault's interval lies inside the workload's own timing of it,
// joined fault by fault on the page address (the workload's --page-times:
// CLOCK_BOOTTIME just before and after each page's first touch, the clock
// of uffdscope's records). The fault tracepoint comes after the touch began,
// the thread is back on a CPU before the touch ended: what the kernel
// guarantees, with and without a handler delay.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { requireLive, tmp, uffdscope, workloadBinary } from './support.js';
import { forEachRecordedEvent } from '../../src/source/recordingSource.js';

const PAGES = 512;

for (const delayUs of [0, 200]) {
  test(`postcopy, handler delay ${delayUs} us: each fault's interval lies inside the workload's timing of its page`, async (t) => {
    if (!requireLive(t)) return;
    const rec = tmp('cov.uscope');
    const times = tmp('pages.txt');
    const r = await uffdscope(['record', '-o', rec, '--', workloadBinary, '--scenario', 'postcopy', '--pages', String(PAGES), '--threads', '2', '--handler-delay-us', String(delayUs), '--quiet', '--page-times', times], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, `record failed: ${r.stderr}`);
    const touch = new Map<bigint, [number, number]>();
    for (const line of readFileSync(times, 'utf8').trim().split('\n')) {
      const [addr, t0, t1] = line.split(' ');
      touch.set(BigInt(addr), [Number(t0), Number(t1)]);
    }
    assert.equal(touch.size, PAGES, 'the workload timed every page');
    let faults = 0;
    let resumes = 0;
    const outside: string[] = [];
    forEachRecordedEvent(rec, null, (e) => {
      if (e.type !== 'fault' && e.type !== 'resume') return;
      const page = e.address & ~0xfffn;
      const w = touch.get(page);
      assert.ok(w, `a ${e.type} at 0x${e.address.toString(16)}, a page the workload did not touch`);
      const [t0, t1] = w;
      const start = e.type === 'fault' ? e.ts : e.faultTs;
      if (e.type === 'fault') faults++;
      else resumes++;
      if (start < t0 || e.ts > t1) outside.push(`${e.type} 0x${page.toString(16)}: tool ${start}..${e.ts}, workload ${t0}..${t1}`);
    });
    assert.equal(faults, PAGES, 'one fault per page');
    assert.ok(resumes <= PAGES, `${resumes} waits ended, ${PAGES} faults`);
    // with a delay every fault waits, but in a preemption race (capture.test.ts explains it)
    if (delayUs > 0) assert.ok(resumes >= PAGES - 2, `${resumes} faults back on a CPU of ${PAGES}`);
    t.diagnostic(`${faults} faults, ${resumes} waits, all inside the workload's timing`);
    assert.deepEqual(outside, [], 'every interval inside the workload\'s own');
  });
}
