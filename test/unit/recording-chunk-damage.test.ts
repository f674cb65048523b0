// A recording written with the writer's default options is many small chunks,
// so one flipped bit costs one chunk's records, not the recording: the
// mixed-workload recording's records, rewritten with the defaults, lose
// exactly the damaged chunk's records and keep every other byte of them.
import { test, mock, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../src/paths.js';
import { CHUNK_HEADER_SIZE, CHUNK_RECORDS, DEFAULT_CHUNK_BYTES, RecordingWriter, openRecording, readAllRecords, type RecordingChunk } from '../../src/recording/index.js';

const dir = mkdtempSync(join(tmpdir(), 'uffdscope-chunk-damage-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The fixture's records, appended record by record to a writer with default options. */
function writeWithDefaults(path: string): void {
  const src = readAllRecords(join(projectRoot, 'test/fixtures/recordings/mixed.uscope'));
  // the clock stands still: chunks end by size only, never by the 500 ms flush interval
  mock.timers.enable({ apis: ['Date'] });
  try {
    const w = RecordingWriter.create(path, src.header);
    for (let off = 0; off < src.records.length; ) {
      const size = src.records.readUInt16LE(off + 2);
      w.append(src.records.subarray(off, off + size), 1);
      off += size;
    }
    w.close({ ...src.status.trailer!, events: undefined });
  } finally {
    mock.timers.reset();
  }
}

function recordsChunks(path: string): RecordingChunk[] {
  return [...openRecording(path).chunks()].filter((c) => c.kind === CHUNK_RECORDS);
}

test('default chunks: a 310 KB recording is more than 3 chunks, each at most DEFAULT_CHUNK_BYTES and filled to within one record of it', () => {
  const path = join(dir, 'intact.uscope');
  writeWithDefaults(path);
  const chunks = recordsChunks(path);
  assert.ok(chunks.length > 3, `${chunks.length} records chunks`);
  assert.deepEqual(chunks.map((c) => c.count), [651, 651, 639, 650, 499]);
  for (const c of chunks.slice(0, -1)) {
    assert.ok(c.payload.byteLength <= DEFAULT_CHUNK_BYTES);
    // the next record did not fit: no record is larger than 64 KiB minus this
    assert.ok(c.payload.byteLength > DEFAULT_CHUNK_BYTES - 1024, `${c.payload.byteLength} bytes`);
  }
});

for (const [where, at] of [
  ['payload', (c: RecordingChunk) => c.offset + CHUNK_HEADER_SIZE + (c.payload.byteLength >> 1)],
  ['header (its length field)', (c: RecordingChunk) => c.offset + 9],
] as const) {
  test(`one bit flipped in the second chunk's ${where}: exactly that chunk's records are lost, every other record is read`, () => {
    const path = join(dir, `flip-${where.split(' ')[0]}.uscope`);
    writeWithDefaults(path);
    const intact = readAllRecords(path);
    const chunks = recordsChunks(path);
    const second = chunks[1];
    const bytes = readFileSync(path);
    bytes[at(second)] ^= 0x10;
    writeFileSync(path, bytes);

    const got = readAllRecords(path);
    assert.equal(got.count, intact.count - second.count);
    assert.deepEqual([intact.count, second.count, got.count], [3090, 651, 2439]);
    assert.equal(got.status.records, intact.count - second.count);
    assert.equal(got.status.complete, true, 'the trailer is still read');
    // the records before and after the damaged chunk, byte for byte
    const before = chunks[0].payload.byteLength;
    assert.deepEqual(got.records, Buffer.concat([intact.records.subarray(0, before), intact.records.subarray(before + second.payload.byteLength)]));
    // one range: the whole damaged chunk (its records named when its header is intact)
    assert.equal(got.status.damage.length, 1);
    const d = got.status.damage[0];
    assert.equal(d.offset, second.offset);
    assert.equal(d.length, chunks[2].offset - second.offset);
    assert.equal(d.records, where === 'payload' ? second.count : null);
  });
}
