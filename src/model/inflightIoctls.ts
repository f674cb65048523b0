// The fault lifecycle's ioctls in flight: one per thread, from entry to exit,
// and the fault records that wait for an ioctl's exit before they are
// delivered (a record names the ioctl that resolved or woke it, with its
// result). Bounded: past the cap the oldest call is dropped, and counted.

import type { IoctlEvent } from '../events/types.js';
import type { LifecycleCounters } from './faultTypes.js';
import { FifoList, IoctlCall, type Fault } from './faultState.js';
import { IntMap } from './intMap.js';

export class InflightIoctls {
  /** by thread; an IntMap, as the lifecycle's other per-thread index (intMap.ts) */
  private readonly byTid = new IntMap<IoctlCall>();
  /** in the order they entered */
  private readonly list = new FifoList<IoctlCall>();

  constructor(
    private readonly max: number,
    private readonly counters: LifecycleCounters,
    /** delivers a record that no longer waits */
    private readonly deliver: (f: Fault) => void,
  ) {}

  get size(): number {
    return this.byTid.size;
  }

  /** The ioctl in flight on thread `tid`. */
  get(tid: number): IoctlCall | undefined {
    return this.byTid.get(tid);
  }

  /** An ioctl entry: the thread's previous call, whose exit was lost, is dropped. */
  enter(e: IoctlEvent): void {
    const old = this.byTid.get(e.tid);
    if (old !== undefined) this.drop(old);
    const io = new IoctlCall(e);
    this.byTid.set(e.tid, io);
    this.list.push(io);
    if (this.byTid.size > this.max) this.drop(this.list.head!);
  }

  /** An ioctl exit: the call it ends (a new one when its entry was not seen), with its result. Its waiters are still held: release() them. */
  exit(e: IoctlEvent): IoctlCall {
    let io = this.byTid.get(e.tid);
    if (io !== undefined && io.enterTs === e.enterTs) {
      this.byTid.delete(e.tid);
      this.list.remove(io);
    } else {
      if (io !== undefined && io.enterTs < e.enterTs) this.drop(io);
      io = new IoctlCall(e);
      this.counters.ioctlExitsWithoutEnter++;
    }
    io.exitTs = e.ts;
    io.ret = e.ret;
    if (e.args !== null) io.args = e.args;
    return io;
  }

  /** Holds an ended fault's record until the exits of its ioctls are known; false: deliver it now. */
  hold(f: Fault): boolean {
    const rr = f.rr;
    const wi = f.wakeIoctl;
    if (rr !== null && this.inFlight(rr)) {
      (rr.waiters ??= []).push(f);
      return true;
    }
    if (wi !== null && this.inFlight(wi)) {
      (wi.waiters ??= []).push(f);
      return true;
    }
    return false;
  }

  /** The records that waited for `io`: delivered, or held on by their other ioctl still in flight. */
  release(io: IoctlCall): void {
    const w = io.waiters;
    if (w === null) return;
    io.waiters = null;
    for (let i = 0; i < w.length; i++) {
      const f = w[i];
      // the other ioctl may still be in flight
      const other = f.rr === io ? f.wakeIoctl : f.rr;
      if (other !== null && other !== io && this.inFlight(other)) {
        (other.waiters ??= []).push(f);
      } else this.deliver(f);
    }
  }

  /** The calls of a process that exited: their exits will never be seen. */
  dropProcess(pid: number): void {
    for (let io = this.list.head; io !== null; ) {
      const next: IoctlCall | null = io.lnext;
      if (io.pid === pid) this.drop(io);
      io = next;
    }
  }

  /** The trace is over: every held record is delivered. */
  finish(): void {
    let io: IoctlCall | null;
    while ((io = this.list.head) !== null) {
      this.list.remove(io);
      this.release(io);
    }
    this.byTid.clear();
  }

  private inFlight(io: IoctlCall): boolean {
    return io.exitTs === undefined && this.byTid.get(io.tid) === io;
  }

  /** An in-flight ioctl whose exit will never be seen. */
  private drop(io: IoctlCall): void {
    if (this.byTid.get(io.tid) === io) this.byTid.delete(io.tid);
    this.list.remove(io);
    this.counters.ioctlsDropped++;
    this.release(io);
  }
}
