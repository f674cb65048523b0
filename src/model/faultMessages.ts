// Pagefault messages read by handlers, joined to the fault they report: by
// the thread id the message carries, else by uffd and page (a hugetlb message
// carries the huge page's address). A message that matches no open fault is
// kept a while (bounded, aged out) for a fault rebuilt later from its block,
// wake-up or resume.

import type { MsgEvent } from '../events/types.js';
import type { IntMap } from './intMap.js';
import { BLOCKED, FAULTED, FifoList, Orphan, RESUMED, WOKEN, pkey, type Fault, type UState } from './faultState.js';
import type { LifecycleCounters } from './faultTypes.js';

/** Largest huge page (1 GiB): span searched for a hugetlb message's fault. */
const HUGE_SPAN = 1n << 30n;

export class FaultMessages {
  private readonly orphans = new FifoList<Orphan>();

  constructor(
    private readonly maxOrphans: number,
    /** VM_HUGETLB: hugetlb messages carry the huge-page address */
    private readonly vmHugetlb: bigint,
    private readonly counters: LifecycleCounters,
  ) {}

  /** Messages kept that matched no fault yet. */
  get orphanCount(): number {
    return this.orphans.size;
  }

  /** The open fault a pagefault message (of page `pn`) reports, if any. */
  match(e: MsgEvent, pn: number, threads: IntMap<Fault>, us: UState | undefined): Fault | undefined {
    const pf = e.pagefault!;
    if (pf.ptid !== 0) {
      const c = threads.get(pf.ptid);
      return c !== undefined && c.uffd === e.uffd && this.msgState(c, e.ts) && this.pageMatch(c, pn, pf.address) ? c : undefined;
    }
    return us !== undefined && us.open !== 0 ? this.candidate(us, pn, pf.address, e.ts) : undefined;
  }

  apply(f: Fault, ts: number, pid: number, tid: number, kind: Fault['msgKind'], flags: bigint): void {
    this.counters.msgsMatched++;
    f.msgs++;
    if (f.msgTs === undefined) {
      f.msgTs = ts;
      f.msgReaderPid = pid;
      f.msgReaderTid = tid;
      f.msgKind = kind;
      f.msgFlags = flags;
    }
  }

  /** Keeps a message that matched no fault (one per uffd and page). */
  keep(us: UState, e: MsgEvent, pn: number): void {
    this.counters.orphanMsgs++;
    if (this.maxOrphans === 0) {
      this.counters.orphanMsgsDropped++;
      return;
    }
    const pf = e.pagefault!;
    if (us.orphans === null) us.orphans = new Map();
    const old = us.orphans.get(pkey(pn));
    if (old !== undefined) this.drop(old);
    const o = new Orphan(us, pn, e.ts, e.pid, e.tid, pf.kind, pf.flags, pf.ptid);
    us.orphans.set(pkey(pn), o);
    this.orphans.push(o);
    if (this.orphans.size > this.maxOrphans) this.drop(this.orphans.head!);
  }

  /** A fault rebuilt from its block/wake/resume takes a kept message of its page read after it began. */
  adopt(f: Fault): void {
    const orphans = f.us.orphans;
    if (orphans === null) return;
    const o = orphans.get(pkey(f.pageNo));
    if (o !== undefined && o.pageNo === f.pageNo && (o.ptid === 0 || o.ptid === f.tid) && o.ts >= f.faultTs) {
      this.remove(o);
      this.apply(f, o.ts, o.readerPid, o.readerTid, o.kind, o.flags);
    }
  }

  /** Drops kept messages read at or before `t`. */
  expire(t: number): void {
    let o: Orphan | null;
    while ((o = this.orphans.head) !== null && o.ts <= t) this.drop(o);
  }

  clear(): void {
    let o: Orphan | null;
    while ((o = this.orphans.head) !== null) this.drop(o);
  }

  /** Can a message read at `ts` belong to f? Waiting for it, or woken after
   *  the read (a record reported late by another CPU). */
  private msgState(f: Fault, ts: number): boolean {
    const st = f.st;
    if (st === FAULTED || st === BLOCKED) return true;
    return (st === WOKEN || st === RESUMED) && f.wakeTs !== undefined && ts <= f.wakeTs && f.msgTs === undefined;
  }

  private pageMatch(f: Fault, pn: number, addr: bigint): boolean {
    if (f.pageNo === pn) return true;
    // hugetlb: the message carries the huge page's address
    return (f.vmFlags & this.vmHugetlb) !== 0n && f.address >= addr && f.address < addr + HUGE_SPAN;
  }

  private candidate(us: UState, pn: number, addr: bigint, ts: number): Fault | undefined {
    let best: Fault | undefined;
    for (let f = us.pages.get(pkey(pn)) ?? null; f !== null; f = f.pnext) {
      if (f.pageNo !== pn || !this.msgState(f, ts)) continue;
      if (f.msgTs === undefined) return f;
      if (best === undefined) best = f; // a re-wait's new message
    }
    if (best !== undefined) return best;
    // hugetlb fallback: look for a fault inside the huge page
    for (const head of us.pages.values()) {
      for (let f: Fault | null = head; f !== null; f = f.pnext) {
        if ((f.st === FAULTED || f.st === BLOCKED) && f.msgTs === undefined && f.pageNo !== pn && this.pageMatch(f, pn, addr)) {
          if (best === undefined || f.faultTs < best.faultTs) best = f;
        }
      }
    }
    return best;
  }

  private drop(o: Orphan): void {
    this.counters.orphanMsgsDropped++;
    this.remove(o);
  }

  private remove(o: Orphan): void {
    this.orphans.remove(o);
    if (o.us.orphans !== null && o.us.orphans.get(pkey(o.pageNo)) === o) o.us.orphans.delete(pkey(o.pageNo));
  }
}
