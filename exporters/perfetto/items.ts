// The units of the trace before they are written: slices (a fault or an
// ioctl, with its stages and flows), the operations the reorder buffer sorts,
// and per-thread indexes of slices by their start.

import type { IoctlEvent } from '../../src/events/types.js';
import type { Ann } from './packets.js';
import type { Lane, UffdState } from './tracks.js';

/** Op.rank: at equal time, slice ends, then instants and counters, then slice begins */
export const R_END = 0;
export const R_MID = 1;
export const R_BEGIN = 2;

/** Op.k: what an operation writes */
export const K_ITEM_BEGIN = 1;
export const K_STAGE_BEGIN = 2;
export const K_END = 3;
export const K_MODE_BEGIN = 4;
export const K_MODE_END = 5;
export const K_SETMODE = 6;
export const K_CTR_DELTA = 7;
export const K_CTR_SET = 8;
export const K_INSTANT = 9;

export interface Stage {
  name: string;
  start: number;
  end: number;
}

export interface FlowLink {
  id: number;
  started: boolean;
}

export class SliceItem {
  filled = false;
  dead = false;
  begun = false;
  late = false;
  start: number;
  end: number;
  name = '';
  cat = '';
  ann: Ann[] = [];
  stages: Stage[] | null = null;
  nextStage = 0;
  links: FlowLink[] | null = null;
  lane: Lane | null = null;
  /** ioctl items */
  ioctl: IoctlEvent | null = null;
  woken = 0;
  setModeOp: Op | null = null;
  constructor(
    readonly kind: 'fault' | 'ioctl',
    readonly pid: number,
    readonly tid: number,
    public comm: string,
    start: number,
  ) {
    this.start = start;
    this.end = start;
  }
}

export interface Op {
  ts: number;
  /** tie-break at equal ts: rank * 2^46 + (ends: 2^45 - begin order; others: insertion order) */
  key: number;
  rank: number;
  sub: number;
  k: number;
  item: SliceItem | null;
  stage: Stage | null;
  lane: Lane | null;
  uffd: UffdState | null;
  which: number;
  value: number;
  name: string;
  ann: Ann[] | null;
}

// ---- per-thread indexes: tid -> start ts -> item ----

export type Idx = Map<number, Map<number, SliceItem>>;

export function addIdx(m: Idx, tid: number, it: SliceItem): void {
  let a = m.get(tid);
  if (a === undefined) m.set(tid, (a = new Map()));
  a.set(it.start, it);
  if (a.size > 4096) {
    // bound: entries of a thread that never completed (lost exits)
    for (const k of a.keys()) {
      a.delete(k);
      break;
    }
  }
}

export function findIdx(m: Idx, tid: number, start: number): SliceItem | undefined {
  return m.get(tid)?.get(start);
}

export function takeIdx(m: Idx, tid: number, start: number): SliceItem | undefined {
  const a = m.get(tid);
  if (a === undefined) return undefined;
  const it = a.get(start);
  if (it !== undefined) {
    a.delete(start);
    if (a.size === 0) m.delete(tid);
  }
  return it;
}

export function removeIdx(m: Idx, tid: number, it: SliceItem): void {
  const a = m.get(tid);
  if (a === undefined || a.get(it.start) !== it) return;
  a.delete(it.start);
  if (a.size === 0) m.delete(tid);
}
