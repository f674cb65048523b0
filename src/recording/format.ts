// The .uscope recording file format, version 2 (this build writes it from
// live capture, and reads versions 1 and 2).
//
// All integers are little-endian. Offsets are in bytes.
//
// File = preamble, then zero or more chunks.
//
// Preamble:
//    0  u8[8]  magic "USCOPE\r\n" (55 53 43 4f 50 45 0d 0a). The CR LF pair
//              catches files mangled by a text-mode transfer.
//    8  u32    format version (2; 1 for recordings of record ABI 1)
//   12  u32    header length N (bytes of JSON, 1 .. MAX_HEADER_BYTES)
//   16  u8[N]  header: UTF-8 JSON object, see RecordingHeader
// 16+N  u32    crc32 (zlib polynomial) of the N JSON bytes
// 20+N  u8[P]  zero padding, 0..7 bytes, so the first chunk starts at a
//              multiple of 8. The preamble is written with one write; a file
//              cut anywhere inside it cannot be read (RecordingFormatError).
//
// Chunk (starts at a multiple of 8):
//    0  u32    magic 0x4b4e4843 ("CHNK")
//    4  u16    kind: 1 = records, 2 = counters, 3 = trailer (others: reserved;
//              a reader yields unknown kinds untouched so old readers step
//              over chunks added later)
//    6  u16    flags, 0 in version 1 (a reader stops at a chunk with flags)
//    8  u32    payload length L (0 .. MAX_CHUNK_PAYLOAD)
//   12  u32    record count (kind 1; 0 for other kinds)
//   16  u64    ts_ns of the first record (kind 1; 0 for other kinds)
//   24  u32    crc32 of the L payload bytes
//   28  u32    crc32 of chunk header bytes 0..27 (guards the length field)
//   32  u8[L]  payload
// 32+L  u8[Q]  zero padding, 0..7 bytes, to a multiple of 8
//
// Payloads:
//   kind 1  records back to back, exactly the bytes the capture produced;
//           each starts with uscope_header whose u16 `size` (offset 2) is the
//           whole record, a multiple of 8 and at least the header (40 bytes
//           in version 1, 16 in version 2), and whose u64 ts_ns is at offset
//           8. The count and first ts_ns in the chunk header agree with the
//           payload. The records are of the header's `recordAbi`: 1 in
//           version 1, 2 in version 2 (bpf/uffdscope_abi1.h, bpf/uffdscope.h).
//   kind 2  UTF-8 JSON object: a snapshot of loss/produced counters (the
//           caller's shape). The last one in the file is the final word.
//   kind 3  UTF-8 JSON object, see RecordingTrailer. The trailer is the last
//           chunk of a cleanly finished recording; nothing follows it.
//
// A records chunk holds at most the writer's chunkBytes (DEFAULT_CHUNK_BYTES
// unless told otherwise; a batch larger than that is split at record
// boundaries), except a single record larger than chunkBytes.
//
// A chunk is written with a single write, header + payload + padding, in
// file order, so a writer killed at any point leaves a valid prefix plus at
// most one partial chunk.

import { crc32 as zlibCrc32 } from 'node:zlib';
import { C, L } from '../events/layout.generated.js';
import { L as L1 } from '../events/layout.abi1.generated.js';

export const MAGIC = Buffer.from('USCOPE\r\n', 'latin1');
/** The version this build writes; it reads every version from 1 up. */
export const FORMAT_VERSION = 2;
/** Bytes before the header JSON: magic, version, header length. */
export const PREAMBLE_FIXED = 16;
export const MAX_HEADER_BYTES = 16 * 1024 * 1024;

export const CHUNK_MAGIC = 0x4b4e4843;
export const CHUNK_HEADER_SIZE = 32;
/** Largest payload a chunk may carry; the reader's memory bound per chunk,
 *  and the writer's largest chunkBytes (recordings of writers that chunked
 *  by 1 MiB, or a whole batch, stay readable). */
export const MAX_CHUNK_PAYLOAD = 64 * 1024 * 1024;
/** The writer's chunk payload unless told otherwise: a damaged chunk costs at
 *  most this much of the records, for 32 header bytes per chunk (0.05 %).
 *  Any record fits (its size is a u16). */
export const DEFAULT_CHUNK_BYTES = 64 * 1024;

export const CHUNK_RECORDS = 1;
export const CHUNK_COUNTERS = 2;
export const CHUNK_TRAILER = 3;

/** Offsets inside the chunk header. */
export const CH = {
  magic: 0,
  kind: 4,
  flags: 6,
  length: 8,
  count: 12,
  firstTs: 16,
  payloadCrc: 24,
  headerCrc: 28,
} as const;

/** Records: the part of uscope_header the format itself relies on. */
export const RECORD_SIZE_OFFSET = 2;
export const RECORD_TS_OFFSET = 8;

/** Smallest record of a format version: its record header. */
export function recordHeaderSize(format: number): number {
  return format === 1 ? L1.uscope_header.size : L.uscope_header.size;
}

/** The format version of recordings of a record ABI. */
export function formatForAbi(recordAbi: number): 1 | 2 {
  return recordAbi === 1 ? 1 : 2;
}

/** The record ABI this build understands (from bpf/uffdscope.h). */
export const BUILD_RECORD_ABI: number = C.USCOPE_RECORD_ABI;

export function crc32(bytes: Uint8Array): number {
  return zlibCrc32(bytes) >>> 0;
}

export function pad8(n: number): number {
  return (8 - (n & 7)) & 7;
}

export interface RecordingHeader {
  /** formatForAbi(recordAbi) */
  format: 1 | 2;
  /** uscope record ABI of the records (C.USCOPE_RECORD_ABI when recorded). */
  recordAbi: number;
  tool: { name: string; version: string };
  /** os.release(), os.version(), os.machine() of the recording host. */
  kernel: { release: string; version: string; machine: string };
  hostname: string;
  clock: {
    name: 'boottime';
    /** realtime_ns = boottime_ns + bootToRealtimeOffsetNs. */
    bootToRealtimeOffsetNs: number;
    startedAtBootNs: number;
  };
  /** ISO 8601 wall-clock time the recording was started. */
  createdAt: string;
  /** Capture backend name, e.g. "ringbuf". */
  backend: string;
  selection: { pids: number[]; command: string[] | null; hostWide: boolean };
  /** uapi constants the records were interpreted with, as hex strings. */
  uapi: Record<string, string>;
  /** Non-null when the recording was synthesised rather than captured. */
  generated: null | { generator: string; scenario: string; seed: number };
  extra: Record<string, unknown>;
}

export interface RecordingTrailer {
  endedAtBootNs: number;
  /** "completed" | "signal" | "error" | ... */
  reason: string;
  /** Records in the recording. */
  events: number;
  [extra: string]: unknown;
}

export type RecordingErrorCode =
  | 'empty'
  | 'bad-magic'
  | 'text-mode'
  | 'unsupported-version'
  | 'header-truncated'
  | 'header-length'
  | 'header-checksum'
  | 'header-json'
  | 'header-field'
  | 'abi-too-new';

/**
 * The file cannot be read as a recording at all. The message is one line:
 * the file, what is wrong, what to do.
 */
export class RecordingFormatError extends Error {
  override name = 'RecordingFormatError';
  constructor(
    readonly path: string,
    readonly code: RecordingErrorCode,
    detail: string,
    /** Dotted header field name for code 'header-field'. */
    readonly field?: string,
  ) {
    super(`${path}: ${detail}`);
  }
}

// ---------------------------------------------------------------- validation

type Check = (v: unknown) => string | null; // null = ok, else "must be ..."

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function describe(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `"${v.length > 40 ? v.slice(0, 40) + '...' : v}"`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

const str: Check = (v) => (typeof v === 'string' ? null : 'must be a string');
const num: Check = (v) => (typeof v === 'number' && Number.isFinite(v) ? null : 'must be a finite number');
const bool: Check = (v) => (typeof v === 'boolean' ? null : 'must be a boolean');
const obj: Check = (v) => (isObj(v) ? null : 'must be an object');
const nonNegInt: Check = (v) =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 ? null : 'must be a non-negative integer';

export class HeaderFieldError extends Error {
  constructor(readonly field: string, readonly problem: string) {
    super(`header field "${field}" ${problem}`);
  }
}

function field(o: Record<string, unknown>, path: string, name: string, check: Check): unknown {
  const v = o[name];
  const problem = check(v);
  if (problem) throw new HeaderFieldError(path + name, `${problem} (got ${describe(v)})`);
  return v;
}

function sub(o: Record<string, unknown>, path: string, name: string): Record<string, unknown> {
  return field(o, path, name, obj) as Record<string, unknown>;
}

/**
 * Checks a parsed header against RecordingHeader. Throws HeaderFieldError
 * naming the first bad field. Unknown fields are kept (forward compatible).
 */
export function validateHeader(h: unknown): RecordingHeader {
  if (!isObj(h)) throw new HeaderFieldError('(root)', `must be a JSON object (got ${describe(h)})`);
  field(h, '', 'recordAbi', (v) =>
    typeof v === 'number' && Number.isInteger(v) && v >= 1 ? null : 'must be a positive integer',
  );
  const want = formatForAbi(h['recordAbi'] as number);
  field(h, '', 'format', (v) => (v === want ? null : `must be ${want} for record ABI ${String(h['recordAbi'])}`));
  const tool = sub(h, '', 'tool');
  field(tool, 'tool.', 'name', str);
  field(tool, 'tool.', 'version', str);
  const kernel = sub(h, '', 'kernel');
  field(kernel, 'kernel.', 'release', str);
  field(kernel, 'kernel.', 'version', str);
  field(kernel, 'kernel.', 'machine', str);
  field(h, '', 'hostname', str);
  const clock = sub(h, '', 'clock');
  field(clock, 'clock.', 'name', (v) => (v === 'boottime' ? null : 'must be "boottime"'));
  field(clock, 'clock.', 'bootToRealtimeOffsetNs', num);
  field(clock, 'clock.', 'startedAtBootNs', (v) =>
    typeof v === 'number' && Number.isFinite(v) && v >= 0 ? null : 'must be a non-negative number',
  );
  field(h, '', 'createdAt', (v) =>
    typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v) && !Number.isNaN(Date.parse(v))
      ? null
      : 'must be an ISO 8601 date string',
  );
  field(h, '', 'backend', str);
  const sel = sub(h, '', 'selection');
  field(sel, 'selection.', 'pids', (v) =>
    Array.isArray(v) && v.every((p) => nonNegInt(p) === null) ? null : 'must be an array of non-negative integers',
  );
  field(sel, 'selection.', 'command', (v) =>
    v === null || (Array.isArray(v) && v.every((a) => typeof a === 'string'))
      ? null
      : 'must be null or an array of strings',
  );
  field(sel, 'selection.', 'hostWide', bool);
  const uapi = sub(h, '', 'uapi');
  for (const k of Object.keys(uapi)) {
    field(uapi, 'uapi.', k, (x) =>
      typeof x === 'string' && /^0x[0-9a-fA-F]+$/.test(x) ? null : 'must be a hex string like "0x1f"',
    );
  }
  const gen = h['generated'];
  if (gen !== null) {
    if (!isObj(gen)) throw new HeaderFieldError('generated', `must be null or an object (got ${describe(gen)})`);
    field(gen, 'generated.', 'generator', str);
    field(gen, 'generated.', 'scenario', str);
    field(gen, 'generated.', 'seed', num);
  }
  sub(h, '', 'extra');
  return h as unknown as RecordingHeader;
}

/** Checks a parsed trailer; returns a problem description or null. */
export function trailerProblem(t: unknown): string | null {
  if (!isObj(t)) return 'trailer is not a JSON object';
  if (typeof t['endedAtBootNs'] !== 'number' || !Number.isFinite(t['endedAtBootNs'])) {
    return 'trailer field "endedAtBootNs" must be a finite number';
  }
  if (typeof t['reason'] !== 'string') return 'trailer field "reason" must be a string';
  if (nonNegInt(t['events']) !== null) return 'trailer field "events" must be a non-negative integer';
  return null;
}

export function isJsonObject(v: unknown): v is Record<string, unknown> {
  return isObj(v);
}

/**
 * Walks `count` records of format version `format` in a records payload.
 * Returns a problem description or null when the payload is exactly
 * `count` well-formed records.
 */
export function recordsProblem(payload: Uint8Array, count: number, format: number): string | null {
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const headerSize = recordHeaderSize(format);
  let off = 0;
  let n = 0;
  while (off < payload.byteLength) {
    if (off + headerSize > payload.byteLength) {
      return `record ${n} at payload byte ${off}: header cut short (${payload.byteLength - off} bytes left)`;
    }
    const size = dv.getUint16(off + RECORD_SIZE_OFFSET, true);
    if (size < headerSize || size % 8 !== 0) {
      return `record ${n} at payload byte ${off}: impossible size ${size}`;
    }
    if (off + size > payload.byteLength) {
      return `record ${n} at payload byte ${off}: size ${size} runs past the end (${payload.byteLength - off} bytes left)`;
    }
    off += size;
    n++;
  }
  if (n !== count) return `payload holds ${n} records but the chunk says ${count}`;
  return null;
}

/** ts_ns of the first record of a records payload (0n when empty). */
export function firstRecordTs(payload: Uint8Array): bigint {
  if (payload.byteLength < RECORD_TS_OFFSET + 8) return 0n;
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  return dv.getBigUint64(RECORD_TS_OFFSET, true);
}

/** Encodes the preamble (magic .. header crc .. padding). */
export function encodePreamble(header: RecordingHeader): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  if (json.length > MAX_HEADER_BYTES) {
    throw new RangeError(`recording header is ${json.length} bytes, more than ${MAX_HEADER_BYTES}`);
  }
  const end = PREAMBLE_FIXED + json.length + 4;
  const buf = Buffer.alloc(end + pad8(end));
  MAGIC.copy(buf, 0);
  buf.writeUInt32LE(header.format, 8);
  buf.writeUInt32LE(json.length, 12);
  json.copy(buf, PREAMBLE_FIXED);
  buf.writeUInt32LE(crc32(json), PREAMBLE_FIXED + json.length);
  return buf;
}

/**
 * Fills the 32-byte chunk header at `buf[at..]` for a payload already in
 * place (or passed separately).
 */
export function fillChunkHeader(
  buf: Buffer,
  at: number,
  kind: number,
  payload: Uint8Array,
  count: number,
  firstTs: bigint,
): void {
  buf.writeUInt32LE(CHUNK_MAGIC, at + CH.magic);
  buf.writeUInt16LE(kind, at + CH.kind);
  buf.writeUInt16LE(0, at + CH.flags);
  buf.writeUInt32LE(payload.byteLength, at + CH.length);
  buf.writeUInt32LE(count, at + CH.count);
  buf.writeBigUInt64LE(firstTs, at + CH.firstTs);
  buf.writeUInt32LE(crc32(payload), at + CH.payloadCrc);
  buf.writeUInt32LE(crc32(buf.subarray(at, at + CH.headerCrc)), at + CH.headerCrc);
}
