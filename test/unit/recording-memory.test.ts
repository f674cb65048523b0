// Reading is streaming: a ~2 million record recording is read back with
// bounded memory.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CHUNK_RECORDS, RecordingWriter, openRecording } from '../../src/recording/index.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'uscope-mem-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const RECORDS = 2_000_000;
const BATCH = 4096;
const SIZE = 48;

test('2M records are read back with bounded memory', { timeout: 60_000 }, (t) => {
  const file = path.join(tmp, 'big.uscope');
  const w = RecordingWriter.create(
    file,
    {
      format: 1,
      recordAbi: 1,
      tool: { name: 'uffdscope', version: 'test' },
      kernel: { release: 'r', version: 'v', machine: 'm' },
      hostname: 'h',
      clock: { name: 'boottime', bootToRealtimeOffsetNs: 0, startedAtBootNs: 0 },
      createdAt: new Date().toISOString(),
      backend: 'test',
      selection: { pids: [], command: null, hostWide: true },
      uapi: {},
      generated: { generator: 'memory-test', scenario: 'flat', seed: 0 },
      extra: {},
    },
    { flushIntervalMs: 60_000, fsyncOnClose: false },
  );
  const batch = Buffer.alloc(BATCH * SIZE);
  for (let i = 0; i < BATCH; i++) {
    batch.writeUInt16LE(99, i * SIZE);
    batch.writeUInt16LE(SIZE, i * SIZE + 2);
  }
  let ts = 0;
  for (let done = 0; done < RECORDS; ) {
    const n = Math.min(BATCH, RECORDS - done);
    for (let i = 0; i < n; i++) batch.writeBigUInt64LE(BigInt(ts++), i * SIZE + 8);
    w.append(batch.subarray(0, n * SIZE), n);
    done += n;
  }
  w.close({ endedAtBootNs: ts, reason: 'completed' });
  const size = fs.statSync(file).size;
  assert.ok(size > RECORDS * SIZE);

  const rss0 = process.memoryUsage().rss;
  let maxRss = rss0;
  let records = 0;
  let expectTs = 0n;
  let chunks = 0;
  const rec = openRecording(file);
  const it = rec.chunks();
  let r = it.next();
  while (!r.done) {
    const c = r.value;
    if (c.kind === CHUNK_RECORDS) {
      records += c.count;
      // spot-check: the chunk continues the sequence
      assert.equal(c.firstTsNs, expectTs);
      expectTs += BigInt(c.count);
    }
    if (++chunks % 8 === 0) maxRss = Math.max(maxRss, process.memoryUsage().rss);
    r = it.next();
  }
  maxRss = Math.max(maxRss, process.memoryUsage().rss);
  assert.equal(records, RECORDS);
  assert.equal(r.value.records, RECORDS);
  assert.equal(r.value.complete, true);
  const growthMb = (maxRss - rss0) / 2 ** 20;
  t.diagnostic(`read ${chunks} chunks, ${(size / 2 ** 20).toFixed(0)} MB; rss growth ${growthMb.toFixed(1)} MB`);
  assert.ok(growthMb < 100, `rss grew by ${growthMb.toFixed(1)} MB reading a ${(size / 2 ** 20).toFixed(0)} MB file`);
});
