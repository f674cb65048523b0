// Record batches -> events, for the record layout (ABI) they were written in:
// live capture's, or a recording's (its header says). Every source decodes
// through here, so a new layout changes one function.
import { C } from '../events/layout.generated.js';
import { decodeRecords, type DecodeStats } from '../events/decode.js';
import type { UffdEvent } from '../events/types.js';
import type { Uapi } from '../events/uapi.js';

/** The record ABI live capture produces. */
export const LIVE_RECORD_ABI: number = C.USCOPE_RECORD_ABI;

/** Turns record batches into events, in order (it may carry state from batch to batch). */
export interface RecordDecoder {
  push(payload: Uint8Array, count: number): void;
  /** no more batches: hands on anything held back */
  end(): void;
  readonly stats: DecodeStats;
}

/** The decoder for records of ABI `abi` (this build has one layout; the reader refuses newer ones). */
export function recordDecoder(abi: number, uapi: Uapi, visit: (e: UffdEvent) => void): RecordDecoder {
  const stats: DecodeStats = { records: 0, unknown: 0 };
  return { stats, push: (payload, count) => decodeRecords(payload, uapi, visit, count, stats), end: () => {} };
}
