// Property-based fuzzing of the recording reader: whatever the bytes, it
// either throws RecordingFormatError or delivers a valid prefix (good chunks
// of the original, in order) with a consistent status; nothing else, and it
// always terminates.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import {
  BUILD_RECORD_ABI,
  CHUNK_RECORDS,
  CHUNK_TRAILER,
  RecordingFormatError,
  RecordingWriter,
  openRecording,
  type RecordingChunk,
  type RecordingHeader,
  type RecordingStatus,
} from '../../src/recording/index.js';
import { recordsProblem } from '../../src/recording/format.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'uscope-fuzz-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const scratch = path.join(tmp, 'fuzz.uscope');
const NUM_RUNS = Number(process.env.USCOPE_FUZZ_RUNS ?? 2000);
const stats = { error: 0, complete: 0, truncated: 0, clean: 0 };
test.after(() => {
  if (process.env.USCOPE_FUZZ_STATS) console.error('fuzz outcomes', stats);
});

function makeHeader(): RecordingHeader {
  return {
    format: 1,
    recordAbi: BUILD_RECORD_ABI,
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

const validFile = (() => {
  const f = path.join(tmp, 'valid.uscope');
  const w = RecordingWriter.create(f, makeHeader(), { chunkBytes: 256, flushIntervalMs: 60_000 });
  w.append(makeRecords(3, 1), 3);
  w.append(makeRecords(2, 10, 56), 2);
  w.writeCounters({ produced: 5, lost: 0 });
  w.append(makeRecords(1, 20, 104), 1);
  w.flush();
  w.append(makeRecords(4, 30), 4);
  w.close({ endedAtBootNs: 77, reason: 'completed' });
  return fs.readFileSync(f);
})();
const dataOffset = openRecording(path.join(tmp, 'valid.uscope')).dataOffset;

interface Outcome {
  error?: RecordingFormatError;
  chunks: RecordingChunk[];
  status?: RecordingStatus;
}

/** Reads `bytes` as a recording; anything but RecordingFormatError propagates. */
function read(bytes: Uint8Array): Outcome {
  fs.writeFileSync(scratch, bytes);
  const chunks: RecordingChunk[] = [];
  let rec;
  try {
    rec = openRecording(scratch);
  } catch (e) {
    if (e instanceof RecordingFormatError) {
      stats.error++;
      return { error: e, chunks };
    }
    throw e;
  }
  const it = rec.chunks();
  let r = it.next();
  let guard = 0;
  while (!r.done) {
    chunks.push(r.value);
    assert.ok(++guard < 10_000, 'reader does not terminate');
    r = it.next();
  }
  const st = r.value;
  stats[st.complete ? 'complete' : st.truncated ? 'truncated' : 'clean']++;
  return { chunks, status: st };
}

const key = (c: RecordingChunk) => `${c.kind}/${c.count}/${Buffer.from(c.payload).toString('hex')}`;
const origChunks = read(validFile).chunks;
const origKeys = origChunks.map(key);

/** Checks the invariants of a successful read. */
function checkConsistent(o: Outcome, size: number): void {
  const st = o.status!;
  assert.equal(st.chunks, o.chunks.length);
  assert.equal(st.records, o.chunks.reduce((a, c) => a + c.count, 0));
  let prevEnd = -1;
  for (const c of o.chunks) {
    assert.ok(c.offset > prevEnd);
    prevEnd = c.offset;
    if (c.kind === CHUNK_RECORDS) assert.equal(recordsProblem(c.payload, c.count), null);
  }
  if (st.complete) {
    assert.equal(st.truncated, null);
    assert.equal(o.chunks.at(-1)!.kind, CHUNK_TRAILER);
    assert.ok(st.trailer);
    assert.equal(st.goodBytes, size);
  }
  if (st.truncated) {
    assert.equal(st.truncated.offset, st.goodBytes);
    assert.ok(st.truncated.offset < size);
    assert.equal(typeof st.truncated.reason, 'string');
  } else if (!st.complete) {
    assert.equal(st.goodBytes, size, 'a clean stop is at the end of the file');
  }
}

function isSubsequence(keys: string[], of: string[]): boolean {
  let j = 0;
  for (const k of keys) {
    while (j < of.length && of[j] !== k) j++;
    if (j === of.length) return false;
    j++;
  }
  return true;
}

test('fuzz: random bytes', { timeout: 120_000 }, () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (bytes, withMagic) => {
      const b = Buffer.from(bytes);
      if (withMagic) Buffer.from('USCOPE\r\n\x01\x00\x00\x00').copy(b);
      const o = read(b);
      if (!o.error) checkConsistent(o, b.length);
    }),
    { numRuns: NUM_RUNS },
  );
});

test('fuzz: valid header followed by random bytes', { timeout: 120_000 }, () => {
  const head = validFile.subarray(0, dataOffset);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat({ max: origChunks.length }), (tail, keep) => {
      // some real chunks, then garbage
      const realEnd = keep === 0 ? dataOffset : keep < origChunks.length ? origChunks[keep]!.offset : validFile.length;
      const b = Buffer.concat([head, validFile.subarray(dataOffset, realEnd), tail]);
      const o = read(b);
      assert.equal(o.error, undefined, 'a good header never throws');
      checkConsistent(o, b.length);
      assert.deepEqual(o.chunks.slice(0, keep).map(key), origKeys.slice(0, keep));
      if (tail.length > 0 && o.chunks.length === keep) assert.ok(o.status!.truncated);
    }),
    { numRuns: NUM_RUNS },
  );
});

test('fuzz: bit flips in a valid file give a strict prefix or a format error', { timeout: 120_000 }, () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat({ max: validFile.length - 1 }), fc.nat({ max: 7 })), { minLength: 1, maxLength: 3 }),
      (flips) => {
        const b = Buffer.from(validFile);
        for (const [pos, bit] of flips) b[pos]! ^= 1 << bit;
        const o = read(b);
        let first = 0;
        while (first < b.length && b[first] === validFile[first]) first++;
        if (o.error) {
          assert.ok(first < dataOffset, `format error for damage at ${first} after the header: ${o.error.message}`);
          return;
        }
        checkConsistent(o, b.length);
        const keys = o.chunks.map(key);
        assert.deepEqual(keys, origKeys.slice(0, keys.length), 'strict prefix');
        if (first === b.length) return; // flips cancelled out
        assert.equal(o.status!.complete, false);
        assert.ok(o.status!.truncated);
        // reading stops at the chunk holding the first damaged byte
        const stopAt = [...origChunks].reverse().find((c) => c.offset <= first)!;
        assert.equal(o.status!.truncated.offset, stopAt.offset);
      },
    ),
    { numRuns: NUM_RUNS },
  );
});

type Mutation =
  | { op: 'set'; at: number; byte: number }
  | { op: 'truncate'; at: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; len: number }
  | { op: 'word'; at: number; value: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte: fc.nat({ max: 255 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }),
  fc.record({
    op: fc.constant('word' as const),
    at: fc.nat(),
    value: fc.oneof(fc.constant(0), fc.constant(0xffffffff), fc.constant(0x4b4e4843), fc.nat()),
  }),
);

function apply(buf: Buffer, m: Mutation): Buffer {
  const at = buf.length === 0 ? 0 : m.at % (buf.length + 1);
  switch (m.op) {
    case 'set':
      if (buf.length) buf[m.at % buf.length] = m.byte;
      return buf;
    case 'truncate':
      return buf.subarray(0, at);
    case 'insert':
      return Buffer.concat([buf.subarray(0, at), m.bytes, buf.subarray(at)]);
    case 'delete':
      return Buffer.concat([buf.subarray(0, at), buf.subarray(at + m.len)]);
    case 'word':
      if (at + 4 <= buf.length) buf.writeUInt32LE(m.value >>> 0, at);
      return buf;
  }
}

test('fuzz: random mutations of a valid file', { timeout: 120_000 }, () => {
  fc.assert(
    fc.property(fc.array(mutation, { minLength: 1, maxLength: 5 }), (muts) => {
      let b: Buffer = Buffer.from(validFile);
      for (const m of muts) b = apply(b, m);
      const o = read(b);
      if (o.error) return;
      checkConsistent(o, b.length);
      // Everything delivered is an original chunk, in the original order
      // (a deletion of exactly one whole chunk may skip it).
      assert.ok(isSubsequence(o.chunks.map(key), origKeys), 'delivered chunks come from the original');
    }),
    { numRuns: NUM_RUNS },
  );
});
