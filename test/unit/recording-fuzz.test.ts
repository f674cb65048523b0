// Fuzzing of the recording reader (seeded, deterministic): bit flips,
// truncations, inserted and deleted bytes, overwritten words and chunk
// headers that claim too many bytes (with a correct header checksum), on a
// small synthetic recording and on the real records of the mixed workload.
// Whatever the bytes, the reader
//   - throws nothing but RecordingFormatError, and that only when the
//     preamble (magic, version, header) is damaged;
//   - does bounded work: bytes read are linear in the file size and the
//     number of damaged ranges, and no read (so no buffer filled by one) is
//     larger than the file;
//   - delivers only chunks of the original, in order, and EVERY chunk whose
//     bytes survived intact, with the same events in it;
//   - accounts for every byte after the preamble: a delivered chunk, its
//     zero padding, or a reported damaged range.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import {
  CHUNK_HEADER_SIZE,
  CHUNK_RECORDS,
  MAX_CHUNK_PAYLOAD,
  RecordingFormatError,
  RecordingWriter,
  openRecording,
  readAllRecords,
  type RecordingChunk,
  type RecordingHeader,
  type RecordingStatus,
} from '../../src/recording/index.js';
import { SCAN_WINDOW } from '../../src/recording/reader.js';
import { crc32, recordsProblem } from '../../src/recording/format.js';
import { decodeRecords } from '../../src/events/decode.js';
import { resolveUapi } from '../../src/events/uapi.js';
import { projectRoot } from '../../src/paths.js';
import { rechunk } from '../fixtures/recordings/rechunk.js';

// thousands of small files: in memory where the host has a tmpfs
const tmp = fs.mkdtempSync(path.join(isWritableDir('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'uscope-fuzz-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const scratch = path.join(tmp, 'fuzz.uscope');

function isWritableDir(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}
const RUNS = Number(process.env.USCOPE_FUZZ_RUNS ?? 1500);
const SEED = 20261205;

// ------------------------------------------------------- counting reads

// The reader uses fs.readSync only; count what it asks for.
const cjsFs = createRequire(import.meta.url)('node:fs') as typeof fs;
const realReadSync = cjsFs.readSync;
const reads = { bytes: 0, largest: 0 };
cjsFs.readSync = ((fd: number, buf: NodeJS.ArrayBufferView, off: number, len: number, pos: number) => {
  reads.bytes += len;
  reads.largest = Math.max(reads.largest, len);
  return realReadSync(fd, buf, off, len, pos);
}) as typeof fs.readSync;
syncBuiltinESMExports();
test.after(() => {
  cjsFs.readSync = realReadSync;
  syncBuiltinESMExports();
});

// ------------------------------------------------------------- originals

function makeHeader(): RecordingHeader {
  return {
    format: 1,
    recordAbi: 1,
    tool: { name: 'uffdscope', version: '0.1.0' },
    kernel: { release: '6.8.0', version: '#1', machine: 'x86_64' },
    hostname: 'h',
    clock: { name: 'boottime', bootToRealtimeOffsetNs: 1.7e18, startedAtBootNs: 5 },
    createdAt: '2025-01-01T00:00:00.000Z',
    backend: 'test',
    selection: { pids: [], command: ['sh', '-c', 'true'], hostWide: false },
    uapi: { A: '0x1' },
    generated: { generator: 'fuzz', scenario: 'fuzz', seed: 1 },
    extra: {},
  };
}

function makeRecords(n: number, ts0: number, size = 48): Buffer {
  const b = Buffer.alloc(n * size);
  for (let i = 0; i < n; i++) {
    b.writeUInt16LE(99, i * size);
    b.writeUInt16LE(size, i * size + 2);
    b.writeBigUInt64LE(BigInt(ts0 + i), i * size + 8);
    for (let j = 40; j < size; j++) b[i * size + j] = (i * 7 + j) & 0xff;
  }
  return b;
}

interface Original {
  name: string;
  bytes: Buffer;
  dataOffset: number;
  chunks: RecordingChunk[];
  keys: string[];
  /** events decoded from each chunk (0 for chunks that are not records) */
  events: number[];
}

const uapi = resolveUapi();
/** A chunk's identity: kind, count, length and payload checksum. */
const key = (c: RecordingChunk) => `${c.kind}/${c.count}/${c.payload.byteLength}/${crc32(c.payload)}`;
const eventsIn = (c: RecordingChunk) => (c.kind === CHUNK_RECORDS ? decodeRecords(c.payload, uapi, () => {}, c.count).records : 0);

function original(name: string, file: string): Original {
  const rec = openRecording(file);
  const chunks = [...rec.chunks()];
  const st = rec.status();
  assert.equal(st.complete, true, `${name}: the original is complete`);
  assert.deepEqual(st.damage, [], `${name}: the original is undamaged`);
  return { name, bytes: fs.readFileSync(file), dataOffset: rec.dataOffset, chunks, keys: chunks.map(key), events: chunks.map(eventsIn) };
}

const synthetic = (() => {
  const f = path.join(tmp, 'synthetic.uscope');
  const w = RecordingWriter.create(f, makeHeader(), { chunkBytes: 256, flushIntervalMs: 60_000 });
  w.append(makeRecords(3, 1), 3);
  w.append(makeRecords(2, 10, 56), 2);
  w.writeCounters({ produced: 5, lost: 0 });
  w.append(makeRecords(1, 20, 104), 1);
  w.flush();
  w.append(makeRecords(4, 30), 4);
  w.close({ endedAtBootNs: 77, reason: 'completed' });
  return original('synthetic', f);
})();

// The mixed workload's real records, rewritten in 4 KiB chunks so that one
// file has many chunks to lose or keep.
const mixed = (() => {
  const src = path.join(projectRoot, 'test', 'fixtures', 'recordings', 'mixed.uscope');
  const f = path.join(tmp, 'mixed-4k.uscope');
  rechunk(src, f, 4096);
  const all = readAllRecords(src);
  const o = original('mixed', f);
  assert.equal(o.events.reduce((a, b) => a + b, 0), all.count, 'every record of the fixture decodes to an event');
  assert.ok(o.chunks.length > 50, `mixed: ${o.chunks.length} chunks`);
  return o;
})();

// ------------------------------------------------------------- mutations

/** A mutated file and, per byte, the original offset it came from unchanged (-1: inserted or changed). */
interface Mutated {
  bytes: Buffer;
  origin: Int32Array;
}

type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; byte: number }
  | { op: 'truncate'; at: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; len: number }
  | { op: 'word'; at: number; value: number }
  | { op: 'longLength'; chunk: number; excess: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }) },
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte: fc.nat({ max: 255 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  { weight: 2, arbitrary: fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }) },
  fc.record({
    op: fc.constant('word' as const),
    at: fc.nat(),
    value: fc.oneof(fc.constant(0), fc.constant(0xffffffff), fc.constant(0x4b4e4843), fc.nat()),
  }),
  // a chunk header that claims more payload than there is, with its header checksum made right
  fc.record({
    op: fc.constant('longLength' as const),
    chunk: fc.nat(),
    excess: fc.oneof(fc.integer({ min: 1, max: 4096 }), fc.constant(MAX_CHUNK_PAYLOAD), fc.constant(0xffffffff)),
  }),
);

function apply(m0: Mutated, m: Mutation, o: Original): Mutated {
  const { bytes: b, origin } = m0;
  const at = m.op === 'longLength' ? 0 : b.length === 0 ? 0 : m.at % (b.length + 1);
  switch (m.op) {
    case 'flip':
    case 'set':
      if (b.length) {
        const i = m.at % b.length;
        b[i] = m.op === 'flip' ? b[i]! ^ (1 << m.bit) : m.byte;
        origin[i] = -1;
      }
      return m0;
    case 'word':
      if (at + 4 <= b.length) {
        b.writeUInt32LE(m.value >>> 0, at);
        origin.fill(-1, at, at + 4);
      }
      return m0;
    case 'truncate':
      return { bytes: b.subarray(0, at), origin: origin.subarray(0, at) };
    case 'insert': {
      const ins = new Int32Array(m.bytes.length).fill(-1);
      return { bytes: Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]), origin: concat([origin.subarray(0, at), ins, origin.subarray(at)]) };
    }
    case 'delete':
      return { bytes: Buffer.concat([b.subarray(0, at), b.subarray(at + m.len)]), origin: concat([origin.subarray(0, at), origin.subarray(at + m.len)]) };
    case 'longLength': {
      // the chunk's header, wherever it is now, if still whole
      const c = o.chunks[m.chunk % o.chunks.length]!;
      const p = origin.indexOf(c.offset);
      if (p < 0 || p + CHUNK_HEADER_SIZE > b.length || origin[p + CHUNK_HEADER_SIZE - 1] !== c.offset + CHUNK_HEADER_SIZE - 1) return m0;
      const len = Math.min(0xffffffff, c.payload.byteLength + m.excess);
      b.writeUInt32LE(len, p + 8);
      b.writeUInt32LE(crc32(b.subarray(p, p + 28)), p + 28);
      origin.fill(-1, p + 8, p + 12);
      origin.fill(-1, p + 28, p + 32);
      return m0;
    }
  }
}

function concat(parts: Int32Array[]): Int32Array {
  const out = new Int32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function fresh(o: Original): Mutated {
  const origin = new Int32Array(o.bytes.length);
  for (let i = 0; i < origin.length; i++) origin[i] = i;
  return { bytes: Buffer.from(o.bytes), origin };
}

/** Original chunks whose header and payload are still in the file, contiguous and unchanged. */
function intactChunks(o: Original, m: Mutated): number[] {
  const where = new Int32Array(o.bytes.length).fill(-1);
  for (let p = 0; p < m.origin.length; p++) if (m.origin[p]! >= 0) where[m.origin[p]!] = p;
  const out: number[] = [];
  for (const [i, c] of o.chunks.entries()) {
    const span = CHUNK_HEADER_SIZE + c.payload.byteLength;
    const p = where[c.offset]!;
    if (p < 0 || p + span > m.origin.length) continue;
    let whole = true;
    for (let k = 1; k < span && whole; k++) whole = m.origin[p + k] === c.offset + k;
    if (whole) out.push(i);
  }
  return out;
}

// ------------------------------------------------------------------ read

interface Outcome {
  error?: RecordingFormatError;
  chunks: RecordingChunk[];
  status?: RecordingStatus;
}

/** Reads `bytes` as a recording; anything but RecordingFormatError propagates and fails the property. */
function read(bytes: Uint8Array): Outcome {
  fs.writeFileSync(scratch, bytes);
  reads.bytes = 0;
  reads.largest = 0;
  const chunks: RecordingChunk[] = [];
  let rec;
  try {
    rec = openRecording(scratch);
  } catch (e) {
    if (e instanceof RecordingFormatError) return { error: e, chunks };
    throw e;
  }
  const it = rec.chunks();
  let r = it.next();
  while (!r.done) {
    chunks.push(r.value);
    r = it.next();
  }
  const status = r.value;
  // bounded work: linear in the size and the number of damaged ranges; no read larger than the file
  const size = bytes.length;
  const ranges = status.damage.length;
  assert.ok(reads.bytes <= (3 + ranges) * size + ranges * SCAN_WINDOW + 4096, `read ${reads.bytes} bytes of a ${size}-byte file with ${ranges} damaged ranges`);
  assert.ok(reads.largest <= Math.max(size, CHUNK_HEADER_SIZE), `one read of ${reads.largest} bytes from a ${size}-byte file`);
  return { chunks, status };
}

/** What a read must satisfy whatever the input. */
function checkConsistent(o: Outcome, bytes: Uint8Array, dataOffset: number): void {
  const st = o.status!;
  assert.equal(st.chunks, o.chunks.length);
  assert.equal(st.records, o.chunks.reduce((a, c) => a + c.count, 0));
  for (const c of o.chunks) if (c.kind === CHUNK_RECORDS) assert.equal(recordsProblem(c.payload, c.count, 1), null);
  // every byte after the preamble: a delivered chunk, its zero padding (< 8 bytes), or a damaged range
  const spans = [
    ...o.chunks.map((c) => ({ at: c.offset, end: c.offset + CHUNK_HEADER_SIZE + c.payload.byteLength, what: 'chunk' })),
    ...st.damage.map((d) => ({ at: d.offset, end: d.offset + d.length, what: `damage (${d.reason})` })),
  ].sort((a, b) => a.at - b.at);
  let pos = dataOffset;
  for (const s of spans) {
    assert.ok(s.at >= pos, `${s.what} at ${s.at} overlaps what ends at ${pos}`);
    assert.ok(s.end > s.at, `${s.what} at ${s.at} is empty`);
    assert.ok(s.at - pos < 8 && bytes.subarray(pos, s.at).every((x) => x === 0), `bytes ${pos}-${s.at} are neither read nor reported`);
    pos = s.end;
  }
  assert.ok(bytes.length - pos < 8 && bytes.subarray(pos).every((x) => x === 0), `bytes ${pos}-${bytes.length} at the end are neither read nor reported`);
  for (const d of st.damage) {
    assert.equal(typeof d.reason, 'string');
    assert.ok(d.held === 'unknown' ? d.records === null : Number.isInteger(d.records), `held "${d.held}" with records ${d.records}`);
  }
  if (st.complete) assert.ok(st.trailer);
}


/** The damaged file against its original: only original chunks, in order, and every intact one with its events. */
function checkRecovery(o: Original, m: Mutated, out: Outcome): void {
  const preambleIntact = m.bytes.length >= o.dataOffset && m.bytes.subarray(0, o.dataOffset).equals(o.bytes.subarray(0, o.dataOffset));
  if (out.error) {
    assert.ok(!preambleIntact, `a format error although the preamble is intact: ${out.error.message}`);
    return;
  }
  checkConsistent(out, m.bytes, o.dataOffset);
  const origKeys = o.keys;
  const got = out.chunks.map(key);
  // delivered: original chunks in their order
  let j = 0;
  const matched: number[] = [];
  for (const k of got) {
    while (j < origKeys.length && origKeys[j] !== k) j++;
    assert.ok(j < origKeys.length, 'a delivered chunk is not an original chunk in order');
    matched.push(j++);
  }
  // every intact chunk delivered, with the same events
  const delivered = new Set(matched);
  for (const i of intactChunks(o, m)) {
    assert.ok(delivered.has(i), `${o.name}: intact chunk ${i} (file offset ${o.chunks[i]!.offset}) was not recovered`);
  }
  for (const [n, i] of matched.entries()) assert.equal(eventsIn(out.chunks[n]!), o.events[i], `${o.name}: events of chunk ${i}`);
  const lostEvents = o.events.filter((_, i) => !delivered.has(i)).reduce((a, b) => a + b, 0);
  const knownLost = out.status!.damage.reduce((a, d) => a + (d.records ?? 0), 0);
  // records counted from intact headers of skipped chunks were really lost
  assert.ok(knownLost <= lostEvents, `${knownLost} records reported lost, ${lostEvents} lost`);
}

// ------------------------------------------------------------------ tests

test('fuzz: random bytes, with and without a valid magic', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (bytes, withMagic) => {
      const b = Buffer.from(bytes);
      if (withMagic) Buffer.from('USCOPE\r\n\x01\x00\x00\x00').copy(b);
      const out = read(b);
      if (!out.error) checkConsistent(out, b, openRecording(scratch).dataOffset);
    }),
    { numRuns: RUNS, seed: SEED },
  );
});

test('fuzz: a valid preamble and some chunks, then random bytes', () => {
  const o = synthetic;
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat({ max: o.chunks.length }), (tail, keep) => {
      const realEnd = keep < o.chunks.length ? o.chunks[keep]!.offset : o.bytes.length;
      const b = Buffer.concat([o.bytes.subarray(0, realEnd), tail]);
      const out = read(b);
      assert.equal(out.error, undefined, 'a good preamble never throws');
      checkConsistent(out, b, o.dataOffset);
      assert.deepEqual(out.chunks.slice(0, keep).map(key), o.keys.slice(0, keep));
    }),
    { numRuns: RUNS, seed: SEED },
  );
});

for (const o of [synthetic, mixed]) {
  const runs = o === mixed ? Math.ceil(RUNS / 8) : RUNS;

  test(`fuzz ${o.name}: bit flips lose exactly the chunks they hit`, () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: o.bytes.length - 1 }), fc.nat({ max: 7 })), { minLength: 1, maxLength: 20 }), (flips) => {
        const m = fresh(o);
        for (const [at, bit] of flips) apply(m, { op: 'flip', at, bit }, o);
        const out = read(m.bytes);
        const firstChanged = m.bytes.findIndex((x, i) => x !== o.bytes[i]);
        if (out.error) {
          assert.ok(firstChanged >= 0 && firstChanged < o.dataOffset, `format error for damage after the preamble: ${out.error.message}`);
          return;
        }
        checkRecovery(o, m, out);
        // flips change no length: the chunks not hit are exactly the ones delivered
        const hit = (c: RecordingChunk) => flips.some(([at]) => at >= c.offset && at < c.offset + CHUNK_HEADER_SIZE + c.payload.byteLength && m.bytes[at] !== o.bytes[at]);
        assert.deepEqual(out.chunks.map((c) => c.offset), o.chunks.filter((c) => !hit(c)).map((c) => c.offset));
        assert.equal(out.status!.complete, !hit(o.chunks.at(-1)!), 'complete exactly when the trailer was not hit');
      }),
      { numRuns: runs, seed: SEED },
    );
  });

  test(`fuzz ${o.name}: truncations, insertions, deletions, overwritten words, over-long lengths`, () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 6 }), (muts) => {
        let m = fresh(o);
        for (const x of muts) m = apply(m, x, o);
        checkRecovery(o, m, read(m.bytes));
      }),
      { numRuns: runs, seed: SEED },
    );
  });
}

test('a header claiming 4 GiB of payload with a correct checksum: skipped, nothing of that size allocated', () => {
  const m = fresh(mixed);
  apply(m, { op: 'longLength', chunk: 3, excess: 0xffffffff }, mixed);
  const out = read(m.bytes);
  checkRecovery(mixed, m, out);
  assert.equal(out.chunks.length, mixed.chunks.length - 1);
  assert.deepEqual(
    out.status!.damage.map((d) => [d.offset, d.records]),
    [[mixed.chunks[3]!.offset, mixed.chunks[3]!.count]],
  );
  assert.match(out.status!.damage[0]!.reason, /claims 4294967295 payload bytes \(limit/);
});
