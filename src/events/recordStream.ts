// A stream of record batches -> events in time order, whatever the record
// ABI: ABI 1 (old recordings) decodes record by record, in order; ABI 2
// (live capture, new recordings) keeps each thread's name and each
// process's VMAs from record to record and puts a waited fault's events,
// sent when it ends, back among the others (reorderBuffer.ts).

import { C } from './layout.generated.js';
import type { UffdEvent } from './types.js';
import type { Uapi } from './uapi.js';
import { decodeRecords, type DecodeStats } from './decode.js';
import { Abi2Decoder } from './decodeAbi2.js';
import { ReorderBuffer, type ReorderOptions } from './reorderBuffer.js';

/** The record ABI live capture produces. */
export const LIVE_RECORD_ABI: number = C.USCOPE_RECORD_ABI;

/** Reading a file, nobody waits for the next event: a fault may wait 2 s,
 *  or 60 s once its handler read its message, and still come in order (at
 *  most maxHeld events are held, whatever the rate). */
export const FILE_REORDER: ReorderOptions = { windowNs: 2e9, holdNs: 60e9 };

export class RecordStream {
  readonly stats: DecodeStats = { records: 0, unknown: 0, late: 0 };
  private readonly abi2: Abi2Decoder | null;
  private readonly order: ReorderBuffer | null;

  constructor(
    private readonly uapi: Uapi,
    readonly abi: number,
    private readonly visit: (e: UffdEvent) => void,
    opts: ReorderOptions = {},
  ) {
    if (abi !== 1 && abi !== C.USCOPE_RECORD_ABI) throw new RangeError(`record ABI ${abi}: this build reads ABI 1 and ${C.USCOPE_RECORD_ABI}`);
    this.abi2 = abi === 1 ? null : new Abi2Decoder(uapi);
    this.order = abi === 1 ? null : new ReorderBuffer(visit, opts);
  }

  /** `count` records (or all in `bytes`); throws DecodeError on a malformed one. */
  push(bytes: Uint8Array, count?: number): void {
    if (this.abi2 === null || this.order === null) {
      decodeRecords(bytes, this.uapi, this.visit, count, this.stats);
      return;
    }
    const order = this.order;
    const r = this.abi2.decode(bytes, (e, at) => order.push(e, at), count);
    this.stats.records += r.records;
    this.stats.unknown += r.unknown;
    this.stats.late = order.late;
  }

  /** A live source with nothing new: hands on what waited `windowNs` by this clock (CLOCK_BOOTTIME ns). */
  advance(nowNs: number): void {
    this.order?.drain(nowNs);
  }

  /** The stream ended: hands on everything held. */
  end(): void {
    this.order?.flush();
  }
}
