// The fault lifecycle: joins the stages of each userfault, as the kernel side
// records them, into one FaultRecord per fault:
//
//   fault entry -> blocked in handle_userfault() -> message read by a handler
//   -> resolving ioctl -> woken -> running again
//
// Joins are by thread (a thread has at most one fault in progress), by uffd
// context and page (address & ~4095) for messages and ioctl ranges, and by
// the ioctl in flight on the waking thread for wake-ups.
//
// Every fault entry ends in exactly one record, whether or not it ever waited
// (see FaultEnd for the ways a fault ends). Memory is bounded: open faults,
// in-flight ioctls and unmatched messages are capped and aged out in event
// time, and what is dropped is counted.
//
// Stages (ns), for a fault that blocked and ran again:
//   total   = resume - fault
//   queue   = msg read - fault
//   service = B - msg read
//   wake    = resume - B
// where B is the moment the fault was resolved: the wake-up, or the resolving
// ioctl's exit when that came first (UFFDIO_COPY with DONTWAKE then
// UFFDIO_WAKE). So queue + service + wake == total whenever all are known.
//
// This file is the state machine; what it delivers is in faultTypes.ts, its
// working state in faultState.ts, the kernel's rules in faultRules.ts, message
// joins in faultMessages.ts, the ioctls in flight (and the records waiting
// for their exits) in inflightIoctls.ts and the record it makes in
// faultRecord.ts.

import type {
  BlockEvent,
  FaultEvent,
  IoctlEvent,
  MsgEvent,
  ProcEvent,
  ResumeEvent,
  UffdCloseEvent,
  UffdEvent,
  WakeEvent,
} from '../events/types.js';
import type { Uapi } from '../events/uapi.js';
import { IntMap } from './intMap.js';
import { wakeCauseOf } from '../kernel/uffdIoctls.js';
import { FAULT_ENDS, type FaultEnd, type FaultListener, type LifecycleCounters, type LifecycleOptions, type OpenFaultView } from './faultTypes.js';
import { BLOCKED, DONE, FAULTED, FifoList, Fault, IoctlCall, NO_ARMED, RESUMED, RecentEnds, UState, WOKEN, openFaultView, pageNumber } from './faultState.js';
import { FaultMessages } from './faultMessages.js';
import { InflightIoctls } from './inflightIoctls.js';
import { FaultRules } from './faultRules.js';
import { faultRecord } from './faultRecord.js';

export * from './faultTypes.js';

export class FaultLifecycle {
  readonly counters: LifecycleCounters;

  private readonly horizonNs: number;
  private readonly blockedHorizonNs: number;
  private readonly settleNs: number;
  private readonly raceWindowNs: number;
  private readonly maxOpen: number;
  private readonly checkEveryNs: number;

  private readonly rules: FaultRules;

  /** open fault per thread (every open fault is here). The per-thread and
   *  per-page indices are IntMaps, not Maps: they change at almost every
   *  event, and a long-lived Map's changes fill old space (see intMap.ts). */
  private readonly threads = new IntMap<Fault>();
  /** open faults by state, in the order they entered it */
  private readonly unblocked = new FifoList<Fault>();
  private readonly waiting = new FifoList<Fault>();
  private readonly settling = new FifoList<Fault>();
  /** last ended fault per thread, to ignore its late events */
  private readonly done: RecentEnds;
  private readonly ustates = new Map<bigint, UState>();
  private lastUs: UState | null = null;
  private readonly ioctls: InflightIoctls;
  /** thread -> uffd it is closing (until that thread does something else) */
  private readonly closing = new Map<number, bigint>();
  private readonly messages: FaultMessages;
  private readonly listeners: FaultListener[] = [];
  private readonly scratch: Fault[] = [];

  private now = 0;
  private nextCheck = 0;

  constructor(uapi: Uapi, opts: LifecycleOptions = {}) {
    this.horizonNs = opts.horizonNs ?? 5e9;
    this.blockedHorizonNs = opts.blockedHorizonNs ?? 60e9;
    this.settleNs = opts.settleNs ?? 10e6;
    this.raceWindowNs = opts.raceWindowNs ?? 1e6;
    this.maxOpen = Math.max(1, opts.maxOpenFaults ?? 100_000);
    this.done = new RecentEnds(Math.min(this.maxOpen, 1 << 22));
    this.checkEveryNs = Math.max(1, Math.min(this.settleNs, this.horizonNs, this.blockedHorizonNs) / 2);
    this.rules = new FaultRules(uapi);
    const ends = {} as Record<FaultEnd, number>;
    for (const k of FAULT_ENDS) ends[k] = 0;
    this.counters = {
      faults: 0,
      records: 0,
      userfaults: 0,
      ends,
      recovered: 0,
      lateEvents: 0,
      msgsMatched: 0,
      orphanMsgs: 0,
      orphanMsgsDropped: 0,
      ioctlExitsWithoutEnter: 0,
      ioctlsDropped: 0,
    };
    this.messages = new FaultMessages(Math.max(0, opts.maxOrphanMsgs ?? 10_000), opts.vmHugetlb ?? 0x00400000n, this.counters);
    this.ioctls = new InflightIoctls(Math.max(1, opts.maxInflightIoctls ?? 65_536), this.counters, (f) => this.emit(f));
  }

  /** Calls `fn` with every record; returns an unsubscribe function. */
  onRecord(fn: FaultListener): () => void {
    this.listeners.push(fn);
    return () => {
      const i = this.listeners.indexOf(fn);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  get openFaults(): number {
    return this.threads.size;
  }

  get inflightIoctls(): number {
    return this.ioctls.size;
  }

  get orphanMessages(): number {
    return this.messages.orphanCount;
  }

  /** The faults currently open (for a live view). */
  openFaultViews(): OpenFaultView[] {
    const out: OpenFaultView[] = [];
    for (const f of this.threads.values()) out.push(openFaultView(f));
    return out;
  }

  push(e: UffdEvent): void {
    const ts = e.ts;
    if (ts > this.now) {
      this.now = ts;
      if (ts >= this.nextCheck) this.expire(ts);
    }
    switch (e.type) {
      case 'fault':
        this.onFault(e);
        break;
      case 'block':
        this.onBlock(e);
        break;
      case 'wake':
        this.onWake(e);
        break;
      case 'resume':
        this.onResume(e);
        break;
      case 'ioctl_enter':
        this.onIoctlEnter(e);
        break;
      case 'ioctl_exit':
        this.onIoctlExit(e);
        break;
      case 'msg':
        this.onMsg(e);
        break;
      case 'uffd_close':
        this.onClose(e);
        break;
      case 'proc':
        this.onProc(e);
        break;
      case 'hu':
        // Exact handle_userfault() entry/exit (fentry/kprobe backends): it
        // happens inside the fault, so it is not "the thread moved on".
        break;
      default:
        this.activity(e.tid);
    }
  }

  /** Moves event time forward with no event (a live source calls this when idle). */
  advance(ts: number): void {
    if (ts > this.now) {
      this.now = ts;
      this.expire(ts);
    }
  }

  /** Ends every open fault (the trace is over) and flushes held records. */
  finish(endTs?: number): void {
    if (endTs !== undefined && endTs > this.now) this.now = endTs;
    let f: Fault | null;
    while ((f = this.settling.head) !== null) this.finalize(f, f.wakeCause, false);
    while ((f = this.unblocked.head) !== null) this.finalize(f, this.rules.classifyUnblocked(f), false);
    // woken but not yet back on a CPU when the trace ended: resolved, nothing lost
    while ((f = this.waiting.head) !== null) this.finalize(f, f.st === WOKEN ? f.wakeCause : 'open_at_end', false);
    this.ioctls.finish();
    this.closing.clear();
    this.messages.clear();
    this.done.clear();
  }

  // ---- event handlers ----

  private onFault(e: FaultEvent): void {
    this.counters.faults++;
    // the uffd's features first: the thread's previous fault may be judged by them
    const us = this.ustate(e.uffd);
    us.ctxFeatures = e.ctxFeatures;
    const prev = this.threads.get(e.tid);
    if (prev !== undefined) this.endByActivity(prev);
    if (this.closing.size !== 0) this.closing.delete(e.tid);
    const f = new Fault(us, e.pid, e.tid, e.comm, e.address, e.ts, e.errorCode, e.armed, e.ctxFeatures, e.vmFlags, false);
    this.open(f);
  }

  private onBlock(e: BlockEvent): void {
    let f = this.threads.get(e.tid);
    if (f !== undefined && f.faultTs !== e.faultTs) {
      this.endByActivity(f);
      f = undefined;
    }
    if (f === undefined) {
      if (this.done.get(e.tid) === e.faultTs) {
        this.counters.lateEvents++;
        return;
      }
      f = this.recover(e.pid, e.tid, e.comm, e.uffd, e.address, e.faultTs);
    }
    this.leaveState(f);
    if (f.st !== FAULTED) {
      // a re-wait: the previous wake-up did not resolve the fault
      f.wakeTs = undefined;
      f.wakerPid = undefined;
      f.wakerTid = undefined;
      f.wakerComm = undefined;
      f.wakeIoctl = null;
      f.wakeCause = 'signal_or_spurious';
      f.resumeTs = undefined;
      f.rr = null;
      f.wakeMissing = false;
    }
    f.st = BLOCKED;
    f.blocked = true;
    if (f.blockTs === undefined) f.blockTs = e.ts;
    f.lastBlockTs = e.ts;
    f.nblocks = e.nblocks > f.nblocks ? e.nblocks : f.nblocks + 1;
    f.blockHow = e.how;
    this.waiting.push(f);
  }

  private onWake(e: WakeEvent): void {
    // the waker is running: whatever fault it had is over
    if (e.tid !== e.targetTid) {
      const wf = this.threads.get(e.tid);
      if (wf !== undefined) this.endByActivity(wf);
    }
    let f = this.threads.get(e.targetTid);
    if (f !== undefined && f.faultTs !== e.faultTs) {
      this.endByActivity(f);
      f = undefined;
    }
    if (f === undefined) {
      if (this.done.get(e.targetTid) === e.faultTs) {
        this.counters.lateEvents++;
        return;
      }
      f = this.recover(e.targetPid, e.targetTid, '', e.uffd, e.address, e.faultTs);
    }
    if (f.st === RESUMED && f.wakeMissing && e.ts <= f.resumeTs!) {
      // the wake-up of this resume, reported after it (records of two CPUs)
      f.wakeMissing = false;
      f.wakeTs = e.ts;
      f.wakerPid = e.pid;
      f.wakerTid = e.tid;
      f.wakerComm = e.comm;
      this.attributeWake(f, e.tid, e.ts);
      return;
    }
    if (f.st !== BLOCKED) {
      // block (or re-block) record lost: the kernel side only reports wakes of blocked faults
      this.leaveState(f);
      if (f.st !== FAULTED) {
        f.resumeTs = undefined;
        f.rr = null;
      }
      f.blocked = true;
      if (f.nblocks === 0 || f.st !== FAULTED) f.nblocks++;
      if (f.blockTs === undefined) f.blockTs = e.ts;
      f.lastBlockTs = e.ts;
      f.incomplete = true;
      this.waiting.push(f);
    }
    f.st = WOKEN;
    f.wakeTs = e.ts;
    f.wakerPid = e.pid;
    f.wakerTid = e.tid;
    f.wakerComm = e.comm;
    this.attributeWake(f, e.tid, e.ts);
  }

  private attributeWake(f: Fault, wakerTid: number, wakeTs: number): void {
    const io = this.ioctls.get(wakerTid);
    if (io !== undefined && io.uffd === f.uffd && io.enterTs <= wakeTs) {
      f.wakeIoctl = io;
      f.wakeCause = wakeCauseOf(io.name);
      if (f.wakerPid === undefined) f.wakerPid = io.pid;
      if (f.wakerComm === undefined) f.wakerComm = io.comm;
      return;
    }
    f.wakeIoctl = null;
    f.wakeCause = this.closing.get(wakerTid) === f.uffd ? 'closed' : 'signal_or_spurious';
  }

  private onResume(e: ResumeEvent): void {
    let f = this.threads.get(e.tid);
    if (f !== undefined && f.faultTs !== e.faultTs) {
      this.endByActivity(f);
      f = undefined;
    }
    if (f === undefined) {
      if (this.done.get(e.tid) === e.faultTs) {
        this.counters.lateEvents++;
        return;
      }
      f = this.recover(e.pid, e.tid, e.comm, e.uffd, e.address, e.faultTs);
    }
    if (f.st === RESUMED) {
      this.counters.lateEvents++;
      return;
    }
    if (f.st !== WOKEN) {
      // wake-up record lost (or still to come from another CPU): the resume
      // carries the waker's tid and time
      f.wakeMissing = true;
      f.blocked = true;
      if (f.nblocks === 0) f.nblocks = 1;
      f.wakeTs = e.wakeTs;
      f.wakerTid = e.wakerTid;
      f.wakerPid = undefined;
      f.wakerComm = undefined;
      this.attributeWake(f, e.wakerTid, e.wakeTs);
    }
    this.leaveState(f);
    f.st = RESUMED;
    f.resumeTs = e.ts;
    if (f.comm === '') f.comm = e.comm;
    this.settling.push(f);
  }

  private onIoctlEnter(e: IoctlEvent): void {
    this.activity(e.tid);
    this.ustateCtx(e.uffd, e.ctxFeatures);
    if (e.name === 'UFFDIO_SET_MODE') this.ustate(e.uffd).setModeSince = e.ts;
    this.ioctls.enter(e);
  }

  private onIoctlExit(e: IoctlEvent): void {
    this.activity(e.tid);
    this.ustateCtx(e.uffd, e.ctxFeatures);
    if (e.name === 'UFFDIO_SET_MODE') {
      const us = this.ustates.get(e.uffd);
      if (us !== undefined && us.setModeSince <= e.enterTs) us.setModeSince = -1;
    }
    const io = this.ioctls.exit(e);
    // faults on the range it resolved, or unregistered, are over
    this.resolveRange(io);
    if (io.name === 'UFFDIO_UNREGISTER' && e.ret === 0) this.unregisterRange(io);
    this.ioctls.release(io);
  }

  private onMsg(e: MsgEvent): void {
    this.activity(e.tid);
    const pf = e.pagefault;
    if (pf === undefined) return;
    const pn = pageNumber(pf.address);
    const f = this.messages.match(e, pn, this.threads, this.ustates.get(e.uffd));
    if (f === undefined) this.messages.keep(this.ustate(e.uffd), e, pn);
    else this.messages.apply(f, e.ts, e.pid, e.tid, pf.kind, pf.flags);
  }

  private onClose(e: UffdCloseEvent): void {
    this.activity(e.tid);
    this.closing.set(e.tid, e.uffd);
    if (this.closing.size > 4096) this.closing.clear(); // closers that never ran again
    // faults still entering (not blocked) on this uffd end here
    const us = this.ustates.get(e.uffd);
    if (us === undefined || us.open === 0) return;
    for (const head of us.pages.values()) {
      for (let f: Fault | null = head; f !== null; ) {
        const next: Fault | null = f.pnext;
        if (f.st === FAULTED) this.finalize(f, this.rules.externalEnd(f, 'closed'), true);
        f = next;
      }
    }
  }

  private onProc(e: ProcEvent): void {
    if (e.kind !== 'exit') {
      this.activity(e.tid);
      return;
    }
    // the whole thread group is gone
    const pid = e.pid;
    for (const f of this.threads.values()) {
      if (f.pid !== pid) continue;
      if (f.st === FAULTED) this.finalize(f, this.rules.externalEnd(f, 'exit'), true);
      else if (f.st === RESUMED) this.finalize(f, f.wakeCause, true);
      else this.finalize(f, 'exit', true);
    }
    this.ioctls.dropProcess(pid);
  }

  // ---- ranges ----

  /** Open faults of `uffd` on a page of [start, start+len), into this.scratch. */
  private collectRange(uffd: bigint, start: bigint, len: bigint): Fault[] {
    const us = this.ustates.get(uffd);
    if (us === undefined) {
      this.scratch.length = 0;
      return this.scratch;
    }
    return us.collect(start, len, this.scratch);
  }

  private resolveRange(io: IoctlCall): void {
    const r = this.rules.resolvedRange(io);
    if (r === null) return;
    const lo = io.enterTs - this.raceWindowNs;
    const hi = io.exitTs!;
    const fs = this.collectRange(io.uffd, r[0], r[1]);
    for (let i = 0; i < fs.length; i++) {
      const f = fs[i];
      if (f.st === FAULTED) {
        if (f.faultTs >= lo && f.faultTs <= hi && this.rules.canResolve(io.name, f)) f.rr = io;
      } else if (f.st === BLOCKED) {
        // e.g. UFFDIO_COPY with DONTWAKE: resolved, waiting for UFFDIO_WAKE
        f.rr = io;
      }
    }
    fs.length = 0;
  }

  private unregisterRange(io: IoctlCall): void {
    const a = io.args;
    if (a === null || a.start === undefined || a.len === undefined) return;
    const fs = this.collectRange(io.uffd, a.start, a.len).slice();
    this.scratch.length = 0;
    for (const f of fs) if (f.st === FAULTED) this.finalize(f, this.rules.externalEnd(f, 'unregistered'), true);
  }

  // ---- state plumbing ----

  private ustate(key: bigint): UState {
    const l = this.lastUs;
    if (l !== null && l.key === key) return l;
    let us = this.ustates.get(key);
    if (us === undefined) {
      us = new UState(key);
      this.ustates.set(key, us);
    }
    this.lastUs = us;
    return us;
  }

  private ustateCtx(key: bigint, ctxFeatures: number): void {
    const us = this.ustates.get(key);
    if (us !== undefined) us.ctxFeatures = ctxFeatures;
  }

  private open(f: Fault): void {
    this.threads.set(f.tid, f);
    this.unblocked.push(f);
    f.us.link(f);
    if (this.threads.size > this.maxOpen) this.evictOldest();
  }

  private recover(pid: number, tid: number, comm: string, uffd: bigint, address: bigint, faultTs: number): Fault {
    this.counters.recovered++;
    const us = this.ustate(uffd);
    const f = new Fault(us, pid, tid, comm, address, faultTs, -1, NO_ARMED, us.ctxFeatures, 0n, true);
    f.incomplete = true;
    this.open(f);
    this.messages.adopt(f);
    return f;
  }

  private leaveState(f: Fault): void {
    const l = f.lowner;
    if (l !== null) l.remove(f);
  }

  /** The thread was seen doing something else: its open fault is over. */
  private activity(tid: number): void {
    const f = this.threads.get(tid);
    if (f !== undefined) this.endByActivity(f);
    if (this.closing.size !== 0) this.closing.delete(tid);
  }

  private endByActivity(f: Fault): void {
    switch (f.st) {
      case FAULTED:
        this.finalize(f, this.rules.classifyUnblocked(f), false);
        break;
      case RESUMED:
        this.finalize(f, f.wakeCause, false);
        break;
      case WOKEN:
        // its resume was lost
        f.incomplete = true;
        this.finalize(f, f.wakeCause, true);
        break;
      case BLOCKED:
        if (this.wakeRacedBlock(f)) this.finalize(f, 'resolved', true);
        else {
          f.incomplete = true;
          this.finalize(f, 'incomplete', true);
        }
        break;
    }
  }

  /**
   * A blocked fault whose thread moves on with no wake-up seen, and whose
   * resolving ioctl had begun when the block was recorded: the ioctl's
   * wake-up ran while the thread was still switching out, before the
   * sched_switch hook marked it blocked, so the kernel side had no blocked
   * fault to report a wake-up for. Resolved, and no record was lost.
   */
  private wakeRacedBlock(f: Fault): boolean {
    const rr = f.rr;
    return rr !== null && rr.enterTs <= f.lastBlockTs;
  }

  private evictOldest(): void {
    // a resumed fault is complete: end it normally before dropping anything
    const s = this.settling.head;
    if (s !== null) {
      this.finalize(s, s.wakeCause, true);
      return;
    }
    const u = this.unblocked.head;
    const w = this.waiting.head;
    const f = u === null ? w : w === null ? u : w.faultTs < u.faultTs ? w : u;
    if (f !== null) this.finalize(f, 'evicted', true);
  }

  private expire(now: number): void {
    this.nextCheck = now + this.checkEveryNs;
    let f: Fault | null;
    let t = now - this.settleNs;
    while ((f = this.settling.head) !== null && f.resumeTs! <= t) this.finalize(f, f.wakeCause, true);
    t = now - this.horizonNs;
    while ((f = this.unblocked.head) !== null && f.faultTs <= t) this.finalize(f, this.rules.classifyUnblocked(f), true);
    t = now - this.blockedHorizonNs;
    while ((f = this.waiting.head) !== null && f.lastBlockTs <= t) this.finalize(f, 'expired', true);
    this.messages.expire(now - this.horizonNs);
  }

  private finalize(f: Fault, reason: FaultEnd, remember: boolean): void {
    this.leaveState(f);
    if (this.threads.get(f.tid) === f) this.threads.delete(f.tid);
    f.us.unlink(f);
    f.st = DONE;
    f.end = reason;
    f.endTs = this.now;
    if (remember) this.done.remember(f.tid, f.faultTs);
    // held until its ioctls' exits are known
    if (!this.ioctls.hold(f)) this.emit(f);
  }

  private emit(f: Fault): void {
    const r = faultRecord(f, this.rules);
    const reason = r.end;
    const userfault = r.userfault;
    f.rr = null;
    f.wakeIoctl = null;
    const c = this.counters;
    c.records++;
    c.ends[reason]++;
    if (userfault) c.userfaults++;
    const ls = this.listeners;
    for (let i = 0; i < ls.length; i++) ls[i](r);
  }
}
