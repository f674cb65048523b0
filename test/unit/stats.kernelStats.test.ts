// The pure side of the in-kernel statistics (src/stats/kernelStats.ts and
// kernelStatsTracker.ts): the log-linear buckets (which must stay identical
// to wait_bucket() in bpf/uffdscope.bpf.c), quantiles from a histogram
// (inputs GENERATED from a seeded PRNG), decoding struct uscope_uffd_stats
// (buffers built here from the generated layout), rates, the JSON summary
// and the table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { L, C } from '../../src/events/layout.generated.js';
import {
  WAIT_BUCKETS,
  waitBucket,
  bucketBounds,
  waitQuantile,
  decodeUffdStats,
  summarizeUffd,
  formatKernelTable,
  pendingOf,
  StageHist,
} from '../../src/stats/kernelStats.js';
import { KernelStatsTracker, kernelKey } from '../../src/stats/kernelStatsTracker.js';
import { prng } from '../../src/simulate/modeToggle.js';



// ---- the BPF algorithm, transcribed with u64 arithmetic (BigInt) ----

/** top_bit() of bpf/uffdscope.bpf.c: the shift cascade. */
function bpfTopBit(v: bigint): bigint {
  let r = 0n;
  let shift: bigint;
  shift = (v > 0xffffffffn ? 1n : 0n) << 5n; v >>= shift; r |= shift;
  shift = (v > 0xffffn ? 1n : 0n) << 4n; v >>= shift; r |= shift;
  shift = (v > 0xffn ? 1n : 0n) << 3n; v >>= shift; r |= shift;
  shift = (v > 0xfn ? 1n : 0n) << 2n; v >>= shift; r |= shift;
  shift = (v > 0x3n ? 1n : 0n) << 1n; v >>= shift; r |= shift;
  return r | (v >> 1n);
}

/** wait_bucket() of bpf/uffdscope.bpf.c. */
function bpfWaitBucket(ns: bigint): number {
  const subBits = BigInt(C.USCOPE_WAIT_SUB_BITS);
  const sub = 1n << subBits;
  if (ns < sub) return Number(ns);
  const m = bpfTopBit(ns);
  const i = (m - subBits + 1n) * sub + ((ns >> (m - subBits)) & (sub - 1n));
  return i < BigInt(C.USCOPE_WAIT_BUCKETS) ? Number(i) : C.USCOPE_WAIT_BUCKETS - 1;
}

test('waitBucket and bucketBounds agree: contiguous buckets, each holding its own bounds', () => {
  assert.equal(WAIT_BUCKETS, 304);
  assert.equal(WAIT_BUCKETS, C.USCOPE_WAIT_BUCKETS);
  assert.deepEqual(bucketBounds(0), [0, 1]);
  for (let v = 0; v < 8; v++) {
    assert.equal(waitBucket(v), v, `waitBucket(${v})`);
    assert.deepEqual(bucketBounds(v), [v, v + 1], `bucketBounds(${v})`);
  }
  for (let i = 0; i < WAIT_BUCKETS; i++) {
    const [lo, hi] = bucketBounds(i);
    assert.ok(Number.isInteger(lo) && Number.isInteger(hi) && hi > lo, `bucket ${i}: [${lo}, ${hi})`);
    if (i + 1 < WAIT_BUCKETS) assert.equal(bucketBounds(i + 1)[0], hi, `bucket ${i} ends where bucket ${i + 1} starts`);
    assert.equal(waitBucket(lo), i, `waitBucket(low of bucket ${i} = ${lo})`);
    assert.equal(waitBucket(hi - 1), i, `waitBucket(high - 1 of bucket ${i} = ${hi - 1})`);
    if (i + 1 < WAIT_BUCKETS) assert.equal(waitBucket(hi), i + 1, `waitBucket(high of bucket ${i} = ${hi})`);
    if (lo >= 8) assert.ok((hi - lo) / lo <= 0.125, `bucket ${i} [${lo}, ${hi}) is ${(((hi - lo) / lo) * 100).toFixed(2)} % wide`);
  }
  // the last bucket ends at 2^40 and also holds everything longer
  const last = WAIT_BUCKETS - 1;
  assert.equal(bucketBounds(last)[1], 2 ** 40);
  assert.equal(waitBucket(2 ** 40), last);
  assert.equal(waitBucket(2 ** 41), last);
  assert.equal(waitBucket(Number.MAX_SAFE_INTEGER), last);
});

test('waitBucket equals the BPF wait_bucket()/top_bit() integer algorithm (generated values)', () => {
  const values: bigint[] = [];
  for (let k = 0; k <= 41; k++) {
    const p = 1n << BigInt(k);
    values.push(p, p - 1n, p + 1n);
  }
  values.push(1n << 42n, (1n << 42n) - 1n);
  const rand = prng(0x75ffd);
  for (let n = 0; n < 4000; n++) {
    // log-uniform over [1, 2^42), plus an integer jitter so low bits vary
    values.push(BigInt(Math.floor(2 ** (rand() * 42))));
  }
  for (let v = 0n; v < 64n; v++) values.push(v);

  // the transcription itself: top_bit() is floor(log2)
  for (const v of [1n, 2n, 3n, 4n, 7n, 8n, 255n, 256n, (1n << 32n) - 1n, 1n << 32n, (1n << 41n) + 12345n]) {
    assert.equal(bpfTopBit(v), BigInt(v.toString(2).length - 1), `top_bit(${v})`);
  }

  let checked = 0;
  for (const v of values) {
    assert.equal(waitBucket(Number(v)), bpfWaitBucket(v), `ns = ${v}`);
    checked++;
  }
  assert.ok(checked > 4000);
});

test('waitQuantile on a generated sample: p50/p90/p99 within 6.25 % of the exact quantile', () => {
  const rand = prng(20240611);
  const n = 10_000;
  const sample: number[] = [];
  const hist = new Array<number>(WAIT_BUCKETS).fill(0);
  for (let k = 0; k < n; k++) {
    // log-uniform between 1 us and 10 ms, integer nanoseconds as the BPF side counts
    const ns = Math.floor(1_000 * 10_000 ** rand());
    sample.push(ns);
    hist[waitBucket(ns)]++;
  }
  sample.sort((a, b) => a - b);
  assert.ok(sample[0] >= 1_000 && sample[n - 1] <= 10_000_000);
  for (const q of [0, 0.5, 0.9, 0.99, 1]) {
    const exact = sample[Math.max(1, Math.ceil(q * n)) - 1];
    const got = waitQuantile(hist, q);
    assert.ok(got !== null, `q=${q}`);
    const err = Math.abs(got - exact) / exact;
    assert.ok(err <= 0.0625, `q=${q}: ${got} vs exact ${exact} (${(err * 100).toFixed(3)} %)`);
  }
  // quantiles are monotonic in q
  const qs = [0.5, 0.9, 0.99].map((q) => waitQuantile(hist, q) as number);
  assert.ok(qs[0] < qs[1] && qs[1] < qs[2], `p50 ${qs[0]} < p90 ${qs[1]} < p99 ${qs[2]}`);
});

test('waitQuantile: empty histogram is null; a single sample gives its bucket middle', () => {
  assert.equal(waitQuantile([], 0.5), null);
  assert.equal(waitQuantile(new Array<number>(WAIT_BUCKETS).fill(0), 0.5), null);
  assert.equal(waitQuantile(new Array<number>(WAIT_BUCKETS).fill(0), 0.99), null);

  // 123456 ns: top bit 16 (65536), width 2^13 = 8192, sub-bucket 7 -> [122880, 131072)
  const hist = new Array<number>(WAIT_BUCKETS).fill(0);
  const b = waitBucket(123_456);
  assert.deepEqual(bucketBounds(b), [122_880, 131_072]);
  hist[b] = 1;
  for (const q of [0, 0.01, 0.5, 0.99, 1]) assert.equal(waitQuantile(hist, q), (122_880 + 131_071) / 2, `q=${q}`);

  // below 8 ns a bucket is a single value: its middle is the value
  const small = new Array<number>(WAIT_BUCKETS).fill(0);
  small[5] = 1;
  assert.equal(waitQuantile(small, 0.5), 5);
});

// ---- map values ----

const SF = L.uscope_uffd_stats.fields;
const SSIZE = L.uscope_uffd_stats.size;
const KINDS = ['missing', 'wp', 'minor', 'rwp', 'async', 'unknown'] as const;

interface Value {
  tgid?: number;
  handler?: number;
  features?: number;
  entries?: [number, number, number, number];
  blocked?: number;
  rewaits?: number;
  userfaults?: Partial<Record<(typeof KINDS)[number], number>>;
  msgs?: number;
  /** per stage: the samples (ns); count/sum/max/buckets follow from them */
  stages?: Partial<Record<'total' | 'queue' | 'service' | 'wake', number[]>>;
}

/** Packs a struct uscope_uffd_stats as the kernel would hold it, `lead` bytes into a larger buffer. */
function pack(v: Value, lead = 0): Buffer {
  const whole = Buffer.alloc(lead + SSIZE + 16, 0xee);
  const buf = whole.subarray(lead, lead + SSIZE);
  buf.fill(0);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const u64 = (off: number, n: number | bigint) => dv.setBigUint64(off, BigInt.asUintN(64, BigInt(n)), true);
  dv.setUint32(SF.tgid.offset, v.tgid ?? 0, true);
  dv.setUint32(SF.handler_tgid.offset, v.handler ?? 0, true);
  dv.setUint32(SF.ctx_features.offset, v.features ?? 0, true);
  const e = v.entries ?? [0, 0, 0, 0];
  u64(SF.entries.offset, e[0]);
  u64(SF.entries_missing.offset, e[1]);
  u64(SF.entries_wp.offset, e[2]);
  u64(SF.entries_minor.offset, e[3]);
  u64(SF.blocked.offset, v.blocked ?? 0);
  u64(SF.rewaits.offset, v.rewaits ?? 0);
  u64(SF.msgs.offset, v.msgs ?? 0);
  KINDS.forEach((k, i) => u64(SF.userfaults.offset + 8 * i, v.userfaults?.[k] ?? 0));
  (['total', 'queue', 'service', 'wake'] as const).forEach((st, i) => {
    const xs = v.stages?.[st] ?? [];
    u64(SF.stage_count.offset + 8 * i, xs.length);
    u64(SF.stage_sum_ns.offset + 8 * i, xs.reduce((a, b) => a + b, 0));
    u64(SF.stage_max_ns.offset + 8 * i, xs.reduce((a, b) => Math.max(a, b), 0));
    for (const x of xs) {
      const off = SF.stage_hist.offset + 8 * (i * WAIT_BUCKETS + waitBucket(x));
      dv.setBigUint64(off, dv.getBigUint64(off, true) + 1n, true);
    }
  });
  return buf;
}

test('the map value layout: four stages of WAIT_BUCKETS buckets, six kinds', () => {
  assert.equal(SF.stage_hist.count, 4 * WAIT_BUCKETS);
  assert.equal(C.USCOPE_STAGE_BUCKETS, C.USCOPE_STAGES * C.USCOPE_WAIT_BUCKETS);
  assert.equal(SF.userfaults.count, C.USCOPE_KINDS);
  assert.equal(SSIZE % 8, 0);
});

test('decodeUffdStats: every field, at any offset into a larger buffer', () => {
  const v: Value = {
    tgid: 1111,
    handler: 2222,
    features: 0x8000,
    entries: [42, 26, 11, 5],
    blocked: 9,
    rewaits: 3,
    msgs: 8,
    userfaults: { missing: 5, wp: 2, minor: 1, async: 7 },
    stages: { total: [1_000, 2_000, 3_000, 100_000], queue: [500, 900], service: [300], wake: [250, 260, 270] },
  };
  for (const lead of [0, 24]) {
    const s = decodeUffdStats(0xffff888812345600n, 777n, pack(v, lead));
    assert.equal(s.uffd, 0xffff888812345600n);
    assert.equal(s.createdNs, 777n);
    assert.equal(s.pid, 1111);
    assert.equal(s.handlerPid, 2222);
    assert.equal(s.ctxFeatures, 0x8000);
    assert.deepEqual([s.entries, s.entriesMissing, s.entriesWp, s.entriesMinor], [42, 26, 11, 5]);
    assert.equal(s.blocked, 9);
    assert.equal(s.rewaits, 3);
    assert.equal(s.msgs, 8);
    assert.deepEqual(s.userfaults, { missing: 5, wp: 2, minor: 1, rwp: 0, async: 7, unknown: 0 });
    assert.equal(s.stages.total.count, 4);
    assert.equal(s.stages.total.sumNs, 106_000);
    assert.equal(s.stages.total.maxNs, 100_000);
    assert.equal(s.stages.total.hist[waitBucket(2_000)], 1);
    assert.equal(s.stages.queue.count, 2);
    assert.equal(s.stages.service.sumNs, 300);
    assert.equal(s.stages.wake.maxNs, 270);
    assert.equal(pendingOf(s), 5, 'blocked 9, of them 4 back on a CPU');
  }
});

test('decodeUffdStats: a counter one below zero (read between a re-wait\'s subtract and add) reads as -1, not 2^64 - 1', () => {
  const buf = pack({});
  new DataView(buf.buffer, buf.byteOffset).setBigUint64(SF.stage_hist.offset, (1n << 64n) - 1n, true);
  assert.equal(decodeUffdStats(1n, 0n, buf).stages.total.hist[0], -1);
});

test('decodeUffdStats: a value of the wrong size throws, naming the byte count', () => {
  assert.throws(() => decodeUffdStats(1n, 0n, Buffer.alloc(SSIZE + 8)), new RegExp(`${SSIZE + 8} bytes, expected ${SSIZE}`));
  assert.throws(() => decodeUffdStats(1n, 0n, Buffer.alloc(0)), /\b0 bytes/);
});

test('decodeUffdStats: histograms are reused while no stage count or sum changed, overwritten in place when one did', () => {
  const a = decodeUffdStats(1n, 0n, pack({ entries: [1, 1, 0, 0], stages: { total: [5_000] } }));
  const b = decodeUffdStats(1n, 0n, pack({ entries: [2, 2, 0, 0], stages: { total: [5_000] } }), a);
  assert.equal(b.stages, a.stages, 'same stages object');
  assert.equal(b.entries, 2, 'counters decoded anew');
  const c = decodeUffdStats(1n, 0n, pack({ entries: [2, 2, 0, 0], stages: { total: [5_000, 7_000] } }), b);
  assert.equal(c.stages, b.stages, 'the same arrays, overwritten');
  assert.equal(c.stages.total.count, 2);
  assert.equal(c.stages.total.hist[waitBucket(7_000)], 1);
});

test('StageHist: quantiles never above the max, mean, log2 buckets, counts at or below a bound', () => {
  const h = new StageHist();
  assert.equal(h.quantile(0.5), null);
  assert.equal(h.meanNs, null);
  for (const x of [1_000, 2_000, 3_000, 100_000]) {
    h.hist[waitBucket(x)]++;
    h.count++;
    h.sumNs += x;
    h.maxNs = Math.max(h.maxNs, x);
  }
  assert.equal(h.quantile(0.5), (1_920 + 2_047) / 2, 'rank 2: 2000 ns, bucket [1920, 2048)');
  assert.equal(h.quantile(0.99), 100_000, 'the bucket middle 102399.5 lies above the max');
  assert.equal(h.meanNs, 26_500);
  assert.deepEqual(h.log2Buckets(), [
    { lo: 512, hi: 1024, count: 1 },
    { lo: 1024, hi: 2048, count: 1 },
    { lo: 2048, hi: 4096, count: 1 },
    { lo: 65536, hi: 131072, count: 1 },
  ]);
  assert.equal(h.countAtOrBelow(1e3), 1);
  assert.equal(h.countAtOrBelow(5e3), 3);
  assert.equal(h.countAtOrBelow(1e6), 4);
  const sum = new StageHist();
  sum.add(h);
  sum.add(h);
  assert.equal(sum.count, 8);
  assert.equal(sum.maxNs, 100_000);
  assert.equal(sum.hist[waitBucket(3_000)], 2);
});

test('KernelStatsTracker: per uffd lifetime (context address reused), rates from the growth of userfaults, totals', () => {
  const t = new KernelStatsTracker(60);
  const ctx = 0xffff888100000000n;
  const sec = (s: number) => s * 1e9;
  t.update([
    { uffd: ctx, createdNs: 10n, value: pack({ tgid: 5, userfaults: { missing: 100 }, blocked: 100, stages: { total: [10_000] } }) },
    { uffd: ctx, createdNs: 20n, value: pack({ tgid: 6, userfaults: { wp: 7 } }) },
  ], sec(100.5));
  t.update([
    { uffd: ctx, createdNs: 10n, value: pack({ tgid: 5, userfaults: { missing: 130 }, blocked: 130, stages: { total: [10_000, 20_000] } }) },
    { uffd: ctx, createdNs: 20n, value: pack({ tgid: 6, userfaults: { wp: 7 } }) },
  ], sec(101.5));
  assert.equal(t.size, 2, 'one entry per lifetime');
  assert.equal(t.reads, 2);
  assert.equal(t.get(ctx, 10n)?.userfaults.missing, 130);
  assert.equal(t.get(ctx, 20n)?.pid, 6);
  assert.equal(t.rate(ctx, 10n)?.at(sec(100)), 100);
  assert.equal(t.rate(ctx, 10n)?.at(sec(101)), 30);
  assert.equal(t.rate(ctx, 20n)?.at(sec(101)), 0);
  const tot = t.totals();
  assert.equal(tot.uffds, 2);
  assert.equal(tot.blocked, 130);
  assert.deepEqual(tot.userfaults, { missing: 130, wp: 7, minor: 0, rwp: 0, async: 0, unknown: 0 });
  assert.equal(tot.stages.total.count, 2);
  assert.notEqual(kernelKey(ctx, 10n), kernelKey(ctx, 20n));
});

test('summarizeUffd: hex ids, kinds with a total, stages with count/mean/quantiles/max; null where nothing was measured', () => {
  const s = summarizeUffd(decodeUffdStats(0xffff8881234abcd0n, 5_000_000n, pack({
    tgid: 4321, handler: 99, features: 0x1a5, entries: [50, 30, 15, 7], blocked: 6, rewaits: 2, msgs: 6,
    userfaults: { missing: 4, async: 2 }, stages: { total: [1_000, 2_000, 3_000, 100_000] },
  })), (f) => (f & 0x8000 ? 'async' : 'sync'));
  assert.equal(s.uffd, '0xffff8881234abcd0');
  assert.equal(s.created_ns, 5_000_000);
  assert.equal(s.handler_pid, 99);
  assert.equal(s.mode, 'sync');
  assert.deepEqual(s.userfaults, { missing: 4, wp: 0, minor: 0, rwp: 0, async: 2, unknown: 0, total: 6 });
  assert.deepEqual(s.fault_entries, { total: 50, missing: 30, wp: 15, minor: 7 });
  assert.deepEqual(s.latency.total, { count: 4, mean_ns: 26_500, p50_ns: (1_920 + 2_047) / 2, p90_ns: 100_000, p99_ns: 100_000, max_ns: 100_000, hist_ns: [[991.5, 1], [1983.5, 1], [2943.5, 1], [100_000, 1]] });
  assert.deepEqual(s.latency.queue, { count: 0, mean_ns: null, p50_ns: null, p90_ns: null, p99_ns: null, max_ns: null });
  assert.doesNotThrow(() => JSON.stringify(s));
  const z = summarizeUffd(decodeUffdStats(0x10n, 0n, pack({})));
  assert.equal(z.created_ns, null, 'created before tracing: null');
  assert.equal(z.handler_pid, null);
  assert.equal(z.mode, null, 'no mode without a modeOf');
});

const HEAD = ['pid', 'comm', 'uffd', 'created', 'mode', 'userfaults', 'entries', 'blocked', 'total p50', 'p99', 'queue p50', 'service p50', 'wake p50', 'handler'];

test('formatKernelTable: header, rows busiest first, names, created after the start, durations', () => {
  const rows = [
    summarizeUffd(decodeUffdStats(0xa0n, 0n, pack({ tgid: 1, userfaults: { missing: 5 }, entries: [5, 5, 0, 0] })), () => 'sync'),
    summarizeUffd(decodeUffdStats(0xb0n, 2_500_000_000n, pack({ tgid: 2, handler: 3, userfaults: { missing: 50 }, entries: [50, 50, 0, 0], blocked: 50, stages: { total: [1_500], queue: [500], service: [600], wake: [400] } })), () => 'async'),
  ];
  const lines = formatKernelTable(rows, 1_000_000_000, (pid) => (pid === 2 ? 'qemu' : pid === 3 ? 'handler' : undefined)).split('\n');
  const header = lines.findIndex((l) => l.startsWith('  pid') || l.startsWith('pid'));
  assert.ok(header >= 0);
  assert.deepEqual(lines[header].trim().split(/\s{2,}/), HEAD);
  const cells = lines.slice(header + 1).map((l) => l.trim().split(/\s+/));
  assert.equal(cells.length, 2);
  assert.deepEqual(cells[0], ['2', 'qemu', '0xb0', '1.500', 'async', '50', '50', '50', '1.5us', '1.5us', '0.5us', '0.6us', '0.4us', 'handler/3']);
  assert.deepEqual(cells[1], ['1', '?', '0xa0', '-', 'sync', '5', '5', '0', '-', '-', '-', '-', '-', '-']);
  assert.equal(formatKernelTable([]).split('\n').at(-1), '(no uffd faults seen)');
});

test('formatKernelTable: a full kernel map warns that later uffds were not counted', () => {
  const one = summarizeUffd(decodeUffdStats(1n, 0n, pack({})));
  const full = formatKernelTable(Array.from({ length: C.USCOPE_MAX_STAT_UFFDS }, () => one));
  assert.match(full.split('\n').at(-1)!, /^WARNING: 16384 uffds counted, the most the kernel map holds/);
  assert.doesNotMatch(formatKernelTable([one]), /WARNING/);
});
