// Events back in time order, bounded: a min-heap by (ts, arrival). ABI 2
// sends a fault that waited as one record when the thread runs again, after
// the handler's message and ioctl records; each event waits here until
// every record that could hold an earlier one has been emitted, i.e. until
// the newest emission time seen is `windowNs` past it (or `maxHeld` events
// wait). An event older than one already handed on is handed on at once
// and counted as late.

import type { UffdEvent } from './types.js';

export interface ReorderOptions {
  /** how long (record time) an event waits for earlier ones; default 100 ms */
  windowNs?: number;
  /** most events waiting (~250 B each); the oldest go on beyond it. Default 131072. */
  maxHeld?: number;
}

/** Longer than nearly every fault's wait, short enough that a live view is not behind. */
export const DEFAULT_REORDER_WINDOW_NS = 100e6;
export const DEFAULT_REORDER_MAX_HELD = 1 << 17;

export class ReorderBuffer {
  private readonly heap: UffdEvent[] = [];
  private readonly seqs: number[] = [];
  private seq = 0;
  private newest = -Infinity;
  /** ts of the last event handed on */
  private released = -Infinity;
  private readonly windowNs: number;
  private readonly maxHeld: number;
  late = 0;

  constructor(
    private readonly visit: (e: UffdEvent) => void,
    opts: ReorderOptions = {},
  ) {
    this.windowNs = opts.windowNs ?? DEFAULT_REORDER_WINDOW_NS;
    this.maxHeld = opts.maxHeld ?? DEFAULT_REORDER_MAX_HELD;
  }

  get held(): number {
    return this.heap.length;
  }

  /** An event, from a record emitted at `emittedAt`. */
  push(e: UffdEvent, emittedAt: number): void {
    if (e.ts < this.released) {
      this.late++;
      this.visit(e);
    } else {
      this.insert(e);
      if (this.heap.length > this.maxHeld) this.pop();
    }
    if (emittedAt > this.newest) this.newest = emittedAt;
    this.drain();
  }

  /** Hands on what waited long enough; `nowNs` (a live source's clock) counts as an emission time. */
  drain(nowNs?: number): void {
    if (nowNs !== undefined && nowNs > this.newest) this.newest = nowNs;
    const until = this.newest - this.windowNs;
    while (this.heap.length > 0 && this.heap[0].ts <= until) this.pop();
  }

  /** Hands on everything (the stream ended). */
  flush(): void {
    while (this.heap.length > 0) this.pop();
  }

  private pop(): void {
    const h = this.heap;
    const s = this.seqs;
    const top = h[0];
    const lastE = h.pop()!;
    const lastS = s.pop()!;
    if (h.length > 0) {
      // sift the last element down from the root
      let i = 0;
      const n = h.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && this.less(h[r], s[r], h[l], s[l]) ? r : l;
        if (!this.less(h[c], s[c], lastE, lastS)) break;
        h[i] = h[c];
        s[i] = s[c];
        i = c;
      }
      h[i] = lastE;
      s[i] = lastS;
    }
    if (top.ts > this.released) this.released = top.ts;
    this.visit(top);
  }

  private insert(e: UffdEvent): void {
    const h = this.heap;
    const s = this.seqs;
    const q = this.seq++;
    let i = h.length;
    h.push(e);
    s.push(q);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(e, q, h[p], s[p])) break;
      h[i] = h[p];
      s[i] = s[p];
      i = p;
    }
    h[i] = e;
    s[i] = q;
  }

  private less(a: UffdEvent, sa: number, b: UffdEvent, sb: number): boolean {
    return a.ts < b.ts || (a.ts === b.ts && sa < sb);
  }
}
