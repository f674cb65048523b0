// A recording as a stream of decoded events: the same events live capture
// produces, so report/stat/export/check/replay work on either. The one place
// that knows which chunks hold records and how a recording's uapi is chosen.
import { openRecording, type Recording, type RecordingStatus } from '../recording/reader.js';
import { RecordingFormatError, type RecordingHeader } from '../recording/format.js';
import { DecodeError, type DecodeStats } from '../events/decode.js';
import { FILE_REORDER, recordDecoder } from './recordDecoder.js';
import { resolveUapi, type Uapi } from '../events/uapi.js';
import type { UffdEvent } from '../events/types.js';
import { UsageError } from '../exitCodes.js';

export interface RecordingRead {
  header: RecordingHeader;
  status: RecordingStatus;
  decode: DecodeStats;
  /** the last counters snapshot the recorder wrote (loss accounting) */
  counters: Record<string, unknown> | null;
}

/** The uapi table a recording was made with, with the user's overrides on top. */
export function recordingUapi(header: RecordingHeader, overrides: Uapi | null): Uapi {
  const base = resolveUapi();
  for (const [k, v] of Object.entries(header.uapi ?? {})) {
    if (k in base && /^0x[0-9a-f]+$/i.test(v)) base[k] = BigInt(v);
  }
  if (overrides) {
    const defaults = resolveUapi();
    for (const [k, v] of Object.entries(overrides)) if (v !== defaults[k]) base[k] = v;
  }
  return base;
}

/** A chunk of records, as the recorder wrote it. */
export interface RecordBatch {
  payload: Uint8Array;
  count: number;
  /** time of its first record */
  firstTs: number;
}

/** The record chunks of a recording, in file order (other chunks are the reader's). */
export function* recordBatches(rec: Recording): Generator<RecordBatch, RecordingStatus, undefined> {
  const it = rec.chunks();
  let r = it.next();
  while (!r.done) {
    const c = r.value;
    if (c.kind === 1) yield { payload: c.payload, count: c.count, firstTs: Number(c.firstTsNs) };
    r = it.next();
  }
  return r.value;
}

/** Streams every event of an open recording, chunk by chunk (bounded memory). */
export function decodeRecording(rec: Recording, uapi: Uapi, visit: (e: UffdEvent) => void): { status: RecordingStatus; decode: DecodeStats } {
  const decoder = recordDecoder(rec.header.recordAbi, uapi, visit, FILE_REORDER);
  const it = recordBatches(rec);
  let r = it.next();
  while (!r.done) {
    decoder.push(r.value.payload, r.value.count);
    r = it.next();
  }
  decoder.end();
  return { status: r.value, decode: decoder.stats };
}

/** Streams every event of the recording at `path` (decodeRecording). */
export function forEachRecordedEvent(
  path: string,
  uapiOverrides: Uapi | null,
  visit: (e: UffdEvent) => void,
  onHeader?: (h: RecordingHeader, uapi: Uapi) => void,
): RecordingRead {
  const rec = openRecording(path);
  const uapi = recordingUapi(rec.header, uapiOverrides);
  onHeader?.(rec.header, uapi);
  const { status, decode } = decodeRecording(rec, uapi, visit);
  return { header: rec.header, status, decode, counters: status.counters };
}

/** A failure to read `file` as a recording, as the one-line bad-input error users see. */
export function recordingInputError(file: string, e: unknown): Error {
  if (e instanceof RecordingFormatError) return new UsageError(e.message);
  if (e instanceof DecodeError) return new UsageError(`${file}: damaged records (${e.message}); the file was written by a broken or newer writer`);
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return new UsageError(`${file}: no such file (give the path of a recording made with \`uffdscope record\`)`);
  if (code === 'EACCES' || code === 'EPERM') return new UsageError(`${file}: permission denied (recordings are mode 0600: read it as its owner or with sudo)`);
  if (code === 'EISDIR') return new UsageError(`${file}: is a directory, not a recording`);
  return e as Error;
}
