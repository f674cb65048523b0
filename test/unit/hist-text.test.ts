// stat --hist: the total-latency histogram as bpftrace-style text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatLog2Histogram } from '../../src/stats/histText.js';
import { LatencyHistogram } from '../../src/stats/histogram.js';
import { StageHist, waitBucket } from '../../src/stats/kernelStats.js';

const EXPECTED = [
  'total latency (ns)',
  '[1K, 2K)   2 |@@@@@     |',
  '[2K, 4K)   0 |          |',
  '[4K, 8K)   4 |@@@@@@@@@@|',
  '[8K, 16K)  1 |@@@       |',
].join('\n');

test('formatLog2Histogram: a line per power of two, empty ones between included, counts and bars scaled to the largest', () => {
  const text = formatLog2Histogram('total latency (ns)', [
    { lo: 1024, hi: 2048, count: 2 },
    { lo: 4096, hi: 8192, count: 4 },
    { lo: 8192, hi: 16384, count: 1 },
  ], 10);
  assert.equal(text, EXPECTED);
});

test('formatLog2Histogram: values below 1 ns, 1M labels, and an empty histogram', () => {
  assert.equal(formatLog2Histogram('t', [{ lo: 0, hi: 1, count: 1 }, { lo: 2, hi: 4, count: 1 }], 4), ['t', '[0, 1)  1 |@@@@|', '[1, 2)  0 |    |', '[2, 4)  1 |@@@@|'].join('\n'));
  assert.equal(formatLog2Histogram('t', [{ lo: 2 ** 20, hi: 2 ** 21, count: 3 }], 3), ['t', '[1M, 2M)  3 |@@@|'].join('\n'));
  assert.equal(formatLog2Histogram('t', []), 't\n  (no samples)');
});

test('both engines give the same text for the same samples (HDR and the kernel\'s log-linear buckets)', () => {
  const values = [1100, 1900, 4100, 5000, 6000, 8000, 9000];
  const hdr = new LatencyHistogram();
  const kern = new StageHist();
  for (const v of values) {
    hdr.record(v);
    kern.hist[waitBucket(v)]++;
    kern.count++;
  }
  const a = formatLog2Histogram('total latency (ns)', hdr.log2Buckets(), 10);
  assert.equal(a, formatLog2Histogram('total latency (ns)', kern.log2Buckets(), 10));
  assert.equal(a, EXPECTED);
});
