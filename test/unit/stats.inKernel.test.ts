// The pure side of `stat --in-kernel` (src/stats/inKernelStats.ts): the
// log-linear wait buckets (which must stay identical to wait_bucket() in
// bpf/uffdscope.bpf.c), quantiles from a histogram (inputs GENERATED from a
// seeded PRNG), summing the per-CPU struct uscope_uffd_stats values
// (buffers built here from the generated layout), the JSON summary and
// the table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { L, C } from '../../src/events/layout.generated.js';
import {
  WAIT_BUCKETS,
  waitBucket,
  bucketBounds,
  waitQuantile,
  sumPerCpu,
  summarizeUffd,
  formatInKernelTable,
  emptyWaitStats,
  type UffdWaitStats,
  type UffdWaitSummary,
} from '../../src/stats/inKernelStats.js';
import { prng } from '../../src/simulate/modeToggle.js';

const U64_MAX = (1n << 64n) - 1n;


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

// ---- per-CPU buffers ----

type U64Field = 'entries' | 'entries_missing' | 'entries_wp' | 'entries_minor' | 'blocked' | 'rewaits' | 'waits' | 'wait_sum_ns' | 'wait_max_ns' | 'last_fault_ts_ns';
interface CpuStats extends Partial<Record<U64Field, bigint>> {
  tgid?: number;
  ctx_features?: number;
  hist?: Record<number, bigint>;
}

const SF = L.uscope_uffd_stats.fields;
const SSIZE = L.uscope_uffd_stats.size;

/** Packs `cpus` as the kernel returns a per-CPU map value: one struct per CPU, back to back, at `lead` bytes into a larger buffer. */
function packCpus(cpus: CpuStats[], lead = 0): Buffer {
  const whole = Buffer.alloc(lead + cpus.length * SSIZE + 16, 0xee);
  const buf = whole.subarray(lead, lead + cpus.length * SSIZE);
  buf.fill(0);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  cpus.forEach((c, n) => {
    const o = n * SSIZE;
    dv.setUint32(o + SF.tgid.offset, c.tgid ?? 0, true);
    dv.setUint32(o + SF.ctx_features.offset, c.ctx_features ?? 0, true);
    for (const f of ['entries', 'entries_missing', 'entries_wp', 'entries_minor', 'blocked', 'rewaits', 'waits', 'wait_sum_ns', 'wait_max_ns', 'last_fault_ts_ns'] as const) {
      dv.setBigUint64(o + SF[f].offset, c[f] ?? 0n, true);
    }
    for (const [b, v] of Object.entries(c.hist ?? {})) {
      const i = Number(b);
      assert.ok(i >= 0 && i < SF.wait_hist.count);
      dv.setBigUint64(o + SF.wait_hist.offset + i * 8, v, true);
    }
  });
  return buf;
}

test('sumPerCpu: sums two CPUs, including the u64 wrap-around of a re-wait', () => {
  assert.equal(SF.wait_hist.count, WAIT_BUCKETS);
  const b = waitBucket(5_000); // the re-waited sample's bucket
  const other = waitBucket(7_000_000);
  const cpu0: CpuStats = {
    tgid: 1111,
    ctx_features: 0x11,
    entries: 10n,
    entries_missing: 6n,
    entries_wp: 3n,
    entries_minor: 1n,
    blocked: 4n,
    rewaits: 1n,
    // a re-wait's first sleep was counted here, the whole wait on CPU 1
    waits: U64_MAX, // -1
    wait_sum_ns: (1n << 64n) - 5_000n, // -5000
    wait_max_ns: 9_000_000n,
    last_fault_ts_ns: 700n,
    hist: { [b]: U64_MAX, [other]: 0n, 0: 0n },
  };
  const cpu1: CpuStats = {
    tgid: 2222,
    ctx_features: 0x22,
    entries: 32n,
    entries_missing: 20n,
    entries_wp: 8n,
    entries_minor: 4n,
    blocked: 5n,
    rewaits: 2n,
    waits: 3n,
    wait_sum_ns: 20_000n,
    wait_max_ns: 8_000n,
    last_fault_ts_ns: 1_500n,
    hist: { [b]: 3n, [WAIT_BUCKETS - 1]: 7n },
  };
  for (const lead of [0, 24]) {
    const s = sumPerCpu(0xffff888812345600n, 777n, packCpus([cpu0, cpu1], lead));
    assert.equal(s.uffd, 0xffff888812345600n);
    assert.equal(s.createdNs, 777n);
    assert.equal(s.pid, 1111, 'pid from the first CPU with a tgid');
    assert.equal(s.ctxFeatures, 0x22, 'ctx_features from the CPU with the latest fault');
    assert.equal(s.lastFaultTsNs, 1_500n);
    assert.equal(s.entries, 42);
    assert.equal(s.entriesMissing, 26);
    assert.equal(s.entriesWp, 11);
    assert.equal(s.entriesMinor, 5);
    assert.equal(s.blocked, 9);
    assert.equal(s.rewaits, 3);
    assert.equal(s.waits, 2);
    assert.equal(s.waitSumNs, 15_000);
    assert.equal(s.waitMaxNs, 9_000_000, 'max over CPUs');
    const hist = new Array<number>(WAIT_BUCKETS).fill(0);
    hist[b] = 2;
    hist[WAIT_BUCKETS - 1] = 7;
    assert.deepEqual(s.hist, hist);
  }
});

test('sumPerCpu: pid from the first CPU with a tgid, features from the latest fault, max over CPUs', () => {
  const s = sumPerCpu(1n, 0n, packCpus([
    {}, // a CPU that never saw this uffd
    { tgid: 77, ctx_features: 0x5, last_fault_ts_ns: 900n, wait_max_ns: 10n, entries: 1n, hist: { 3: 1n } },
    { tgid: 88, ctx_features: 0x9, last_fault_ts_ns: 300n, wait_max_ns: 4_000n, entries: 2n, hist: { 3: 2n, 100: 1n } },
    { tgid: 99, ctx_features: 0xc, last_fault_ts_ns: 899n, wait_max_ns: 20n },
  ]));
  assert.equal(s.pid, 77);
  assert.equal(s.ctxFeatures, 0x5);
  assert.equal(s.lastFaultTsNs, 900n);
  assert.equal(s.waitMaxNs, 4_000);
  assert.equal(s.entries, 3);
  assert.equal(s.hist[3], 3);
  assert.equal(s.hist[100], 1);
  assert.equal(s.hist.reduce((a, v) => a + v, 0), 4);

  // a single CPU, all zero
  const z = sumPerCpu(2n, 0n, packCpus([{}]));
  assert.equal(z.pid, 0);
  assert.equal(z.ctxFeatures, 0);
  assert.equal(z.waits, 0);
  assert.equal(z.hist.length, WAIT_BUCKETS);
  assert.ok(z.hist.every((v) => v === 0));
});

test('sumPerCpu: a buffer that is not a whole number of structs throws, naming the byte count', () => {
  assert.equal(SSIZE, 2520);
  assert.throws(() => sumPerCpu(1n, 0n, Buffer.alloc(SSIZE + 1)), /2521 bytes/);
  assert.throws(() => sumPerCpu(1n, 0n, Buffer.alloc(SSIZE - 8)), /2512 bytes/);
  assert.throws(() => sumPerCpu(1n, 0n, Buffer.alloc(2 * SSIZE + 4)), new RegExp(`${2 * SSIZE + 4} bytes`));
  assert.throws(() => sumPerCpu(1n, 0n, Buffer.alloc(0)), /\b0 bytes/);
  assert.doesNotThrow(() => sumPerCpu(1n, 0n, Buffer.alloc(3 * SSIZE)));
});

// ---- summary and table ----

function stats(over: Partial<UffdWaitStats>): UffdWaitStats {
  return { ...emptyWaitStats(0n, 0n), ...over };
}

test('summarizeUffd: hex uffd and features, entries by arming, wait count/mean/quantiles/max', () => {
  const hist = new Array<number>(WAIT_BUCKETS).fill(0);
  for (const w of [1_000, 2_000, 3_000, 100_000]) hist[waitBucket(w)]++;
  const s = summarizeUffd(stats({
    uffd: 0xffff8881234abcd0n,
    createdNs: 5_000_000n,
    pid: 4321,
    ctxFeatures: 0x1a5,
    entries: 50,
    entriesMissing: 30,
    entriesWp: 15,
    entriesMinor: 7,
    blocked: 6,
    rewaits: 2,
    waits: 4,
    waitSumNs: 106_000,
    waitMaxNs: 100_000,
    lastFaultTsNs: 123n,
    hist,
  }), (f) => (f & 0x8000 ? 'async' : 'sync'));
  assert.deepEqual(s, {
    uffd: '0xffff8881234abcd0',
    created_ns: 5_000_000,
    pid: 4321,
    ctx_features: '0x1a5',
    mode: 'sync',
    fault_entries: { total: 50, missing: 30, wp: 15, minor: 7 },
    blocked: 6,
    rewaits: 2,
    wait: {
      count: 4,
      mean_ns: 26_500,
      // rank 2: 2000 ns, bucket [1920, 2048)
      p50_ns: (1_920 + 2_047) / 2,
      // rank 4: 100000 ns, bucket [98304, 106496), whose middle (102399.5)
      // lies above the largest wait: reported as the max
      p90_ns: 100_000,
      p99_ns: 100_000,
      max_ns: 100_000,
    },
  });
  // JSON-serialisable (no BigInt left)
  assert.doesNotThrow(() => JSON.stringify(s));
});

test('summarizeUffd: with no waits, mean/p50/max are null', () => {
  const s = summarizeUffd(stats({ uffd: 0x10n, pid: 9, ctxFeatures: 0, entries: 3, entriesMissing: 3 }));
  assert.equal(s.uffd, '0x10');
  assert.equal(s.ctx_features, '0x0');
  assert.equal(s.mode, null, 'no mode without a modeOf');
  assert.equal(s.created_ns, null, 'created before tracing: null');
  assert.equal(summarizeUffd(stats({ ctxFeatures: 0x8000 }), (f) => (f & 0x8000 ? 'async' : 'sync')).mode, 'async');
  assert.deepEqual(s.fault_entries, { total: 3, missing: 3, wp: 0, minor: 0 });
  assert.deepEqual(s.wait, { count: 0, mean_ns: null, p50_ns: null, p90_ns: null, p99_ns: null, max_ns: null });
});

const HEAD = ['pid', 'uffd', 'created', 'mode', 'entries', 'missing', 'wp', 'minor', 'blocked', 'rewaits', 'wait p50', 'p90', 'p99', 'max', 'mean'];

function row(pid: number, total: number, wait: Partial<UffdWaitSummary['wait']> = {}): UffdWaitSummary {
  return {
    uffd: '0x' + (0xffff000000000000n + BigInt(pid)).toString(16),
    created_ns: null,
    pid,
    ctx_features: '0x0',
    mode: pid === 3 ? 'async' : pid === 2 ? 'sync' : null,
    fault_entries: { total, missing: total - 1, wp: 1, minor: 0 },
    blocked: Math.floor(total / 2),
    rewaits: 0,
    wait: { count: 0, mean_ns: null, p50_ns: null, p90_ns: null, p99_ns: null, max_ns: null, ...wait },
  };
}

test('formatInKernelTable: header names the columns, rows busiest first, us/ms durations', () => {
  const rows = [
    row(1, 5),
    row(2, 50, { count: 10, p50_ns: 1_500, p90_ns: 999_999, p99_ns: 1_000_000, max_ns: 2_500_000, mean_ns: 12_345.6 }),
    row(3, 20, { count: 1, p50_ns: 0, p90_ns: 7, p99_ns: 50, max_ns: 123_456_789, mean_ns: 999.9 }),
  ];
  const before = rows.map((r) => r.pid);
  const out = formatInKernelTable(rows);
  assert.deepEqual(rows.map((r) => r.pid), before, 'the input is not reordered');
  const lines = out.split('\n');
  assert.match(lines[0], /^in-kernel statistics/);
  const header = lines.findIndex((l) => l.trimStart().startsWith('pid'));
  assert.ok(header >= 0, 'a header line');
  assert.deepEqual(lines[header].trim().split(/\s{2,}/), HEAD);
  const body = lines.slice(header + 1);
  assert.equal(body.length, 3);
  assert.ok(!out.includes('(no uffd faults seen)'));
  const cells = body.map((l) => l.trim().split(/\s+/));
  assert.deepEqual(cells.map((c) => Number(c[0])), [2, 3, 1], 'busiest (most entries) first');
  assert.deepEqual(cells[0], ['2', '0xffff000000000002', '-', 'sync', '50', '49', '1', '0', '25', '0', '1.5us', '1000.0us', '1.00ms', '2.50ms', '12.3us']);
  assert.deepEqual(cells[1], ['3', '0xffff000000000003', '-', 'async', '20', '19', '1', '0', '10', '0', '0.0us', '0.0us', '0.1us', '123.46ms', '1.0us']);
  assert.deepEqual(cells[2], ['1', '0xffff000000000001', '-', '-', '5', '4', '1', '0', '2', '0', '-', '-', '-', '-', '-']);
  // columns line up: header and rows are the same width
  for (const l of body) assert.equal(l.length, lines[header].length, JSON.stringify(l));
});

test('formatInKernelTable: no rows prints the header and "(no uffd faults seen)"', () => {
  const lines = formatInKernelTable([]).split('\n');
  assert.equal(lines[lines.length - 1], '(no uffd faults seen)');
  assert.deepEqual(lines[lines.length - 2].trim().split(/\s{2,}/), HEAD);
});

test('formatInKernelTable: a full kernel map (USCOPE_MAX_STAT_UFFDS rows) warns that later uffds were not counted', () => {
  const row = (i: number): UffdWaitSummary => ({
    uffd: '0x' + (0xffff888100000000n + BigInt(i) * 0x100n).toString(16),
    created_ns: i,
    pid: 100,
    ctx_features: '0x0',
    mode: 'sync',
    fault_entries: { total: 1, missing: 1, wp: 0, minor: 0 },
    blocked: 0,
    rewaits: 0,
    wait: { count: 0, mean_ns: null, p50_ns: null, p90_ns: null, p99_ns: null, max_ns: null },
  });
  const full = formatInKernelTable(Array.from({ length: C.USCOPE_MAX_STAT_UFFDS }, (_, i) => row(i)));
  assert.match(full.split('\n').at(-1)!, /^WARNING: 16384 uffds counted, the most the kernel map holds/);
  const below = formatInKernelTable(Array.from({ length: 3 }, (_, i) => row(i)));
  assert.doesNotMatch(below, /WARNING/);
});

test('formatInKernelTable: a reused context address shows once per uffd, with its creation time after the start', () => {
  const base: UffdWaitSummary = {
    uffd: '0xffff888127d1b0c0',
    created_ns: null,
    pid: 7,
    ctx_features: '0x0',
    mode: 'sync',
    fault_entries: { total: 10, missing: 10, wp: 0, minor: 0 },
    blocked: 10,
    rewaits: 0,
    wait: { count: 10, mean_ns: 1000, p50_ns: 1000, p90_ns: 1000, p99_ns: 1000, max_ns: 1000 },
  };
  const out = formatInKernelTable([{ ...base, created_ns: 12_500_000_000 }, { ...base, created_ns: 11_000_000_000 }, base], 10_000_000_000);
  const body = out.split('\n').filter((l) => l.startsWith('7 '));
  assert.deepEqual(body.map((l) => l.trim().split(/\s+/)[2]), ['-', '1.000', '2.500'], 'same entries: before tracing first, then by creation');
});

test('summarizeUffd: a quantile never exceeds the largest wait (a bucket middle can)', () => {
  const hist = new Array<number>(WAIT_BUCKETS).fill(0);
  hist[waitBucket(219_900)] = 1;
  const s = summarizeUffd(stats({ waits: 1, waitSumNs: 219_900, waitMaxNs: 219_900, hist }));
  const [lo, hi] = bucketBounds(waitBucket(219_900));
  assert.ok((lo + hi - 1) / 2 > 219_900, 'the bucket middle lies above the sample');
  assert.equal(s.wait.p99_ns, 219_900);
  assert.equal(s.wait.p50_ns, 219_900);
});
