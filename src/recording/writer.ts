// Writes a .uscope recording (layout: format.ts).
//
// Every write is a synchronous fs.writeSync of a whole chunk, in file order,
// so a process killed at any moment leaves a valid prefix plus at most one
// partial chunk, and loses at most the records buffered since the last
// chunk (one flush interval or chunkBytes worth). Chunks are small (64 KiB
// by default) because a damaged chunk costs all of its records.

import * as fs from 'node:fs';
import {
  CHUNK_COUNTERS,
  CHUNK_HEADER_SIZE,
  CHUNK_RECORDS,
  CHUNK_TRAILER,
  DEFAULT_CHUNK_BYTES,
  MAX_CHUNK_PAYLOAD,
  RECORD_SIZE_OFFSET,
  type RecordingHeader,
  type RecordingTrailer,
  encodePreamble,
  fillChunkHeader,
  firstRecordTs,
  isJsonObject,
  pad8,
  recordsProblem,
  trailerProblem,
  validateHeader,
} from './format.js';

export interface RecordingWriterOptions {
  /** Replace an existing file instead of failing with EEXIST. */
  overwrite?: boolean;
  /** Write a records chunk once this many bytes are buffered; the most a
   *  records chunk holds (bigger batches are split). Default DEFAULT_CHUNK_BYTES. */
  chunkBytes?: number;
  /** Write buffered records at most this long after the last chunk. Default 500. */
  flushIntervalMs?: number;
  /** fsync the file in close(). Default true. */
  fsyncOnClose?: boolean;
  /**
   * Called when a timer-driven flush fails. The error is also kept and
   * thrown by the next append/writeCounters/close.
   */
  onError?: (err: Error) => void;
}

/** Trailer as passed to close(); `events` defaults to recordsWritten. */
export type TrailerInput = Omit<RecordingTrailer, 'events'> & { events?: number };

/**
 * Writers still open when the process exits normally (without close()) get
 * their buffered records written, without a trailer, like abort().
 */
const openWriters = new Set<RecordingWriter>();
let exitHookInstalled = false;
function track(w: RecordingWriter): void {
  openWriters.add(w);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const x of [...openWriters]) x.abort();
    });
  }
}

export class RecordingWriter {
  private fd: number | null;
  private readonly chunkBytes: number;
  private readonly flushIntervalMs: number;
  private readonly fsyncOnClose: boolean;
  private readonly onError?: (err: Error) => void;
  /** [chunk header][chunkBytes of payload][padding]: one write per chunk. */
  private readonly buf: Buffer;
  private buffered = 0;
  private bufferedCount = 0;
  private lastChunkAt: number;
  private timer: NodeJS.Timeout | null = null;
  private failed: Error | null = null;

  bytesWritten = 0;
  /** Chunks of every kind written so far. */
  chunksWritten = 0;
  /** Records in chunks written to the file (not counting buffered ones). */
  recordsWritten = 0;

  private constructor(
    readonly path: string,
    fd: number,
    readonly header: RecordingHeader,
    opts: RecordingWriterOptions,
  ) {
    this.fd = fd;
    this.chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    this.flushIntervalMs = opts.flushIntervalMs ?? 500;
    this.fsyncOnClose = opts.fsyncOnClose ?? true;
    this.onError = opts.onError;
    this.buf = Buffer.alloc(CHUNK_HEADER_SIZE + this.chunkBytes + 8);
    this.lastChunkAt = Date.now();
  }

  /**
   * Creates `path` (mode 0600: records hold addresses) and writes the
   * header. Fails with EEXIST if the file exists, unless opts.overwrite.
   */
  static create(path: string, header: RecordingHeader, opts: RecordingWriterOptions = {}): RecordingWriter {
    const chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    if (!Number.isInteger(chunkBytes) || chunkBytes < 64 || chunkBytes > MAX_CHUNK_PAYLOAD) {
      throw new RangeError(`chunkBytes must be an integer in [64, ${MAX_CHUNK_PAYLOAD}] (got ${chunkBytes})`);
    }
    const interval = opts.flushIntervalMs ?? 500;
    if (!(interval > 0) || !Number.isFinite(interval)) {
      throw new RangeError(`flushIntervalMs must be a positive number (got ${interval})`);
    }
    validateHeader(header);
    const preamble = encodePreamble(header);
    const fd = fs.openSync(path, opts.overwrite ? 'w' : 'wx', 0o600);
    try {
      // 'w' keeps the mode of an existing file and the umask may differ.
      fs.fchmodSync(fd, 0o600);
      const w = new RecordingWriter(path, fd, header, opts);
      w.writeFully(preamble);
      track(w);
      return w;
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  get closed(): boolean {
    return this.fd === null;
  }

  /** Records appended but not yet written to the file. */
  get pendingRecords(): number {
    return this.bufferedCount;
  }

  /**
   * Buffers `count` records (`bytes` exactly as the capture produced them;
   * copied, so the caller may reuse its buffer). Writes a chunk when the
   * buffer reaches chunkBytes or flushIntervalMs has passed since the last
   * chunk; a batch bigger than chunkBytes is split at record boundaries.
   * Throws RangeError when `bytes` is not `count` whole records.
   */
  append(bytes: Uint8Array, count: number): void {
    this.check();
    if (!Number.isInteger(count) || count < 0) throw new RangeError(`record count must be a non-negative integer (got ${count})`);
    const problem = recordsProblem(bytes, count, this.header.format);
    if (problem) throw new RangeError(`append: ${problem}`);
    if (bytes.byteLength === 0) return;
    if (this.buffered + bytes.byteLength <= this.chunkBytes) {
      this.buffer(bytes, count);
    } else {
      // whole records only: each piece as much as the room left in the chunk allows
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      let start = 0;
      let n = 0;
      for (let off = 0; off < bytes.byteLength; ) {
        const size = dv.getUint16(off + RECORD_SIZE_OFFSET, true);
        if (off + size - start > this.chunkBytes - this.buffered && (n > 0 || this.buffered > 0)) {
          this.buffer(bytes.subarray(start, off), n);
          this.flush();
          start = off;
          n = 0;
        }
        off += size;
        n++;
      }
      this.buffer(bytes.subarray(start), n);
    }
    if (this.buffered >= this.chunkBytes || Date.now() - this.lastChunkAt >= this.flushIntervalMs) {
      this.flush();
    } else {
      this.armTimer();
    }
  }

  /** Adds whole records to the chunk being built; a record larger than chunkBytes alone is written as its own chunk. */
  private buffer(bytes: Uint8Array, count: number): void {
    if (count === 0) return;
    if (bytes.byteLength > this.chunkBytes) {
      this.writeChunk(CHUNK_RECORDS, bytes, count, firstRecordTs(bytes));
      this.recordsWritten += count;
      return;
    }
    this.buf.set(bytes, CHUNK_HEADER_SIZE + this.buffered);
    this.buffered += bytes.byteLength;
    this.bufferedCount += count;
  }

  /** Writes buffered records as a chunk now (no-op when nothing is buffered). */
  flush(): void {
    this.check();
    this.disarmTimer();
    if (this.buffered === 0) return;
    const payload = this.buf.subarray(CHUNK_HEADER_SIZE, CHUNK_HEADER_SIZE + this.buffered);
    fillChunkHeader(this.buf, 0, CHUNK_RECORDS, payload, this.bufferedCount, firstRecordTs(payload));
    const end = CHUNK_HEADER_SIZE + this.buffered;
    const padded = end + pad8(end);
    this.buf.fill(0, end, padded);
    this.writeFully(this.buf.subarray(0, padded));
    this.chunksWritten++;
    this.recordsWritten += this.bufferedCount;
    this.buffered = 0;
    this.bufferedCount = 0;
    this.lastChunkAt = Date.now();
  }

  /** Writes buffered records, then a counters snapshot (any JSON object). */
  writeCounters(counters: Record<string, unknown>): void {
    this.check();
    if (!isJsonObject(counters)) throw new TypeError('writeCounters: counters must be a plain object');
    this.flush();
    this.writeChunk(CHUNK_COUNTERS, Buffer.from(JSON.stringify(counters), 'utf8'), 0, 0n);
  }

  /**
   * Writes buffered records and the trailer that marks the recording as
   * cleanly finished, then closes the file.
   */
  close(trailer: TrailerInput): RecordingTrailer {
    this.check();
    this.flush();
    const full = { ...trailer, events: trailer.events ?? this.recordsWritten } as RecordingTrailer;
    const problem = trailerProblem(full);
    if (problem) throw new TypeError(`close: ${problem}`);
    this.writeChunk(CHUNK_TRAILER, Buffer.from(JSON.stringify(full), 'utf8'), 0, 0n);
    const fd = this.fd!;
    this.fd = null;
    openWriters.delete(this);
    try {
      if (this.fsyncOnClose) fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    return full;
  }

  /**
   * Writes what is buffered (best effort) and closes the file without a
   * trailer: readers report the recording as not complete. Never throws;
   * idempotent.
   */
  abort(): void {
    if (this.fd === null) return;
    this.disarmTimer();
    try {
      if (!this.failed) this.flush();
    } catch {
      // best effort
    }
    const fd = this.fd;
    this.fd = null;
    openWriters.delete(this);
    try {
      fs.closeSync(fd);
    } catch {
      // already gone
    }
  }

  // ------------------------------------------------------------------ inner

  private check(): void {
    if (this.failed) throw this.failed;
    if (this.fd === null) throw new Error(`${this.path}: recording writer is closed`);
  }

  private writeChunk(kind: number, payload: Uint8Array, count: number, firstTs: bigint): void {
    const end = CHUNK_HEADER_SIZE + payload.byteLength;
    const out = Buffer.alloc(end + pad8(end));
    fillChunkHeader(out, 0, kind, payload, count, firstTs);
    out.set(payload, CHUNK_HEADER_SIZE);
    this.writeFully(out);
    this.chunksWritten++;
    this.lastChunkAt = Date.now();
  }

  private writeFully(bytes: Uint8Array): void {
    let off = 0;
    try {
      while (off < bytes.byteLength) {
        off += fs.writeSync(this.fd!, bytes, off, bytes.byteLength - off);
      }
    } catch (e) {
      // The file now ends in a partial chunk; further chunks would follow
      // garbage, so refuse to write more.
      this.bytesWritten += off;
      this.failed = e as Error;
      throw e;
    }
    this.bytesWritten += off;
  }

  private armTimer(): void {
    if (this.timer) return;
    const delay = Math.max(0, this.lastChunkAt + this.flushIntervalMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.fd === null || this.failed) return;
      try {
        this.flush();
      } catch (e) {
        this.onError?.(e as Error);
      }
    }, delay);
    this.timer.unref();
  }

  private disarmTimer(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }
}
