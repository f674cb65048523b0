// Reads a .uscope recording (layout: format.ts) in a streaming way: one
// chunk in memory at a time (at most MAX_CHUNK_PAYLOAD bytes), positional
// fs.readSync, never the whole file.
//
// Damage after the header is not an error: a damaged chunk costs that chunk
// only. The reader delivers every good chunk, resyncs after damage on the
// next intact chunk header (found by its magic and header checksum, at any
// byte offset), and reports every skipped byte range with what it held.
// Only a file that cannot be a readable recording at all throws
// RecordingFormatError.

import * as fs from 'node:fs';
import {
  BUILD_RECORD_ABI,
  CH,
  CHUNK_COUNTERS,
  CHUNK_HEADER_SIZE,
  CHUNK_MAGIC,
  CHUNK_RECORDS,
  CHUNK_TRAILER,
  FORMAT_VERSION,
  HeaderFieldError,
  MAGIC,
  MAX_CHUNK_PAYLOAD,
  MAX_HEADER_BYTES,
  PREAMBLE_FIXED,
  type RecordingHeader,
  RecordingFormatError,
  type RecordingTrailer,
  crc32,
  firstRecordTs,
  isJsonObject,
  pad8,
  recordsProblem,
  trailerProblem,
  validateHeader,
} from './format.js';

export interface RecordingChunk {
  /** 1 records, 2 counters, 3 trailer; other values come from newer writers. */
  kind: number;
  /** Records in the payload (kind 1), else 0. */
  count: number;
  /** Records back to back (kind 1) or UTF-8 JSON (kinds 2, 3). A fresh copy. */
  payload: Uint8Array;
  /** File offset of the chunk header. */
  offset: number;
  /** ts_ns of the first record (kind 1), else 0n. */
  firstTsNs: bigint;
}

/** Bytes the reader skipped: damaged, cut short, or not understood. */
export interface DamagedRange {
  /** File offset of the first byte skipped. */
  offset: number;
  /** Bytes skipped. */
  length: number;
  /** Why the bytes at `offset` could not be used. */
  reason: string;
  /**
   * What the bytes held, from a chunk header whose checksum is right
   * ("records chunk: 512 records from ts ..."), else "unknown".
   */
  held: string;
  /** Records the range held, when an intact header says so (0 for other chunk kinds); null when unknown. */
  records: number | null;
}

export interface RecordingStatus {
  /** A trailer was read: the recorder finished. */
  complete: boolean;
  /** Every byte range skipped, in file order; empty for an undamaged file. */
  damage: DamagedRange[];
  /** Good chunks delivered (all kinds). */
  chunks: number;
  records: number;
  trailer: RecordingTrailer | null;
  /** The last counters snapshot, if any. */
  counters: Record<string, unknown> | null;
}

export interface Recording {
  readonly path: string;
  readonly header: RecordingHeader;
  /** File offset of the first chunk. */
  readonly dataOffset: number;
  /**
   * Iterates the good chunks from the start; may be called again. Stops
   * at the trailer or at the end of the file; damaged chunks are skipped
   * (and listed in the returned status).
   */
  chunks(): Generator<RecordingChunk, RecordingStatus, undefined>;
  /**
   * How the last finished chunks() iteration ended; when none has finished,
   * scans the whole file (bounded memory) to find out.
   */
  status(): RecordingStatus;
}

function readFully(fd: number, buf: Uint8Array, position: number): number {
  let got = 0;
  while (got < buf.byteLength) {
    const n = fs.readSync(fd, buf, got, buf.byteLength - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

function hex(n: number): string {
  return '0x' + (n >>> 0).toString(16).padStart(8, '0');
}

function sameFile(a: fs.Stats, b: fs.Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/**
 * Opens a recording and validates its header. Throws RecordingFormatError
 * when the file is not a recording this build can read (bad magic,
 * unsupported version, damaged or cut header, newer record ABI).
 */
export function openRecording(path: string): Recording {
  const fd = fs.openSync(path, 'r');
  let header: RecordingHeader;
  let dataOffset: number;
  let stat: fs.Stats;
  try {
    stat = fs.fstatSync(fd);
    ({ header, dataOffset } = readPreamble(path, fd));
  } finally {
    fs.closeSync(fd);
  }
  let last: RecordingStatus | null = null;

  function* chunks(): Generator<RecordingChunk, RecordingStatus, undefined> {
    const fd = fs.openSync(path, 'r');
    try {
      if (!sameFile(stat, fs.fstatSync(fd))) {
        throw new Error(`${path}: the file was replaced after it was opened; open it again`);
      }
      const st = yield* readChunks(fd, dataOffset, header.format);
      last = st;
      return st;
    } finally {
      fs.closeSync(fd);
    }
  }

  return {
    path,
    header,
    dataOffset,
    chunks,
    status(): RecordingStatus {
      if (last) return last;
      const it = chunks();
      for (;;) {
        const r = it.next();
        if (r.done) return r.value;
      }
    },
  };
}

function readPreamble(path: string, fd: number): { header: RecordingHeader; dataOffset: number } {
  const fixed = Buffer.alloc(PREAMBLE_FIXED);
  const got = readFully(fd, fixed, 0);
  const what = 'pass a .uscope file written by uffdscope record';
  if (got === 0) throw new RecordingFormatError(path, 'empty', `file is empty, not a uffdscope recording; ${what}`);
  const magicGot = fixed.subarray(0, Math.min(got, 8));
  if (!magicGot.equals(MAGIC.subarray(0, magicGot.length))) {
    if (fixed.subarray(0, 7).equals(Buffer.from('USCOPE\n', 'latin1')) || fixed.subarray(0, 9).equals(Buffer.from('USCOPE\r\r\n', 'latin1'))) {
      throw new RecordingFormatError(
        path,
        'text-mode',
        'recording was mangled by a text-mode transfer (line endings in the magic were converted); copy it again in binary mode',
      );
    }
    throw new RecordingFormatError(
      path,
      'bad-magic',
      `not a uffdscope recording (bad magic ${JSON.stringify(magicGot.toString('latin1'))}, expected "USCOPE\\r\\n"); ${what}`,
    );
  }
  if (got < PREAMBLE_FIXED) {
    throw new RecordingFormatError(
      path,
      'header-truncated',
      `recording header is cut short (file is ${got} bytes); the recording was cut off before any data was written, record again`,
    );
  }
  const version = fixed.readUInt32LE(8);
  if (version < 1 || version > FORMAT_VERSION) {
    const newer = version > FORMAT_VERSION;
    throw new RecordingFormatError(
      path,
      'unsupported-version',
      `unsupported recording format version ${version} (this build reads versions 1 to ${FORMAT_VERSION}); ` +
        (newer ? 'upgrade uffdscope to read it' : 'the file is damaged or not a uffdscope recording'),
    );
  }
  const len = fixed.readUInt32LE(12);
  if (len === 0 || len > MAX_HEADER_BYTES) {
    throw new RecordingFormatError(
      path,
      'header-length',
      `recording header length ${len} is impossible (limit ${MAX_HEADER_BYTES}); the file is damaged, record again`,
    );
  }
  const end = PREAMBLE_FIXED + len + 4;
  const dataOffset = end + pad8(end);
  const cutShort = (size: number) =>
    new RecordingFormatError(
      path,
      'header-truncated',
      `recording header is cut short (file is ${size} bytes, header needs ${dataOffset}); ` +
        'the recording was cut off before any data was written, record again',
    );
  // the length is checked against the file before anything is allocated by it
  const size = fs.fstatSync(fd).size;
  if (size < dataOffset) throw cutShort(size);
  const rest = Buffer.alloc(dataOffset - PREAMBLE_FIXED);
  const gotRest = readFully(fd, rest, PREAMBLE_FIXED);
  if (gotRest < rest.length) throw cutShort(PREAMBLE_FIXED + gotRest);
  const json = rest.subarray(0, len);
  const stored = rest.readUInt32LE(len);
  const computed = crc32(json);
  if (stored !== computed || rest.subarray(len + 4).some((b) => b !== 0)) {
    throw new RecordingFormatError(
      path,
      'header-checksum',
      `recording header checksum mismatch (stored ${hex(stored)}, computed ${hex(computed)}); the header is damaged, the file cannot be read`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch (e) {
    throw new RecordingFormatError(
      path,
      'header-json',
      `recording header is not valid UTF-8 JSON (${(e as Error).message.split('\n')[0]}); the file was not written by this format's writer`,
    );
  }
  let header: RecordingHeader;
  try {
    header = validateHeader(parsed);
  } catch (e) {
    if (!(e instanceof HeaderFieldError)) throw e;
    throw new RecordingFormatError(
      path,
      'header-field',
      `recording ${e.message}; the file was written by an incompatible or broken writer`,
      e.field,
    );
  }
  if (header.format !== version) {
    throw new RecordingFormatError(
      path,
      'header-field',
      `recording header says format ${header.format} but the file is version ${version}; the file was written by an incompatible or broken writer`,
      'format',
    );
  }
  if (header.recordAbi > BUILD_RECORD_ABI) {
    throw new RecordingFormatError(
      path,
      'abi-too-new',
      `records use ABI ${header.recordAbi} but this build understands up to ABI ${BUILD_RECORD_ABI}; upgrade uffdscope to read this recording`,
    );
  }
  return { header, dataOffset };
}

/** What an intact chunk header says a chunk holds (for damage reports). */
function chunkContents(kind: number, count: number, len: number, firstTsNs: bigint): string {
  if (kind === CHUNK_RECORDS) return `records chunk: ${count} records from ts ${firstTsNs} (${len} payload bytes)`;
  if (kind === CHUNK_COUNTERS) return `counters chunk (${len} payload bytes)`;
  if (kind === CHUNK_TRAILER) return `trailer chunk (${len} payload bytes)`;
  return `chunk of kind ${kind} (${len} payload bytes)`;
}

/** A chunk that could not be used, and what its header said when the header is intact. */
interface BadChunk {
  reason: string;
  /** Set when the chunk header's checksum is right: the header can be believed. */
  held: { text: string; records: number } | null;
}

interface GoodChunk {
  chunk: RecordingChunk;
  /**
   * Where the next chunk may start: past the padding when it is zeros, else
   * just past the payload (the next chunk moved there by deleted bytes).
   */
  end: number;
  trailer: RecordingTrailer | null;
  counters: Record<string, unknown> | null;
}

function headerIntact(hdr: Uint8Array, at: number): boolean {
  const dv = new DataView(hdr.buffer, hdr.byteOffset + at, CHUNK_HEADER_SIZE);
  return dv.getUint32(CH.magic, true) === CHUNK_MAGIC && crc32(hdr.subarray(at, at + CH.headerCrc)) === dv.getUint32(CH.headerCrc, true);
}

/**
 * Reads and checks the chunk at `pos`. Allocates only after the length in
 * a checksummed header has been checked against the file size and
 * MAX_CHUNK_PAYLOAD.
 */
function readChunkAt(fd: number, pos: number, size: number, hdr: Buffer, format: number): GoodChunk | BadChunk {
  const got = readFully(fd, hdr, pos);
  if (got < CHUNK_HEADER_SIZE) return { reason: `file ends inside a chunk header (${got} of ${CHUNK_HEADER_SIZE} bytes)`, held: null };
  const magic = hdr.readUInt32LE(CH.magic);
  if (magic !== CHUNK_MAGIC) return { reason: `no chunk header (magic ${hex(magic)}, expected ${hex(CHUNK_MAGIC)})`, held: null };
  const hcrc = crc32(hdr.subarray(0, CH.headerCrc));
  if (hcrc !== hdr.readUInt32LE(CH.headerCrc)) {
    return { reason: `chunk header checksum mismatch (stored ${hex(hdr.readUInt32LE(CH.headerCrc))}, computed ${hex(hcrc)})`, held: null };
  }
  const kind = hdr.readUInt16LE(CH.kind);
  const flags = hdr.readUInt16LE(CH.flags);
  const len = hdr.readUInt32LE(CH.length);
  const count = hdr.readUInt32LE(CH.count);
  const firstTsNs = hdr.readBigUInt64LE(CH.firstTs);
  const held = { text: chunkContents(kind, count, len, firstTsNs), records: kind === CHUNK_RECORDS ? count : 0 };
  const bad = (reason: string): BadChunk => ({ reason, held });
  if (flags !== 0) return bad(`chunk flags ${hex(flags)} this build does not understand`);
  if (len > MAX_CHUNK_PAYLOAD) return bad(`chunk claims ${len} payload bytes (limit ${MAX_CHUNK_PAYLOAD})`);
  const payloadEnd = pos + CHUNK_HEADER_SIZE + len;
  if (payloadEnd > size) return bad(`chunk cut short (${size - pos - CHUNK_HEADER_SIZE} of ${len} payload bytes present)`);
  // A dedicated ArrayBuffer per chunk: consumers may keep payloads.
  const payload = Buffer.allocUnsafeSlow(len);
  if (readFully(fd, payload, pos + CHUNK_HEADER_SIZE) < len) return bad('chunk cut short while reading');
  const pcrc = crc32(payload);
  if (pcrc !== hdr.readUInt32LE(CH.payloadCrc)) {
    return bad(`chunk payload checksum mismatch (stored ${hex(hdr.readUInt32LE(CH.payloadCrc))}, computed ${hex(pcrc)})`);
  }
  let trailer: RecordingTrailer | null = null;
  let counters: Record<string, unknown> | null = null;
  if (kind === CHUNK_RECORDS) {
    const problem = recordsProblem(payload, count, format);
    if (problem) return bad(`records chunk is malformed: ${problem}`);
    if (firstRecordTs(payload) !== firstTsNs) return bad('first ts in the chunk header does not match its first record');
  } else {
    if (count !== 0 || firstTsNs !== 0n) return bad(`chunk of kind ${kind} has a record count or ts`);
    if (kind === CHUNK_COUNTERS || kind === CHUNK_TRAILER) {
      let obj: unknown;
      try {
        obj = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
      } catch {
        return bad(`${kind === CHUNK_TRAILER ? 'trailer' : 'counters'} is not valid UTF-8 JSON`);
      }
      if (kind === CHUNK_COUNTERS) {
        if (!isJsonObject(obj)) return bad('counters are not a JSON object');
        counters = obj;
      } else {
        const problem = trailerProblem(obj);
        if (problem) return bad(problem);
        trailer = obj as RecordingTrailer;
      }
    }
  }
  // padding cut off by the end of the file held no data: not damage
  const pad = Buffer.alloc(Math.min(pad8(CHUNK_HEADER_SIZE + len), size - payloadEnd));
  readFully(fd, pad, payloadEnd);
  const end = pad.every((b) => b === 0) ? payloadEnd + pad.length : payloadEnd;
  return { chunk: { kind, count, payload, offset: pos, firstTsNs }, end, trailer, counters };
}

/** Bytes read ahead at a time when looking for the next chunk after damage (the most one resync reads past it). */
export const SCAN_WINDOW = 64 * 1024;
const CHUNK_MAGIC_BYTES = Buffer.from([0x43, 0x48, 0x4e, 0x4b]); // CHUNK_MAGIC, little-endian

/**
 * The first offset >= `from` where an intact chunk header (magic and header
 * checksum) starts, or `size` when there is none. Any byte offset: bytes
 * inserted or deleted before a chunk move it off the 8-byte grid. Reads
 * the file in windows of SCAN_WINDOW bytes.
 */
function nextChunkHeader(fd: number, from: number, size: number, win: Buffer): number {
  let at = from;
  while (at + CHUNK_HEADER_SIZE <= size) {
    const n = readFully(fd, win.subarray(0, Math.min(win.length, size - at)), at);
    const view = win.subarray(0, n);
    for (let i = view.indexOf(CHUNK_MAGIC_BYTES); i >= 0 && i + CHUNK_HEADER_SIZE <= n; i = view.indexOf(CHUNK_MAGIC_BYTES, i + 1)) {
      if (headerIntact(view, i)) return at + i;
    }
    if (at + n >= size) break;
    // overlap by a header less one byte: a header across the boundary is seen whole next time
    at += n - (CHUNK_HEADER_SIZE - 1);
  }
  return size;
}

function* readChunks(fd: number, start: number, format: number): Generator<RecordingChunk, RecordingStatus, undefined> {
  const st: RecordingStatus = { complete: false, damage: [], chunks: 0, records: 0, trailer: null, counters: null };
  const size = fs.fstatSync(fd).size;
  const hdr = Buffer.alloc(CHUNK_HEADER_SIZE);
  let win: Buffer | null = null;
  let open: Omit<DamagedRange, 'length'> | null = null;
  const close = (at: number): void => {
    if (open) st.damage.push({ ...open, length: at - open.offset });
    open = null;
  };
  let pos = start;
  while (pos < size) {
    const r = readChunkAt(fd, pos, size, hdr, format);
    if ('chunk' in r) {
      close(pos);
      st.chunks++;
      st.records += r.chunk.count;
      if (r.counters) st.counters = r.counters;
      pos = r.end;
      yield r.chunk;
      if (r.trailer) {
        st.trailer = r.trailer;
        st.complete = true;
        if (pos < size) {
          st.damage.push({ offset: pos, length: size - pos, reason: `${size - pos} unexpected bytes after the trailer`, held: 'unknown', records: null });
        }
        return st;
      }
      continue;
    }
    // Unusable bytes from here to the next good chunk. An intact header starts a range of its own (its contents are known).
    if (!open || r.held) {
      close(pos);
      open = { offset: pos, reason: r.reason, held: r.held?.text ?? 'unknown', records: r.held?.records ?? null };
    }
    win ??= Buffer.allocUnsafe(Math.min(SCAN_WINDOW, size));
    pos = nextChunkHeader(fd, pos + 1, size, win);
  }
  close(size);
  return st;
}

export interface AllRecords {
  header: RecordingHeader;
  /** All records back to back. */
  records: Buffer;
  count: number;
  status: RecordingStatus;
}

/** Reads every record into one buffer. For small files and tests. */
export function readAllRecords(path: string): AllRecords {
  const rec = openRecording(path);
  const parts: Uint8Array[] = [];
  let count = 0;
  const it = rec.chunks();
  let r = it.next();
  while (!r.done) {
    if (r.value.kind === CHUNK_RECORDS) {
      parts.push(r.value.payload);
      count += r.value.count;
    }
    r = it.next();
  }
  return { header: rec.header, records: Buffer.concat(parts), count, status: r.value };
}
