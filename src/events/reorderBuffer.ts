// Events back in time order, bounded. ABI 2 sends a fault that waited as
// one record when the thread runs again, after the handler's message and
// ioctl records; each event waits here until every record that could hold
// an earlier one has been emitted, i.e. until the newest emission time seen
// is `windowNs` past it (or `maxHeld` events wait). An event older than one
// already handed on is handed on at once and counted as late.
//
// Most events come in time order: they queue in arrival order (a FIFO);
// only those older than the newest queued (a waited fault's entry, sleep and
// wake-up) go to a min-heap by (ts, arrival). The next event out is the
// earlier of the two heads. Times are kept in arrays of their own: comparing
// them never touches the events, whose shapes differ by type.
//
// The window in use follows the stream: twice the furthest an event has
// been behind the newest emission lately (its record's own lag, a wait,
// plus how far records of different CPUs came out of order), plus a
// millisecond; at most `windowNs`, where it starts, and halved every 100 ms
// of record time until events show it must grow again. A stream without
// waits soon holds events for about a millisecond instead of the whole
// window: held longer, every event outlived V8's young generation and the
// decoder ran 4x slower (bench/README.md: transport).
//
// A fault may wait longer than the window. Its handler's pagefault message
// says it exists: from the message on, nothing more is handed on (events
// then within the window stay) until what the fault still owes has come,
// or `holdNs` passed (a fault of an untraced thread, or a lost record,
// never comes). A MISSING fault owes its whole record, sent when its wait
// ends (matched by page); any other fault was sent at entry and owes its
// wait, if it had one, which comes before anything else its thread does
// (matched by the thread of that page's latest fault sent at entry).

import type { MsgEvent, UffdEvent } from './types.js';

export interface ReorderOptions {
  /** how long (record time) an event waits for earlier ones; default 50 ms */
  windowNs?: number;
  /** most events waiting (~250 B each); the oldest go on beyond it. Default 131072. */
  maxHeld?: number;
  /** how long (record time) events wait behind a pagefault message for its fault; default 1 s */
  holdNs?: number;
}

/** Longer than nearly every fault's wait, short enough that a live view is not behind. */
export const DEFAULT_REORDER_WINDOW_NS = 50e6;
export const DEFAULT_REORDER_MAX_HELD = 1 << 17;
/** A live view may fall this far behind for a fault still waiting. */
export const DEFAULT_REORDER_HOLD_NS = 1e9;

const PAGE_MASK = ~0xfffn;
/** added to the window in use (see above) */
const WINDOW_SLACK_NS = 1e6;
/** how far behind events have been is halved this often (record time) */
const BEHIND_HALF_LIFE_NS = 100e6;
/** threads whose latest fault sent at entry is remembered */
const MAX_ENTRY_FAULTS = 1 << 16;

/** What a pagefault message holds back: from `at` on nothing is handed on, until `holdNs` after the message. */
interface Hold {
  at: number;
  msgTs: number;
}

export class ReorderBuffer {
  // in time order, from `qHead`
  private q: UffdEvent[] = [];
  private qTs: number[] = [];
  private qHead = 0;
  // the rest, a min-heap by (ts, seq)
  private readonly heap: UffdEvent[] = [];
  private readonly hTs: number[] = [];
  private readonly hSeq: number[] = [];
  private seq = 0;
  private newest = -Infinity;
  /** the newest record's emission (not a live clock: a consumer that fell
   *  behind would take its backlog for events coming late, and open the window) */
  private newestEmitted = -Infinity;
  private lastEmitted = -Infinity;
  /** ts of the last event handed on */
  private released = -Infinity;
  private readonly windowNs: number;
  private readonly maxHeld: number;
  private readonly holdNs: number;
  /** the furthest an event was behind the newest emission lately, and since when */
  private behind: number;
  private behindSince = -Infinity;
  /** MISSING pagefault messages whose fault has not come, by page (the same page of two uffds is one entry: a
   *  count, lifted by either fault): from when nothing more is handed on, and how many; oldest first */
  private readonly awaited = new Map<bigint, Hold & { n: number }>();
  /** threads whose fault, sent at entry, had its message read; oldest first */
  private readonly awaitedThreads = new Map<number, Hold>();
  /** the thread of each page's latest fault sent at entry, and that thread's page (at most one per thread) */
  private readonly entryFaultTid = new Map<bigint, number>();
  private readonly entryFaultPage = new Map<number, bigint>();
  late = 0;

  constructor(
    private readonly visit: (e: UffdEvent) => void,
    opts: ReorderOptions = {},
  ) {
    this.windowNs = opts.windowNs ?? DEFAULT_REORDER_WINDOW_NS;
    this.maxHeld = opts.maxHeld ?? DEFAULT_REORDER_MAX_HELD;
    this.holdNs = opts.holdNs ?? DEFAULT_REORDER_HOLD_NS;
    this.behind = this.windowNs / 2;
  }

  get held(): number {
    return this.q.length - this.qHead + this.heap.length;
  }

  /** An event, from a record emitted at `emittedAt` (one record's events come one after another). */
  push(e: UffdEvent, emittedAt: number): void {
    // drained between records, not within one: a fault's record lifts the
    // hold of its message before its sleep and wake-up are in
    if (emittedAt !== this.lastEmitted) {
      this.drain();
      this.lastEmitted = emittedAt;
    }
    const ts = e.ts;
    if (this.behindSince === -Infinity) this.behindSince = emittedAt;
    else if (emittedAt - this.behindSince > BEHIND_HALF_LIFE_NS) {
      this.behind /= 2;
      this.behindSince = emittedAt;
    }
    if (emittedAt > this.newestEmitted) this.newestEmitted = emittedAt;
    const behind = this.newestEmitted - ts;
    if (behind > this.behind) this.behind = behind;
    if (this.awaitedThreads.size > 0) this.awaitedThreads.delete(e.tid);
    if (e.type === 'msg' && e.pagefault) this.await(e.pagefault, ts);
    else if (e.type === 'fault') this.faultCame(e.tid, e.address & PAGE_MASK, ts === emittedAt);
    if (ts < this.released) {
      this.late++;
      this.visit(e);
    } else {
      const n = this.qTs.length;
      // equal times keep arrival order: the queue is older than any later heap entry
      if (n === this.qHead || ts >= this.qTs[n - 1]) {
        this.q.push(e);
        this.qTs.push(ts);
      } else {
        this.heapInsert(e, ts);
      }
      if (this.held > this.maxHeld) this.popOne();
    }
    if (emittedAt > this.newest) this.newest = emittedAt;
  }

  /** Hands on what waited long enough; `nowNs` (a live source's clock) counts as an emission time. */
  drain(nowNs?: number): void {
    if (nowNs !== undefined && nowNs > this.newest) this.newest = nowNs;
    let until = this.handOnUntil();
    const hold = this.holdFrom();
    if (hold <= until) until = hold - 1;
    while (this.held > 0 && this.headTs() <= until) this.popOne();
    this.compact();
  }

  /** Hands on everything (the stream ended). */
  flush(): void {
    while (this.held > 0) this.popOne();
    this.compact();
  }

  /** The newest time the window lets go. */
  private handOnUntil(): number {
    return this.newest - Math.min(this.windowNs, 2 * this.behind + WINDOW_SLACK_NS);
  }

  private await(pf: NonNullable<MsgEvent['pagefault']>, ts: number): void {
    // what the fault owes may be older than its message: what the window still holds stays
    const at = Math.max(this.released, Math.min(ts, this.handOnUntil()));
    const page = pf.address & PAGE_MASK;
    if (pf.kind === 'missing') {
      const a = this.awaited.get(page);
      if (a) a.n++;
      else this.awaited.set(page, { at, msgTs: ts, n: 1 });
      return;
    }
    const tid = this.entryFaultTid.get(page);
    if (tid !== undefined && !this.awaitedThreads.has(tid)) this.awaitedThreads.set(tid, { at, msgTs: ts });
  }

  /** A fault's record: it lifts a MISSING message's hold; one sent at entry (alone in its record) is remembered by page. */
  private faultCame(tid: number, page: bigint, alone: boolean): void {
    if (this.awaited.size > 0) {
      const a = this.awaited.get(page);
      if (a && --a.n === 0) this.awaited.delete(page);
    }
    if (!alone) return;
    const before = this.entryFaultPage.get(tid);
    if (before !== undefined && this.entryFaultTid.get(before) === tid) this.entryFaultTid.delete(before);
    // bounded by the threads seen; a host's churn of threads is forgotten wholesale
    if (this.entryFaultPage.size >= MAX_ENTRY_FAULTS) {
      this.entryFaultPage.clear();
      this.entryFaultTid.clear();
    }
    this.entryFaultPage.set(tid, page);
    this.entryFaultTid.set(page, tid);
  }

  /** The oldest time from which something still owed holds events back (messages come in about time order); Infinity for none. */
  private holdFrom(): number {
    const since = this.newest - this.holdNs;
    let from = Infinity;
    for (const [key, a] of this.awaited) {
      if (a.msgTs > since) {
        from = a.at;
        break;
      }
      this.awaited.delete(key);
    }
    for (const [tid, a] of this.awaitedThreads) {
      if (a.msgTs > since) return Math.min(from, a.at);
      this.awaitedThreads.delete(tid);
    }
    return from;
  }

  private headTs(): number {
    const qt = this.qHead < this.qTs.length ? this.qTs[this.qHead] : Infinity;
    const ht = this.heap.length > 0 ? this.hTs[0] : Infinity;
    return qt <= ht ? qt : ht;
  }

  private popOne(): void {
    const qt = this.qHead < this.qTs.length ? this.qTs[this.qHead] : Infinity;
    let e: UffdEvent;
    let ts: number;
    if (this.heap.length > 0 && this.hTs[0] < qt) {
      ts = this.hTs[0];
      e = this.heapPop();
    } else {
      ts = qt;
      e = this.q[this.qHead];
      this.q[this.qHead++] = undefined as unknown as UffdEvent;
    }
    if (ts > this.released) this.released = ts;
    this.visit(e);
  }

  /** Drops the queue's handed-on slots once they are most of it. */
  private compact(): void {
    if (this.qHead > 4096 && this.qHead * 2 > this.q.length) {
      this.q = this.q.slice(this.qHead);
      this.qTs = this.qTs.slice(this.qHead);
      this.qHead = 0;
    } else if (this.qHead === this.q.length && this.qHead > 0) {
      this.q.length = 0;
      this.qTs.length = 0;
      this.qHead = 0;
    }
  }

  private heapInsert(e: UffdEvent, ts: number): void {
    const h = this.heap;
    const t = this.hTs;
    const s = this.hSeq;
    const q = this.seq++;
    let i = h.length;
    h.push(e);
    t.push(ts);
    s.push(q);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (t[p] < ts || (t[p] === ts && s[p] < q)) break;
      h[i] = h[p];
      t[i] = t[p];
      s[i] = s[p];
      i = p;
    }
    h[i] = e;
    t[i] = ts;
    s[i] = q;
  }

  private heapPop(): UffdEvent {
    const h = this.heap;
    const t = this.hTs;
    const s = this.hSeq;
    const top = h[0];
    const lastE = h.pop()!;
    const lastT = t.pop()!;
    const lastS = s.pop()!;
    const n = h.length;
    if (n > 0) {
      // sift the last entry down from the root
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && (t[r] < t[l] || (t[r] === t[l] && s[r] < s[l])) ? r : l;
        if (lastT < t[c] || (lastT === t[c] && lastS < s[c])) break;
        h[i] = h[c];
        t[i] = t[c];
        s[i] = s[c];
        i = c;
      }
      h[i] = lastE;
      t[i] = lastT;
      s[i] = lastS;
    }
    return top;
  }
}
