// The reorder scheduler: every slice, stage, instant and counter sample is an
// operation in one bounded heap (items.ts), written through the tracks and
// packets below it.
//
// Ordering and memory
//   Everything goes through one bounded reorder buffer (a heap of
//   operations) and leaves it in timestamp order, so sequence 1 is monotonic.
//   Fault records complete out of order (after resume + settle, after the
//   resolving ioctl's exit, or after the model's horizons), so each raw fault
//   entry and ioctl entry reserves a placeholder at its timestamp: output
//   stops at the oldest unfilled placeholder (at most maxHoldMs), and never
//   goes past (latest event - reorderWindowMs - rateWindowMs). When more than
//   maxBufferedOps operations are waiting, the oldest are written anyway.
//   A record that arrives after its time was written ("late": its fault was
//   held longer than that) is still written, complete, on a separate packet
//   sequence and a separate "late records" lane of its thread, without flows
//   or counter contributions; stats.late counts them.
//
// Nesting: slices on one track must nest. Each thread has lanes (the thread
// track, then child tracks "<comm> <tid> (overlap N)"); a slice goes to the
// first lane where it nests, so a fault that overlaps an ioctl of the same
// thread (a fault inside UFFDIO_COPY's copy_from_user) stays well formed.

import type { Ann } from './packets.js';
import { OpHeap } from './opHeap.js';
import { TYPE_INSTANT, TYPE_SLICE_BEGIN, TYPE_SLICE_END } from './proto.js';
import type { RecordingHeader } from '../../src/recording/format.js';
import {
  K_CTR_DELTA,
  K_CTR_SET,
  K_END,
  K_INSTANT,
  K_ITEM_BEGIN,
  K_MODE_BEGIN,
  K_MODE_END,
  K_SETMODE,
  K_STAGE_BEGIN,
  R_BEGIN,
  R_END,
  R_MID,
  addIdx,
  removeIdx,
  type Idx,
  type Op,
  type SliceItem,
} from './items.js';
import { CTR_RATE, TrackWriter, type Lane, type UffdState } from './tracks.js';

const KEY_RANK = 2 ** 46;

export interface ReorderOptions {
  /** how long (event time) records without a placeholder (fault entry lost) may lag behind events. Default 100 ms. */
  reorderWindowMs?: number;
  /** faults/s counter interval. Default 10 ms. */
  rateWindowMs?: number;
  /** longest wait for a fault record / ioctl exit before its time is written anyway. Default 6000 ms. */
  maxHoldMs?: number;
  /** cap on buffered operations (memory bound). Default 262144. */
  maxBufferedOps?: number;
  /** overwrite an existing output file */
  force?: boolean;
}

export abstract class ReorderScheduler extends TrackWriter {
  private readonly windowNs: number;
  private readonly rateNs: number;
  private readonly holdNs: number;
  private readonly maxOps: number;

  private readonly heap = new OpHeap<Op>();
  private opSeq = 0;
  private beginOrder = 0;

  /** fault placeholders by tid; ioctl items by tid (until written) */
  protected readonly faultIdx: Idx = new Map();
  protected readonly ioctlIdx: Idx = new Map();
  /** placeholders in creation order (the oldest unfilled one holds output back) */
  private pend: SliceItem[] = [];
  private pendHead = 0;

  /** bucket index -> uffd -> userfaults */
  private readonly buckets = new Map<number, Map<UffdState, number>>();
  private finalizedBefore = -Infinity;
  private readonly rateNonzero = new Set<UffdState>();

  /** latest event time seen */
  protected latest = -Infinity;
  private fillMark = -Infinity;

  constructor(out: string, header: RecordingHeader | null, opts: ReorderOptions) {
    super(out, !!opts.force, header);
    this.windowNs = (opts.reorderWindowMs ?? 100) * 1e6;
    this.rateNs = Math.max(1, Math.round((opts.rateWindowMs ?? 10) * 1e6));
    this.holdNs = Math.max(this.windowNs, (opts.maxHoldMs ?? 6000) * 1e6);
    this.maxOps = Math.max(1024, opts.maxBufferedOps ?? 262_144);
  }

  /** An ioctl whose exit did not come in time: fill it as a slice from its entry. */
  protected abstract abandonIoctl(it: SliceItem): void;

  /** Counts a userfault in its uffd's faults/s interval (while that is still open). */
  protected countFault(u: UffdState, faultTs: number): void {
    const b = Math.floor(faultTs / this.rateNs);
    if (b >= this.finalizedBefore) {
      let m = this.buckets.get(b);
      if (m === undefined) this.buckets.set(b, (m = new Map()));
      m.set(u, (m.get(u) ?? 0) + 1);
    }
  }

  /** Nothing more will arrive: gives up on open placeholders, closes spans, writes every operation. */
  protected drain(): void {
    // nothing more will arrive: give up on open placeholders, close spans
    for (let i = this.pendHead; i < this.pend.length; i++) {
      const it = this.pend[i];
      if (!it.filled && !it.dead && !it.begun) this.abandon(it);
    }
    this.pend = [];
    this.pendHead = 0;
    const endAt = this.latest;
    for (const u of this.uffds.values()) {
      if (u.modeOpen) this.schedule(this.op(K_MODE_END, Math.max(endAt, this.main.lastTs, u.modeTs), R_MID, 0, null, u));
      u.modeOpen = false;
    }
    this.fillMark = Infinity;
    this.finalizeBuckets(Infinity);
    this.flushTo(Infinity);
    const s = this.stats;
    if (s.late || s.lateDropped || s.abandonedFaults || s.forcedFlushes || s.laneOverflow) {
      const ann: Ann[] = [
        ['late_records', s.late],
        ['late_records_dropped', s.lateDropped],
        ['abandoned_fault_placeholders', s.abandonedFaults],
        ['forced_flushes', s.forcedFlushes],
        ['lane_overflow', s.laneOverflow],
      ];
      this.writeEvent(this.main, Math.max(this.main.lastTs, 0), this.root, TYPE_INSTANT, 'uffdscope export: reorder limits hit', 'uffdscope', ann);
    }
  }

  protected op(
    k: number,
    ts: number,
    rank: number,
    sub: number,
    item: SliceItem | null = null,
    uffd: UffdState | null = null,
    which = 0,
    name = '',
    ann: Ann[] | null = null,
    value = 0,
  ): Op {
    return { ts, key: 0, rank, sub, k, item, stage: null, lane: null, uffd, which, value, name, ann };
  }

  /**
   * At equal time: slice ends (rank 0) before instants and counters (rank 1)
   * before slice begins (rank 2); among ends, the slice begun last ends first
   * (sub = its begin order); otherwise insertion order.
   */
  protected schedule(o: Op): void {
    const seq = ++this.opSeq;
    o.key = o.rank * KEY_RANK + (o.rank === R_END ? KEY_RANK / 2 - o.sub : seq);
    if (o.ts < this.main.lastTs) o.ts = this.main.lastTs; // counters, spans, instants only (items go late)
    this.heap.push(o);
    if (this.heap.size > this.stats.maxBuffered) this.stats.maxBuffered = this.heap.size;
  }

  protected advanceMarks(): void {
    const latest = this.latest;
    const pend = this.pend;
    let h = this.pendHead;
    for (;;) {
      while (h < pend.length && (pend[h].filled || pend[h].dead || pend[h].begun)) h++;
      if (h < pend.length && pend[h].start < latest - this.holdNs) {
        this.abandon(pend[h]);
        h++;
        continue;
      }
      break;
    }
    if (h > 4096 && h * 2 > pend.length) {
      this.pend = pend.slice(h);
      h = 0;
    }
    this.pendHead = h;
    let a = latest - this.windowNs;
    if (h < this.pend.length && this.pend[h].start < a) a = this.pend[h].start;
    if (a > this.fillMark) {
      this.fillMark = a;
      if (Math.floor(a / this.rateNs) > this.finalizedBefore) this.finalizeBuckets(a);
    }
    this.flushTo(this.fillMark - this.rateNs);
  }

  /** Emits the counter samples of every faults/s interval that ends at or before `mark`. */
  private finalizeBuckets(mark: number): void {
    const bEnd = mark === Infinity ? Infinity : Math.floor(mark / this.rateNs);
    if (bEnd <= this.finalizedBefore) return;
    const keys: number[] = [];
    for (const k of this.buckets.keys()) if (k < bEnd) keys.push(k);
    keys.sort((x, y) => x - y);
    const perSec = 1e9 / this.rateNs;
    for (const b of keys) {
      this.rateZeros(b);
      const m = this.buckets.get(b)!;
      this.buckets.delete(b);
      for (const [u, n] of m) {
        this.schedule(this.op(K_CTR_SET, b * this.rateNs, R_MID, 0, null, u, CTR_RATE, '', null, n * perSec));
        u.rateLastBucket = b;
        this.rateNonzero.add(u);
      }
    }
    this.rateZeros(bEnd);
    this.finalizedBefore = bEnd;
  }

  /** A rate back to 0 after the last interval with faults, for intervals before `b`. */
  private rateZeros(b: number): void {
    for (const u of this.rateNonzero) {
      const z = u.rateLastBucket + 1;
      if (z >= b) continue;
      const m = this.buckets.get(z);
      if (m !== undefined && m.has(u)) continue;
      this.schedule(this.op(K_CTR_SET, z * this.rateNs, R_MID, 0, null, u, CTR_RATE, '', null, 0));
      this.rateNonzero.delete(u);
    }
  }

  private flushTo(mark: number): void {
    const heap = this.heap;
    for (;;) {
      const o = heap.peek();
      if (o === undefined) return;
      const over = heap.size > this.maxOps;
      if (o.ts > mark && !over) return;
      if (o.k === K_ITEM_BEGIN && !o.item!.filled && !o.item!.dead) {
        // its record / exit has not come yet: wait, up to maxHold
        if (!over && mark !== Infinity && o.ts >= this.latest - this.holdNs) return;
        this.abandon(o.item!);
        if (heap.peek() !== o) continue; // it scheduled something first (a SET_MODE instant)
      }
      if (o.ts > mark) {
        // buffer full: written early; intervals up to here are as complete as they will get
        this.stats.forcedFlushes++;
        const fm = o.ts + this.rateNs;
        if (fm > this.fillMark) {
          this.fillMark = fm;
          this.finalizeBuckets(fm);
          if (heap.peek() !== o) continue;
        }
      }
      heap.pop();
      this.run(o);
    }
  }

  /** A placeholder whose fault record / ioctl exit did not come in time. */
  private abandon(it: SliceItem): void {
    if (it.kind === 'fault') {
      it.dead = true;
      removeIdx(this.faultIdx, it.tid, it);
      this.stats.abandonedFaults++;
      return;
    }
    this.stats.ioctlsWithoutExit++;
    this.abandonIoctl(it);
  }

  private run(o: Op): void {
    const seq = this.main;
    switch (o.k) {
      case K_ITEM_BEGIN: {
        const it = o.item!;
        if (it.dead) return;
        this.beginItem(it, o.ts);
        return;
      }
      case K_STAGE_BEGIN:
        this.beginStage(o.item!, o.ts);
        return;
      case K_END: {
        const it = o.item;
        // a SET_MODE's woken count is final here: the woken faults' records hold output back
        const ann: Ann[] | null = it !== null && it.kind === 'ioctl' && it.ioctl?.name === 'UFFDIO_SET_MODE' ? [['waiters_woken', it.woken]] : null;
        this.writeEvent(seq, o.ts, o.lane!.track, TYPE_SLICE_END, null, null, ann);
        if (o.stage !== null) {
          // the next stage, when it starts where this one ended
          const st = it!.stages!;
          if (it!.nextStage < st.length && st[it!.nextStage].start === o.ts) this.beginStage(it!, o.ts);
        } else if (it !== null) this.doneItem(it);
        return;
      }
      case K_MODE_BEGIN: {
        this.stats.modeSpans++;
        this.writeEvent(seq, o.ts, this.uffdTrack(o.uffd!), TYPE_SLICE_BEGIN, o.name, 'uffd.mode', o.ann);
        return;
      }
      case K_MODE_END:
        this.writeEvent(seq, o.ts, this.uffdTrack(o.uffd!), TYPE_SLICE_END, null, null, null);
        return;
      case K_SETMODE: {
        const it = o.item!;
        const ann = o.ann!;
        ann.push(['waiters_woken', it.woken]);
        this.stats.setModeInstants++;
        this.writeEvent(seq, o.ts, this.uffdTrack(o.uffd!), TYPE_INSTANT, o.name, 'uffd.mode', ann);
        it.setModeOp = null;
        if (it.begun && it.lane === null) this.doneItem(it);
        return;
      }
      case K_CTR_DELTA: {
        const u = o.uffd!;
        u.ctrValue[o.which] += o.value;
        this.writeCounterOf(seq, o.ts, u, o.which, u.ctrValue[o.which]);
        return;
      }
      case K_CTR_SET:
        this.writeCounterOf(seq, o.ts, o.uffd!, o.which, o.value);
        return;
      case K_INSTANT:
        this.writeEvent(seq, o.ts, o.uffd ? this.uffdTrack(o.uffd) : this.root, TYPE_INSTANT, o.name, 'uffdscope', o.ann);
        return;
    }
  }

  private endOp(ts: number, order: number, lane: Lane, item: SliceItem | null): Op {
    const o = this.op(K_END, ts, R_END, order, item);
    o.lane = lane;
    return o;
  }

  private beginItem(it: SliceItem, ts: number): void {
    const th = this.thread(it.pid, it.tid, it.comm);
    const lane = this.pickLane(th, ts, it.end);
    it.begun = true;
    if (lane === null) {
      this.stats.laneOverflow++;
      this.resolveLinksUnwritten(it);
      this.doneItem(it);
      return;
    }
    it.lane = lane;
    lane.stack.push({ end: it.end, item: it.stages ? it : null });
    let flows: number[] | null = null;
    let term: number[] | null = null;
    if (it.links !== null) {
      for (const l of it.links) {
        if (!l.started) {
          l.started = true;
          (flows ??= []).push(l.id);
        } else {
          (term ??= []).push(l.id);
          this.stats.flows++;
        }
      }
    }
    this.writeEvent(this.main, ts, lane.track, TYPE_SLICE_BEGIN, it.name, it.cat, it.ann, flows, term);
    const order = ++this.beginOrder;
    if (it.kind === 'fault') this.stats.faultSlices++;
    else this.stats.ioctlSlices++;
    if (it.end === ts && it.stages === null && it.setModeOp === null) {
      // zero length: ends now (every end at this time is written already)
      this.writeEvent(this.main, ts, lane.track, TYPE_SLICE_END, null, null, null);
      lane.stack.pop();
      this.doneItem(it);
      return;
    }
    this.schedule(this.endOp(it.end, order, lane, it));
    const stages = it.stages;
    if (stages !== null) {
      // the first stage now if it starts with the slice; later ones follow the
      // previous stage's end, or get their own begin when there is a gap
      let prevEnd = ts;
      for (let i = 0; i < stages.length; i++) {
        if (stages[i].start !== prevEnd) {
          const so = this.op(K_STAGE_BEGIN, stages[i].start, R_BEGIN, 0, it);
          this.schedule(so);
        }
        prevEnd = stages[i].end;
      }
      if (stages[0].start === ts) this.beginStage(it, ts);
    }
  }

  private beginStage(it: SliceItem, ts: number): void {
    const st = it.stages![it.nextStage++];
    const lane = it.lane!;
    const stk = lane.stack;
    while (stk.length && stk[stk.length - 1].item !== it && stk[stk.length - 1].end <= ts) stk.pop();
    stk.push({ end: st.end, item: null });
    this.writeEvent(this.main, ts, lane.track, TYPE_SLICE_BEGIN, st.name, 'uffd.stage', null);
    const eo = this.endOp(st.end, ++this.beginOrder, lane, it);
    eo.stage = st;
    this.schedule(eo);
  }

  /** A flow whose other end was never written: nothing to terminate. */
  private resolveLinksUnwritten(it: SliceItem): void {
    if (it.links === null) return;
    for (const l of it.links) if (!l.started) l.started = true;
    it.links = null;
  }

  private doneItem(it: SliceItem): void {
    if (it.setModeOp !== null) {
      it.lane = null;
      return; // the SET_MODE instant still needs the woken count
    }
    if (it.kind === 'ioctl') removeIdx(this.ioctlIdx, it.tid, it);
  }

  protected emitLate(it: SliceItem): void {
    this.resolveLinksUnwritten(it);
    if (it.kind === 'ioctl') removeIdx(this.ioctlIdx, it.tid, it);
    const th = this.thread(it.pid, it.tid, it.comm);
    const lane = this.lateLane(th, it.start);
    const seq = lane === null ? null : this.lateSeq(it.start);
    if (lane === null || seq === null) {
      this.stats.lateDropped++;
      return;
    }
    this.stats.late++;
    lane.lastEnd = it.end;
    this.writeEvent(seq, it.start, lane.track, TYPE_SLICE_BEGIN, it.name, it.cat, [...it.ann, ['late', true]]);
    if (it.stages) {
      for (const st of it.stages) {
        this.writeEvent(seq, st.start, lane.track, TYPE_SLICE_BEGIN, st.name, 'uffd.stage', null);
        this.writeEvent(seq, st.end, lane.track, TYPE_SLICE_END, null, null, null);
      }
    }
    this.writeEvent(seq, it.end, lane.track, TYPE_SLICE_END, null, null, null);
    if (it.kind === 'fault') this.stats.faultSlices++;
    else this.stats.ioctlSlices++;
    const sm = it.setModeOp;
    if (sm !== null && sm.uffd !== null) {
      it.setModeOp = null;
      if (sm.ts >= seq.lastTs) {
        sm.ann!.push(['waiters_woken', it.woken], ['late', true]);
        this.stats.setModeInstants++;
        this.writeEvent(seq, sm.ts, this.uffdTrack(sm.uffd), TYPE_INSTANT, sm.name, 'uffd.mode', sm.ann);
      }
    }
  }

  /** A fault or ioctl slice begins on its thread: indexed for its end, and
   *  its begin scheduled (or, older than what was written, marked late). */
  protected openSlice(it: SliceItem, idx: Idx): void {
    this.thread(it.pid, it.tid, it.comm);
    addIdx(idx, it.tid, it);
    if (it.start < this.main.lastTs) {
      it.late = true;
      return;
    }
    this.pend.push(it);
    this.schedule(this.op(K_ITEM_BEGIN, it.start, R_BEGIN, 0, it));
  }
}
