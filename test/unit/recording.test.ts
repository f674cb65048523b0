import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  FORMAT_VERSION,
  BUILD_RECORD_ABI,
  CHUNK_COUNTERS,
  CHUNK_HEADER_SIZE,
  CHUNK_RECORDS,
  CHUNK_TRAILER,
  MAGIC,
  RecordingFormatError,
  RecordingWriter,
  openRecording,
  readAllRecords,
  type RecordingChunk,
  type RecordingHeader,
  type RecordingStatus,
} from '../../src/recording/index.js';
import { crc32 } from '../../src/recording/format.js';

// ------------------------------------------------------------------ helpers

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'uscope-rec-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let seq = 0;
const tmpFile = (name = 'r') => path.join(tmp, `${name}-${seq++}.uscope`);

function makeHeader(over: Partial<RecordingHeader> = {}): RecordingHeader {
  return {
    format: 1,
    recordAbi: 1,
    tool: { name: 'uffdscope', version: '0.1.0' },
    kernel: { release: '6.8.0-test', version: '#1 SMP', machine: 'x86_64' },
    hostname: 'testhost',
    clock: { name: 'boottime', bootToRealtimeOffsetNs: 1_700_000_000_000_000_000, startedAtBootNs: 123_456_789 },
    createdAt: '2025-01-02T03:04:05.678Z',
    backend: 'test',
    selection: { pids: [42, 43], command: null, hostWide: false },
    uapi: { UFFDIO_COPY: '0xc028aa03', UFFD_EVENT_PAGEFAULT: '0x12' },
    generated: null,
    extra: { note: 'unit test', nested: { a: [1, 2, 3] } },
    ...over,
  };
}

/** `n` synthetic records (type 99) of `size` bytes, ts from `ts0`. */
function makeRecords(n: number, ts0 = 1000, size = 48): Buffer {
  const b = Buffer.alloc(n * size);
  for (let i = 0; i < n; i++) {
    const o = i * size;
    b.writeUInt16LE(99, o);
    b.writeUInt16LE(size, o + 2);
    b.writeUInt32LE(i % 4, o + 4);
    b.writeBigUInt64LE(BigInt(ts0 + i), o + 8);
    b.writeUInt32LE(4242, o + 16);
    b.writeUInt32LE(4243, o + 20);
    b.write('synthetic', o + 24, 'latin1');
    for (let j = 40; j < size; j++) b[o + j] = (i + j) & 0xff;
  }
  return b;
}

interface Drained {
  chunks: RecordingChunk[];
  status: RecordingStatus;
}

function drain(file: string): Drained {
  const rec = openRecording(file);
  const chunks: RecordingChunk[] = [];
  const it = rec.chunks();
  let r = it.next();
  while (!r.done) {
    chunks.push(r.value);
    r = it.next();
  }
  return { chunks, status: r.value };
}

function preamble(json: string, version = 1): Buffer {
  const j = Buffer.from(json, 'utf8');
  const end = 16 + j.length + 4;
  const b = Buffer.alloc(end + ((8 - (end & 7)) & 7));
  MAGIC.copy(b);
  b.writeUInt32LE(version, 8);
  b.writeUInt32LE(j.length, 12);
  j.copy(b, 16);
  b.writeUInt32LE(crc32(j), 16 + j.length);
  return b;
}

function expectFormatError(file: string, code: string, re: RegExp, field?: string): RecordingFormatError {
  let caught: unknown;
  try {
    openRecording(file);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof RecordingFormatError, `expected RecordingFormatError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.match(caught.message, re);
  assert.ok(caught.message.startsWith(file + ': '), caught.message);
  assert.ok(!caught.message.includes('\n'), 'one-line message');
  if (field !== undefined) assert.equal(caught.field, field);
  return caught;
}

/** A small file: 3 record chunks, counters, 1 record chunk, counters, trailer. */
function smallFile(): { file: string; appended: Buffer; count: number } {
  const file = tmpFile('small');
  const w = RecordingWriter.create(file, makeHeader(), { chunkBytes: 4096, flushIntervalMs: 60_000 });
  const parts: Buffer[] = [];
  let count = 0;
  const add = (b: Buffer, n: number) => {
    w.append(b, n);
    parts.push(b);
    count += n;
  };
  add(makeRecords(2, 10), 2);
  w.flush();
  add(makeRecords(1, 20, 56), 1);
  add(makeRecords(1, 21, 104), 1);
  w.flush();
  add(makeRecords(3, 30), 3);
  w.writeCounters({ produced: 7, lost: 0 });
  add(makeRecords(1, 40), 1);
  w.writeCounters({ produced: 8, lost: 1 });
  w.close({ endedAtBootNs: 999, reason: 'completed' });
  return { file, appended: Buffer.concat(parts), count };
}

// -------------------------------------------------------------------- tests

test('round trip: records byte-identical, counts, header, counters, trailer', () => {
  const file = tmpFile();
  const header = makeHeader();
  const w = RecordingWriter.create(file, header, { chunkBytes: 4096, flushIntervalMs: 60_000 });
  const parts: Buffer[] = [];
  let count = 0;
  for (let i = 0; i < 300; i++) {
    const n = 1 + (i % 7);
    const size = [48, 56, 104][i % 3]!;
    const b = makeRecords(n, i * 100, size);
    w.append(b, n);
    parts.push(b);
    count += n;
    if (i === 150) w.writeCounters({ produced: count, lost: 3, perCpu: [1, 2] });
  }
  w.writeCounters({ produced: count, lost: 5 });
  assert.equal(w.recordsWritten, count);
  const trailer = w.close({ endedAtBootNs: 123_999_999, reason: 'completed', note: 'x' });
  assert.deepEqual(trailer, { endedAtBootNs: 123_999_999, reason: 'completed', note: 'x', events: count });
  assert.equal(w.bytesWritten, fs.statSync(file).size);
  assert.ok(w.chunksWritten > 5);

  const all = readAllRecords(file);
  assert.deepEqual(all.header, header);
  assert.equal(all.count, count);
  assert.ok(all.records.equals(Buffer.concat(parts)), 'records byte-identical');
  assert.equal(all.status.complete, true);
  assert.deepEqual(all.status.damage, []);
  assert.equal(all.status.records, count);
  assert.equal(all.status.chunks, w.chunksWritten);
  assert.deepEqual(all.status.trailer, trailer);
  assert.deepEqual(all.status.counters, { produced: count, lost: 5 });

  const { chunks } = drain(file);
  assert.equal(chunks.at(-1)!.kind, CHUNK_TRAILER);
  assert.equal(chunks.filter((c) => c.kind === CHUNK_COUNTERS).length, 2);
  for (const c of chunks) {
    assert.equal(c.offset % 8, 0);
    assert.ok(c.payload.byteLength <= 4096);
    if (c.kind === CHUNK_RECORDS) {
      assert.ok(c.count > 0);
      assert.equal(c.firstTsNs, Buffer.from(c.payload.buffer, c.payload.byteOffset, 16).readBigUInt64LE(8));
    }
  }
  // status() without an explicit iteration
  assert.deepEqual(openRecording(file).status(), all.status);
});

test('generated recordings say so in the header', () => {
  const file = tmpFile();
  const header = makeHeader({ generated: { generator: 'synthetic', scenario: 'storm', seed: 7 } });
  const w = RecordingWriter.create(file, header);
  w.append(makeRecords(5), 5);
  w.close({ endedAtBootNs: 1, reason: 'completed' });
  assert.deepEqual(openRecording(file).header.generated, { generator: 'synthetic', scenario: 'storm', seed: 7 });
});

test('file is created with mode 0600, even over an existing file and with umask 0', () => {
  const old = process.umask(0);
  try {
    const file = tmpFile();
    RecordingWriter.create(file, makeHeader()).close({ endedAtBootNs: 1, reason: 'completed' });
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const existing = tmpFile();
    fs.writeFileSync(existing, 'old', { mode: 0o644 });
    assert.throws(() => RecordingWriter.create(existing, makeHeader()), { code: 'EEXIST' });
    assert.equal(fs.readFileSync(existing, 'utf8'), 'old');
    RecordingWriter.create(existing, makeHeader(), { overwrite: true }).close({ endedAtBootNs: 1, reason: 'completed' });
    assert.equal(fs.statSync(existing).mode & 0o777, 0o600);
    assert.equal(drain(existing).status.complete, true);
  } finally {
    process.umask(old);
  }
});

test('writer refuses bad input', () => {
  const file = tmpFile();
  assert.throws(() => RecordingWriter.create(file, { ...makeHeader(), hostname: 5 } as never), /hostname/);
  assert.equal(fs.existsSync(file), false, 'no file for an invalid header');
  assert.throws(() => RecordingWriter.create(file, makeHeader(), { chunkBytes: 1 }), RangeError);
  const w = RecordingWriter.create(file, makeHeader());
  assert.throws(() => w.append(makeRecords(3), 2), /3 records but the chunk says 2/);
  assert.throws(() => w.append(makeRecords(3).subarray(0, 100), 2), /cut short|runs past/);
  const bad = makeRecords(1);
  bad.writeUInt16LE(44, 2);
  assert.throws(() => w.append(bad, 1), /impossible size 44/);
  w.append(Buffer.alloc(0), 0);
  w.close({ endedAtBootNs: 1, reason: 'completed' });
  assert.throws(() => w.append(makeRecords(1), 1), /closed/);
  assert.equal(readAllRecords(file).count, 0);
});

test('chunkBytes: chunks are written when the buffer fills; a bigger batch is split at record boundaries; no records chunk exceeds chunkBytes', () => {
  const file = tmpFile();
  const w = RecordingWriter.create(file, makeHeader(), { chunkBytes: 480, flushIntervalMs: 60_000 });
  w.append(makeRecords(5), 5); // 240 bytes
  assert.equal(w.chunksWritten, 0);
  assert.equal(w.pendingRecords, 5);
  w.append(makeRecords(5, 10), 5); // 480: full
  assert.equal(w.chunksWritten, 1);
  assert.equal(w.recordsWritten, 10);
  w.append(makeRecords(2, 20), 2);
  w.append(makeRecords(20, 30), 20); // 960 bytes: 8 fill the chunk of the 2, 10 the next, 2 wait
  assert.equal(w.chunksWritten, 3);
  assert.equal(w.recordsWritten, 30);
  assert.equal(w.pendingRecords, 2);
  w.close({ endedAtBootNs: 1, reason: 'completed' });
  const { chunks, status } = drain(file);
  assert.deepEqual(chunks.map((c) => c.count), [10, 10, 10, 2, 0]);
  assert.deepEqual(chunks.map((c) => c.firstTsNs), [1000n, 20n, 38n, 48n, 0n]);
  assert.equal(status.records, 32);
});

test('chunkBytes: a record larger than chunkBytes is a chunk of its own, in order', () => {
  const file = tmpFile();
  const w = RecordingWriter.create(file, makeHeader(), { chunkBytes: 64, flushIntervalMs: 60_000 });
  w.append(makeRecords(1, 5), 1); // 48 bytes, buffered
  w.append(Buffer.concat([makeRecords(1, 6, 96), makeRecords(1, 7), makeRecords(1, 8, 128)]), 3);
  w.close({ endedAtBootNs: 1, reason: 'completed' });
  const { chunks } = drain(file);
  assert.deepEqual(chunks.map((c) => [c.count, c.firstTsNs, c.payload.byteLength]), [[1, 5n, 48], [1, 6n, 96], [1, 7n, 48], [1, 8n, 128], [0, 0n, chunks[4].payload.byteLength]]);
});

test('flushIntervalMs: buffered records reach the file without further appends', async () => {
  const file = tmpFile();
  const w = RecordingWriter.create(file, makeHeader(), { flushIntervalMs: 40 });
  w.append(makeRecords(3), 3);
  assert.equal(drain(file).status.records, 0);
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(w.recordsWritten, 3);
  const { status } = drain(file);
  assert.equal(status.records, 3);
  assert.equal(status.complete, false);
  assert.deepEqual(status.damage, []);
  w.close({ endedAtBootNs: 1, reason: 'completed' });
});

test('abort(): flushes without a trailer, reads as not complete', () => {
  const file = tmpFile();
  const w = RecordingWriter.create(file, makeHeader(), { flushIntervalMs: 60_000 });
  w.append(makeRecords(4), 4);
  w.abort();
  w.abort();
  const all = readAllRecords(file);
  assert.equal(all.count, 4);
  assert.equal(all.status.complete, false);
  assert.deepEqual(all.status.damage, []);
  assert.equal(all.status.trailer, null);
});

test('truncation at every byte offset reads as a valid prefix and reports the cut-off tail', () => {
  const { file } = smallFile();
  const full = fs.readFileSync(file);
  const rec = openRecording(file);
  const orig = drain(file).chunks;
  assert.equal(orig.length, 7);
  const ends = orig.map((c) => c.offset + CHUNK_HEADER_SIZE + c.payload.byteLength + ((8 - (c.payload.byteLength & 7)) & 7));
  const payloadEnds = orig.map((c) => c.offset + CHUNK_HEADER_SIZE + c.payload.byteLength);
  assert.equal(ends.at(-1), full.length);
  const cut = path.join(tmp, 'cut.uscope');
  for (let len = 0; len <= full.length; len++) {
    fs.writeFileSync(cut, full.subarray(0, len));
    if (len < rec.dataOffset) {
      assert.throws(
        () => drain(cut),
        (e: unknown) => e instanceof RecordingFormatError && (e.code === 'header-truncated' || e.code === 'empty'),
        `len ${len}`,
      );
      continue;
    }
    const { chunks, status } = drain(cut);
    // a chunk whose zero padding is cut off has all its data
    const expected = orig.filter((_, i) => payloadEnds[i]! <= len);
    assert.deepEqual(
      chunks.map((c) => [c.kind, c.count, c.offset, Buffer.from(c.payload).toString('hex')]),
      expected.map((c) => [c.kind, c.count, c.offset, Buffer.from(c.payload).toString('hex')]),
      `len ${len}`,
    );
    const goodEnd = expected.length ? Math.min(len, ends[expected.length - 1]!) : rec.dataOffset;
    const boundary = len === goodEnd;
    assert.equal(status.complete, expected.length === orig.length, `len ${len}`);
    if (boundary) {
      assert.deepEqual(status.damage, [], `len ${len}`);
    } else {
      // the partial chunk is one range to the end of the file; its header tells what it held once the header is whole
      const cutChunk = orig[expected.length]!;
      const headerWhole = len - goodEnd >= CHUNK_HEADER_SIZE;
      assert.equal(status.damage.length, 1, `len ${len}`);
      const d = status.damage[0]!;
      assert.deepEqual([d.offset, d.length], [goodEnd, len - goodEnd], `len ${len}`);
      assert.match(d.reason, headerWhole ? /cut short/ : /ends inside a chunk header/, `len ${len}`);
      assert.equal(d.records, headerWhole ? (cutChunk.kind === CHUNK_RECORDS ? cutChunk.count : 0) : null, `len ${len}`);
      if (!headerWhole) assert.equal(d.held, 'unknown');
    }
    assert.equal(status.records, expected.reduce((a, c) => a + c.count, 0));
  }
});

test('a bit flip in a chunk costs that chunk only: the rest is read and the skipped range is reported', () => {
  const { file } = smallFile();
  const orig = drain(file).chunks;
  const victim = orig[2]!; // third records chunk
  const victimBytes = orig[3]!.offset - victim.offset;
  const rest = orig.filter((c) => c !== victim);
  const records = (cs: RecordingChunk[]) => cs.reduce((a, c) => a + c.count, 0);
  const buf = fs.readFileSync(file);
  buf[victim.offset + CHUNK_HEADER_SIZE + 17]! ^= 0x10;
  const bad = tmpFile('flip');
  fs.writeFileSync(bad, buf);
  const { chunks, status } = drain(bad);
  assert.deepEqual(chunks.map((c) => c.offset), rest.map((c) => c.offset));
  assert.equal(status.complete, true, 'the trailer after the damage is read');
  assert.equal(status.records, records(rest));
  assert.equal(status.damage.length, 1);
  const d = status.damage[0]!;
  assert.deepEqual([d.offset, d.length, d.records], [victim.offset, victimBytes, victim.count]);
  assert.match(d.held, new RegExp(`^records chunk: ${victim.count} records from ts ${victim.firstTsNs} `));
  assert.match(d.reason, /payload checksum mismatch/);

  // in the chunk header (length field): what it held is unknown
  const buf2 = fs.readFileSync(file);
  buf2[victim.offset + 9]! ^= 0x01;
  fs.writeFileSync(bad, buf2);
  const r2 = drain(bad);
  assert.deepEqual(r2.chunks.map((c) => c.offset), rest.map((c) => c.offset));
  assert.equal(r2.status.damage.length, 1);
  const d2 = r2.status.damage[0]!;
  assert.deepEqual([d2.offset, d2.length, d2.records, d2.held], [victim.offset, victimBytes, null, 'unknown']);
  assert.match(d2.reason, /chunk header checksum mismatch/);
});

test('bytes inserted or deleted before a chunk: the reader finds it off the 8-byte grid', () => {
  const { file } = smallFile();
  const orig = drain(file).chunks;
  const full = fs.readFileSync(file);
  const at = orig[3]!.offset;
  const keys = (cs: RecordingChunk[]) => cs.map((c) => `${c.kind}/${c.count}/${Buffer.from(c.payload).toString('hex')}`);
  const bad = tmpFile('shift');
  // 3 junk bytes before the fourth chunk
  fs.writeFileSync(bad, Buffer.concat([full.subarray(0, at), Buffer.from([1, 2, 3]), full.subarray(at)]));
  let r = drain(bad);
  assert.deepEqual(keys(r.chunks), keys(orig));
  assert.deepEqual(r.status.damage.map((d) => [d.offset, d.length, d.held]), [[at, 3, 'unknown']]);
  // 5 bytes deleted from the third chunk's payload: that chunk is lost, the fourth is found 5 bytes early
  fs.writeFileSync(bad, Buffer.concat([full.subarray(0, at - 8), full.subarray(at - 3)]));
  r = drain(bad);
  assert.deepEqual(keys(r.chunks), keys(orig.filter((_, i) => i !== 2)));
  assert.deepEqual(r.status.damage.map((d) => [d.offset, d.length, d.records]), [[orig[2]!.offset, at - 5 - orig[2]!.offset, orig[2]!.count]]);
});

test('a checksummed chunk header claiming more bytes than the file has: skipped without allocating them', () => {
  const { file } = smallFile();
  const orig = drain(file).chunks;
  const buf = fs.readFileSync(file);
  const victim = orig[1]!;
  buf.writeUInt32LE(0xfffffff0, victim.offset + 8);
  buf.writeUInt32LE(crc32(buf.subarray(victim.offset, victim.offset + 28)), victim.offset + 28);
  const bad = tmpFile('long');
  fs.writeFileSync(bad, buf);
  const { chunks, status } = drain(bad);
  assert.deepEqual(chunks.map((c) => c.offset), orig.filter((c) => c !== victim).map((c) => c.offset));
  assert.equal(status.damage.length, 1);
  assert.match(status.damage[0]!.reason, /claims 4294967280 payload bytes/);
  assert.equal(status.damage[0]!.records, victim.count);
});

test('junk after the trailer is reported', () => {
  const { file } = smallFile();
  const size = fs.statSync(file).size;
  fs.appendFileSync(file, Buffer.alloc(16, 0xab));
  const { chunks, status } = drain(file);
  assert.equal(chunks.length, 7);
  assert.ok(status.trailer);
  assert.equal(status.complete, true);
  assert.deepEqual(status.damage.map((d) => [d.offset, d.length, d.held]), [[size, 16, 'unknown']]);
  assert.match(status.damage[0]!.reason, /16 unexpected bytes after the trailer/);
});

test('not a recording: empty, bad magic, text-mode mangling', () => {
  const f = tmpFile('bad');
  fs.writeFileSync(f, '');
  expectFormatError(f, 'empty', /file is empty/);
  fs.writeFileSync(f, 'hello world, this is plain text\n');
  expectFormatError(f, 'bad-magic', /not a uffdscope recording \(bad magic/);
  const good = fs.readFileSync(smallFile().file);
  fs.writeFileSync(f, Buffer.concat([Buffer.from('USCOPE\n'), good.subarray(8)]));
  expectFormatError(f, 'text-mode', /text-mode transfer/);
});

test('unsupported format version', () => {
  const f = tmpFile('ver');
  const json = JSON.stringify(makeHeader());
  fs.writeFileSync(f, preamble(json, FORMAT_VERSION + 1));
  expectFormatError(f, 'unsupported-version', new RegExp(`unsupported recording format version ${FORMAT_VERSION + 1} \\(this build reads versions 1 to ${FORMAT_VERSION}\\); upgrade uffdscope`));
  fs.writeFileSync(f, preamble(json, 0));
  expectFormatError(f, 'unsupported-version', /version 0/);
});

test('record ABI newer than this build', () => {
  const f = tmpFile('abi');
  RecordingWriter.create(f, makeHeader({ format: 2, recordAbi: BUILD_RECORD_ABI + 1 })).close({ endedAtBootNs: 1, reason: 'completed' });
  expectFormatError(f, 'abi-too-new', new RegExp(`ABI ${BUILD_RECORD_ABI + 1} but this build understands up to ABI ${BUILD_RECORD_ABI}`));
});

test('header checksum, JSON and field errors name the problem', () => {
  const f = tmpFile('hdr');
  const json = JSON.stringify(makeHeader());
  const p = preamble(json);
  p[20]! ^= 1;
  fs.writeFileSync(f, p);
  expectFormatError(f, 'header-checksum', /header checksum mismatch/);

  fs.writeFileSync(f, preamble('{"format": 1,'));
  expectFormatError(f, 'header-json', /not valid UTF-8 JSON/);

  const p2 = preamble(json);
  p2.writeUInt32LE(0xfffffff0, 12);
  fs.writeFileSync(f, p2);
  expectFormatError(f, 'header-length', /length 4294967280 is impossible/);

  const cases: [string, (h: Record<string, any>) => void][] = [
    ['format', (h) => (h.format = 2)],
    ['recordAbi', (h) => delete h.recordAbi],
    ['tool', (h) => (h.tool = 'uffdscope')],
    ['tool.version', (h) => (h.tool.version = 1)],
    ['kernel.machine', (h) => delete h.kernel.machine],
    ['hostname', (h) => (h.hostname = null)],
    ['clock.name', (h) => (h.clock.name = 'monotonic')],
    ['clock.bootToRealtimeOffsetNs', (h) => (h.clock.bootToRealtimeOffsetNs = '1')],
    ['clock.startedAtBootNs', (h) => delete h.clock.startedAtBootNs],
    ['createdAt', (h) => (h.createdAt = 'yesterday')],
    ['backend', (h) => delete h.backend],
    ['selection.pids', (h) => (h.selection.pids = [1, 'x'])],
    ['selection.command', (h) => (h.selection.command = 'ls')],
    ['selection.hostWide', (h) => (h.selection.hostWide = 0)],
    ['uapi.UFFDIO_COPY', (h) => (h.uapi.UFFDIO_COPY = 123)],
    ['generated', (h) => delete h.generated],
    ['generated.seed', (h) => (h.generated = { generator: 'g', scenario: 's' })],
    ['extra', (h) => (h.extra = [])],
  ];
  for (const [name, mutate] of cases) {
    const h = JSON.parse(json);
    mutate(h);
    fs.writeFileSync(f, preamble(JSON.stringify(h)));
    expectFormatError(f, 'header-field', new RegExp(`header field "${name.replace('.', '\\.')}"`), name);
  }
  // unknown fields are kept
  const h = JSON.parse(json);
  h.futureField = { x: 1 };
  fs.writeFileSync(f, preamble(JSON.stringify(h)));
  assert.deepEqual((openRecording(f).header as unknown as Record<string, unknown>).futureField, { x: 1 });
});

test('chunks() can be iterated again and stopped early', () => {
  const { file } = smallFile();
  const rec = openRecording(file);
  for (const c of rec.chunks()) {
    assert.equal(c.kind, CHUNK_RECORDS);
    break;
  }
  assert.equal([...rec.chunks()].length, 7);
  assert.equal(rec.status().complete, true);
});
