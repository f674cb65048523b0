// A recording as a stream of decoded events: the same events live capture
// produces, so report/stat/export/check work on either.
import { openRecording, type RecordingStatus } from '../recording/reader.js';
import type { RecordingHeader } from '../recording/format.js';
import type { DecodeStats } from '../events/decode.js';
import { FILE_REORDER, RecordStream } from '../events/recordStream.js';
import { resolveUapi, type Uapi } from '../events/uapi.js';
import type { UffdEvent } from '../events/types.js';

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

/** Streams every event of a recording, chunk by chunk (bounded memory). */
export function forEachRecordedEvent(
  path: string,
  uapiOverrides: Uapi | null,
  visit: (e: UffdEvent) => void,
  onHeader?: (h: RecordingHeader, uapi: Uapi) => void,
): RecordingRead {
  const rec = openRecording(path);
  const uapi = recordingUapi(rec.header, uapiOverrides);
  onHeader?.(rec.header, uapi);
  const stream = new RecordStream(uapi, rec.header.recordAbi, visit, FILE_REORDER);
  const it = rec.chunks();
  let r = it.next();
  while (!r.done) {
    const chunk = r.value;
    if (chunk.kind === 1) stream.push(chunk.payload, chunk.count);
    r = it.next();
  }
  stream.end();
  const status = r.value;
  const stats: DecodeStats = stream.stats;
  return { header: rec.header, status, decode: stats, counters: status.counters };
}
