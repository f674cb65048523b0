// Record batches -> events, for the record layout (ABI) they were written in:
// live capture's, or a recording's (its header says). Every source decodes
// through here, so a new layout changes one function.
import type { DecodeStats } from '../events/decode.js';
import { RecordStream } from '../events/recordStream.js';
import type { ReorderOptions } from '../events/reorderBuffer.js';
import type { UffdEvent } from '../events/types.js';
import type { Uapi } from '../events/uapi.js';

export { LIVE_RECORD_ABI, FILE_REORDER } from '../events/recordStream.js';

/** Turns record batches into events, in order (it may carry state from batch to batch). */
export interface RecordDecoder {
  push(payload: Uint8Array, count: number): void;
  /** a live source with nothing new: hands on what waited the reorder window by this clock (CLOCK_BOOTTIME ns) */
  advance(nowNs: number): void;
  /** no more batches: hands on anything held back */
  end(): void;
  readonly stats: DecodeStats;
}

/** The decoder for records of ABI `abi` (1 or this build's); `opts` is the reorder window of ABI 2's waited faults. */
export function recordDecoder(abi: number, uapi: Uapi, visit: (e: UffdEvent) => void, opts?: ReorderOptions): RecordDecoder {
  return new RecordStream(uapi, abi, visit, opts);
}
