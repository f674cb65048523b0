// Reads a .uscope recording (layout: format.ts) in a streaming way: one
// chunk in memory at a time (at most MAX_CHUNK_PAYLOAD bytes), positional
// fs.readSync, never the whole file.
//
// Damage after the header is not an error: the reader delivers every chunk
// up to the last good one and reports where and why it stopped. Only a file
// that cannot be a readable recording at all throws RecordingFormatError.

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

export interface RecordingStatus {
  /** A trailer was read and the file ends right after it. */
  complete: boolean;
  /**
   * Set when reading stopped before the end of the file: a partial last
   * chunk, a checksum mismatch, junk after the trailer... `offset` is the
   * file offset of the first byte not delivered.
   */
  truncated: null | { offset: number; reason: string };
  /** Good chunks delivered (all kinds). */
  chunks: number;
  records: number;
  /** File offset just past the last good chunk (or the header). */
  goodBytes: number;
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
   * at the trailer, at the end of the file, or at the first damaged chunk.
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
      const st = yield* readChunks(fd, dataOffset);
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
  if (version !== FORMAT_VERSION) {
    const newer = version > FORMAT_VERSION;
    throw new RecordingFormatError(
      path,
      'unsupported-version',
      `unsupported recording format version ${version} (this build reads version ${FORMAT_VERSION}); ` +
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
  const rest = Buffer.alloc(dataOffset - PREAMBLE_FIXED);
  const gotRest = readFully(fd, rest, PREAMBLE_FIXED);
  if (gotRest < rest.length) {
    throw new RecordingFormatError(
      path,
      'header-truncated',
      `recording header is cut short (file is ${PREAMBLE_FIXED + gotRest} bytes, header needs ${dataOffset}); ` +
        'the recording was cut off before any data was written, record again',
    );
  }
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
  if (header.recordAbi > BUILD_RECORD_ABI) {
    throw new RecordingFormatError(
      path,
      'abi-too-new',
      `records use ABI ${header.recordAbi} but this build understands up to ABI ${BUILD_RECORD_ABI}; upgrade uffdscope to read this recording`,
    );
  }
  return { header, dataOffset };
}

function* readChunks(fd: number, start: number): Generator<RecordingChunk, RecordingStatus, undefined> {
  const st: RecordingStatus = {
    complete: false,
    truncated: null,
    chunks: 0,
    records: 0,
    goodBytes: start,
    trailer: null,
    counters: null,
  };
  const hdr = Buffer.alloc(CHUNK_HEADER_SIZE);
  let pos = start;
  const stop = (reason: string): RecordingStatus => {
    st.truncated = { offset: pos, reason };
    return st;
  };
  for (;;) {
    const got = readFully(fd, hdr, pos);
    if (got === 0) return st;
    if (got < CHUNK_HEADER_SIZE) {
      return stop(`chunk header cut short at byte ${pos} (${got} of ${CHUNK_HEADER_SIZE} bytes)`);
    }
    const magic = hdr.readUInt32LE(CH.magic);
    if (magic !== CHUNK_MAGIC) return stop(`no chunk at byte ${pos} (magic ${hex(magic)}, expected ${hex(CHUNK_MAGIC)})`);
    const hcrc = crc32(hdr.subarray(0, CH.headerCrc));
    if (hcrc !== hdr.readUInt32LE(CH.headerCrc)) {
      return stop(`chunk header checksum mismatch at byte ${pos} (stored ${hex(hdr.readUInt32LE(CH.headerCrc))}, computed ${hex(hcrc)})`);
    }
    const kind = hdr.readUInt16LE(CH.kind);
    const flags = hdr.readUInt16LE(CH.flags);
    const len = hdr.readUInt32LE(CH.length);
    const count = hdr.readUInt32LE(CH.count);
    const firstTsNs = hdr.readBigUInt64LE(CH.firstTs);
    if (flags !== 0) return stop(`chunk at byte ${pos} has flags ${hex(flags)} this build does not understand`);
    if (len > MAX_CHUNK_PAYLOAD) return stop(`chunk at byte ${pos} claims ${len} payload bytes (limit ${MAX_CHUNK_PAYLOAD})`);
    // A dedicated ArrayBuffer per chunk: consumers may keep payloads.
    const body = Buffer.allocUnsafeSlow(len + pad8(CHUNK_HEADER_SIZE + len));
    const gotBody = readFully(fd, body, pos + CHUNK_HEADER_SIZE);
    if (gotBody < body.length) {
      return stop(`chunk at byte ${pos} cut short (${gotBody} of ${body.length} payload bytes present)`);
    }
    const payload = body.subarray(0, len);
    const pcrc = crc32(payload);
    if (pcrc !== hdr.readUInt32LE(CH.payloadCrc)) {
      return stop(`chunk payload checksum mismatch at byte ${pos} (stored ${hex(hdr.readUInt32LE(CH.payloadCrc))}, computed ${hex(pcrc)})`);
    }
    if (body.subarray(len).some((b) => b !== 0)) return stop(`chunk at byte ${pos} has non-zero padding`);
    let trailer: RecordingTrailer | null = null;
    if (kind === CHUNK_RECORDS) {
      const problem = recordsProblem(payload, count);
      if (problem) return stop(`records chunk at byte ${pos} is malformed: ${problem}`);
      if (firstRecordTs(payload) !== firstTsNs) return stop(`records chunk at byte ${pos}: first ts in the chunk header does not match its first record`);
    } else {
      if (count !== 0 || firstTsNs !== 0n) return stop(`chunk of kind ${kind} at byte ${pos} has a record count or ts`);
      if (kind === CHUNK_COUNTERS || kind === CHUNK_TRAILER) {
        let obj: unknown;
        try {
          obj = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
        } catch {
          return stop(`${kind === CHUNK_TRAILER ? 'trailer' : 'counters'} chunk at byte ${pos} is not valid UTF-8 JSON`);
        }
        if (kind === CHUNK_COUNTERS) {
          if (!isJsonObject(obj)) return stop(`counters chunk at byte ${pos} is not a JSON object`);
          st.counters = obj;
        } else {
          const problem = trailerProblem(obj);
          if (problem) return stop(`${problem} (chunk at byte ${pos})`);
          trailer = obj as RecordingTrailer;
        }
      }
    }
    const chunkStart = pos;
    pos += CHUNK_HEADER_SIZE + body.length;
    st.goodBytes = pos;
    st.chunks++;
    st.records += count;
    if (trailer) st.trailer = trailer;
    yield { kind, count, payload, offset: chunkStart, firstTsNs };
    if (trailer) {
      const more = readFully(fd, hdr.subarray(0, 1), pos);
      if (more > 0) {
        const size = fs.fstatSync(fd).size;
        return stop(`${size - pos} unexpected bytes after the trailer`);
      }
      st.complete = true;
      return st;
    }
  }
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
