// LatencyHistogram, RateRing and Stats (inputs GENERATED in the tests).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as hdr from 'hdr-histogram-js';
import { LatencyHistogram, log2Floor, HISTOGRAM_HIGHEST_NS } from '../../src/stats/histogram.js';
import { RateRing } from '../../src/stats/rate.js';
import { Stats } from '../../src/stats/stats.js';
import type { FaultRecord } from '../../src/model/faultLifecycle.js';
import type { IoctlEvent } from '../../src/events/types.js';

test('percentiles within 0.1%, exact count/min/max/mean', () => {
  const h = new LatencyHistogram();
  for (let v = 1; v <= 100_000; v++) h.record(v * 1000);
  assert.equal(h.count, 100_000);
  assert.equal(h.max, 100_000_000);
  assert.equal(h.min, 1000);
  assert.equal(h.mean, 50_000_500);
  for (const p of [50, 90, 99, 99.9]) {
    const want = p * 1_000_000;
    assert.ok(Math.abs(h.percentile(p) - want) / want <= 0.001, `p${p}: ${h.percentile(p)} vs ${want}`);
  }
  assert.deepEqual(Object.keys(h.snapshot()), ['count', 'p50', 'p90', 'p99', 'max']);
  assert.equal(new LatencyHistogram().percentile(50), 0);
});

test('fast recording path agrees with hdr-histogram-js', () => {
  const h = new LatencyHistogram();
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (v) => {
      const { fast, hdr: want } = h.checkIndex(v);
      assert.equal(fast, want);
    }),
    { numRuns: 20_000 },
  );
  for (let k = 0; k < 32; k++) for (const d of [-1, 0, 1]) {
    const v = 2 ** k + d;
    if (v >= 0 && v < 2 ** 32) assert.equal(h.checkIndex(v).fast, h.checkIndex(v).hdr, `v=${v}`);
  }
  // same distribution as hdr's own recordValue, including values above 2^32
  const ref = new hdr.Int32Histogram(1, HISTOGRAM_HIGHEST_NS, 3);
  const mine = new LatencyHistogram();
  let x = 12345;
  for (let i = 0; i < 50_000; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const v = i % 100 === 0 ? 5e9 + x : x % 10_000_000;
    ref.recordValue(v);
    mine.record(v);
  }
  for (const p of [1, 25, 50, 75, 90, 99, 99.9, 100]) assert.equal(mine.percentile(p), Math.min(ref.getValueAtPercentile(p), mine.max));
});

test('clamping: negative stages record as 0, beyond 60 s as 60 s', () => {
  const h = new LatencyHistogram();
  h.record(-5);
  h.record(120e9);
  h.record(NaN);
  assert.equal(h.count, 3);
  assert.equal(h.clamped, 3);
  assert.equal(h.max, 60e9);
  assert.equal(h.min, 0);
});

test('merge adds counts and keeps exact max/mean', () => {
  const a = new LatencyHistogram();
  const b = new LatencyHistogram({ packed: true });
  for (let i = 0; i < 100; i++) a.record(1000);
  for (let i = 0; i < 100; i++) b.record(3000);
  a.merge(b);
  assert.equal(a.count, 200);
  assert.equal(a.mean, 2000);
  assert.equal(a.max, 3000);
  assert.equal(a.percentile(25), 1000);
  assert.ok(Math.abs(a.percentile(75) - 3000) <= 3);
});

test('log2 buckets: exact power-of-two boundaries, counts sum to the total', () => {
  const h = new LatencyHistogram();
  const vals = [0, 1, 2, 3, 4, 7, 8, 1023, 1024, 1025, 2047, 2048, 4095, 4096, 1e6, 2 ** 33 + 7];
  for (const v of vals) h.record(v);
  const b = h.log2Buckets();
  assert.equal(b.reduce((s, x) => s + x.count, 0), vals.length);
  assert.deepEqual(b[0], { lo: 0, hi: 1, count: 1 });
  const at = (lo: number) => b.find((x) => x.lo === lo)!.count;
  assert.equal(at(1), 1);
  assert.equal(at(2), 2); // 2, 3
  assert.equal(at(4), 2); // 4, 7
  assert.equal(at(512), 1); // 1023
  assert.equal(at(1024), 3); // 1024, 1025, 2047
  assert.equal(at(2048), 2); // 2048, 4095
  assert.equal(at(4096), 1);
  assert.equal(at(2 ** 19), 1); // 1e6
  assert.equal(at(2 ** 33), 1);
  for (let i = 1; i < b.length; i++) assert.equal(b[i].lo, b[i - 1].hi, 'contiguous');
  assert.equal(log2Floor(2 ** 40 - 1), 39);
  assert.equal(log2Floor(2 ** 40), 40);
});

test('rate ring: per-second counts over a bounded window', () => {
  const r = new RateRing(5);
  r.add(10.2e9);
  r.add(10.9e9);
  r.add(11.5e9, 3);
  r.add(14e9);
  assert.deepEqual(r.series(), [
    { sec: 10, count: 2 },
    { sec: 11, count: 3 },
    { sec: 12, count: 0 },
    { sec: 13, count: 0 },
    { sec: 14, count: 1 },
  ]);
  r.add(16e9); // window moves: 10 and 11 drop out
  assert.deepEqual(r.series().map((p) => p.sec), [12, 13, 14, 15, 16]);
  r.add(11e9); // older than the window
  assert.equal(r.late, 1);
  assert.equal(r.peak(), 1);
  r.add(100e9);
  assert.deepEqual(r.series(2), [
    { sec: 99, count: 0 },
    { sec: 100, count: 1 },
  ]);
  r.advance(102e9);
  assert.equal(r.at(100e9), 1);
  assert.equal(r.series(1)[0].sec, 102);
  // a short trace: the series starts at its first second, not N seconds back
  const s = new RateRing(300);
  s.add(50.5e9);
  s.add(51.5e9);
  assert.deepEqual(s.series(60), [
    { sec: 50, count: 1 },
    { sec: 51, count: 1 },
  ]);
});

function rec(o: Partial<FaultRecord>): FaultRecord {
  return {
    uffd: 0xabcn,
    pid: 10,
    tid: 11,
    comm: 'vcpu',
    address: 0x1000n,
    page: 0x1000n,
    kind: 'missing',
    userfault: true,
    blocked: true,
    nblocks: 1,
    errorCode: 6,
    armed: ['missing'],
    ctxFeatures: 0,
    faultTs: 5e9,
    msgs: 1,
    end: 'resolved',
    endTs: 5e9 + 1e5,
    stages: { total: 10_000, queue: 2000, service: 5000, wake: 3000 },
    recovered: false,
    incomplete: false,
    ...o,
  };
}

test('Stats: userfaults vs entries, per kind/uffd/process histograms, rates', () => {
  const s = new Stats({ maxGroups: 2 });
  s.addFault(rec({}));
  s.addFault(rec({ kind: 'wp', stages: { total: 20_000, queue: 1000, service: 1000, wake: 18_000 } }));
  s.addFault(rec({ userfault: false, blocked: false, end: 'no_wait', kind: 'unknown', stages: {} }));
  s.addFault(rec({ kind: 'async', end: 'async', blocked: false, stages: {}, uffd: 0xdefn, pid: 20 }));
  s.addFault(rec({ uffd: 0x999n, pid: 30, comm: 'other' })); // beyond the group cap
  assert.equal(s.faults.entries, 5);
  assert.equal(s.faults.userfaults, 4);
  assert.equal(s.faults.blocked, 3);
  assert.deepEqual(s.faults.byKind, { missing: 2, wp: 1, minor: 0, rwp: 0, async: 1, unknown: 0 });
  assert.equal(s.faults.ends.no_wait, 1);
  assert.equal(s.faults.userfaultEnds.no_wait, 0);
  assert.equal(s.latency.get('total').count, 3);
  assert.equal(s.latency.get('wake').max, 18_000);
  assert.equal(s.byKind.get('wp')!.latency.get('total').count, 1);
  assert.equal(s.byUffd.size, 2);
  assert.equal(s.byUffd.get(0xabcn)!.faults, 2);
  assert.equal(s.byUffd.get(0xabcn)!.entries, 3);
  assert.equal(s.otherUffds.faults, 1);
  assert.equal(s.byPid.get(10)!.comm, 'vcpu');
  assert.equal(s.otherPids.entries, 1);
  assert.equal(s.faultRate.at(5e9), 4);
  assert.equal(s.entryRate.at(5e9), 5);
});

test('Stats: ioctl counts, errors by errno, duration histograms', () => {
  const s = new Stats();
  const ex = (name: string, ret: number, dur: number): IoctlEvent => ({
    type: 'ioctl_exit', ts: 1e9 + dur, cpu: 0, pid: 1, tid: 1, comm: 'h', uffd: 1n, cmd: 0, name, argPtr: 0n, args: null, enterTs: 1e9, ret, fd: 3, ctxFeatures: 0,
  });
  s.addIoctl(ex('UFFDIO_COPY', 0, 4000));
  s.addIoctl(ex('UFFDIO_COPY', -17, 1000));
  s.addIoctl(ex('UFFDIO_COPY', -11, 9000));
  s.addIoctl(ex('UFFDIO_SET_MODE', -22, 7000));
  s.addIoctl({ ...ex('UFFDIO_COPY', 0, 1), type: 'ioctl_enter' });
  const c = s.ioctls.get('UFFDIO_COPY')!;
  assert.equal(c.count, 3);
  assert.equal(c.errors, 2);
  assert.deepEqual(c.errnos, { EEXIST: 1, EAGAIN: 1 });
  assert.ok(Math.abs(c.duration.percentile(50) - 4000) <= 4, 'within the histogram resolution');
  assert.equal(s.ioctls.get('UFFDIO_SET_MODE')!.errnos.EINVAL, 1);
});
