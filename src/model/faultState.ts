// The lifecycle's working state: a fault in progress, an ioctl in flight, a
// message waiting for its fault, a uffd's page index of open faults, and the
// intrusive lists that keep each kind in arrival order. Plain data with O(1)
// links; the rules that move them are in faultLifecycle.ts.

import type { ArmedMode, BlockHow, IoctlArgs, IoctlEvent } from '../events/types.js';
import type { FaultEnd, IoctlRef, OpenFaultView } from './faultTypes.js';
import { IntMap } from './intMap.js';

/** Fault.st: where a fault is in its lifecycle */
export const FAULTED = 0;
export const BLOCKED = 1;
export const WOKEN = 2;
export const RESUMED = 3;
export const DONE = 4;
const STATE_NAMES = ['faulted', 'blocked', 'woken', 'resumed', 'done'] as const;

/** Fault.armedMask: the modes its VMA is armed for */
export const A_MISSING = 1;
export const A_WP = 2;
export const A_MINOR = 4;
export const A_UNKNOWN = 8;

const TWO53 = 1n << 53n;

/** Page number of an address; exact for any 64-bit address. */
export function pageNumber(a: bigint): number {
  return a < TWO53 ? Math.floor(Number(a) / 4096) : Number(a >> 12n);
}

/** Page number of the last byte of [start, start+len), len > 0. */
export function lastPageNumber(start: bigint, len: bigint): number {
  const s = Number(start);
  const l = Number(len);
  if (start < TWO53 && len < TWO53 && s + l <= 2 ** 53) return Math.floor((s + l - 1) / 4096);
  return pageNumber(start + len - 1n);
}

/** Map key of a page: its low 30 bits (a small integer, cheap to hash);
 *  faults of pages 4 TiB apart share a key and are told apart by pageNo. */
export function pkey(pn: number): number {
  return pn & 0x3fffffff;
}

export class IoctlCall implements IoctlRef {
  name: string;
  uffd: bigint;
  pid: number;
  tid: number;
  comm: string;
  enterTs: number;
  exitTs: number | undefined = undefined;
  ret: number | undefined = undefined;
  args: IoctlArgs | null;
  /** faults ended while this ioctl was in flight, delivered at its exit */
  waiters: Fault[] | null = null;
  lprev: IoctlCall | null = null;
  lnext: IoctlCall | null = null;
  lowner: FifoList<IoctlCall> | null = null;

  constructor(e: IoctlEvent) {
    this.name = e.name;
    this.uffd = e.uffd;
    this.pid = e.pid;
    this.tid = e.tid;
    this.comm = e.comm;
    this.enterTs = e.type === 'ioctl_enter' ? e.ts : e.enterTs;
    this.args = e.args;
  }
}

export class UState {
  /** pkey(page) -> first open fault on such a page (list through pnext) */
  readonly pages = new IntMap<Fault>();
  open = 0;
  ctxFeatures = 0;
  /** entry time of a UFFDIO_SET_MODE in flight on this uffd; -1 when none */
  setModeSince = -1;
  orphans: Map<number, Orphan> | null = null;
  constructor(readonly key: bigint) {}

  /** Adds an open fault to the page index (after the others on its page). */
  link(f: Fault): void {
    const k = pkey(f.pageNo);
    const head = this.pages.get(k);
    if (head === undefined) this.pages.set(k, f);
    else {
      let t = head;
      while (t.pnext !== null) t = t.pnext;
      t.pnext = f;
      f.pprev = t;
    }
    this.open++;
  }

  unlink(f: Fault): void {
    if (f.pprev !== null) f.pprev.pnext = f.pnext;
    else if (f.pnext !== null) this.pages.set(pkey(f.pageNo), f.pnext);
    else this.pages.delete(pkey(f.pageNo));
    if (f.pnext !== null) f.pnext.pprev = f.pprev;
    f.pnext = f.pprev = null;
    this.open--;
  }

  /** Open faults on a page of [start, start+len), into `out`. */
  collect(start: bigint, len: bigint, out: Fault[]): Fault[] {
    out.length = 0;
    if (this.open === 0 || len <= 0n) return out;
    const first = pageNumber(start);
    const last = lastPageNumber(start, len);
    if (last - first + 1 <= this.pages.size) {
      for (let p = first; p <= last; p++) {
        for (let f = this.pages.get(pkey(p)) ?? null; f !== null; f = f.pnext) if (f.pageNo === p) out.push(f);
      }
    } else {
      for (const head of this.pages.values()) {
        for (let f: Fault | null = head; f !== null; f = f.pnext) if (f.pageNo >= first && f.pageNo <= last) out.push(f);
      }
    }
    return out;
  }
}

export class Orphan {
  lprev: Orphan | null = null;
  lnext: Orphan | null = null;
  lowner: FifoList<Orphan> | null = null;
  constructor(
    readonly us: UState,
    readonly pageNo: number,
    readonly ts: number,
    readonly readerPid: number,
    readonly readerTid: number,
    readonly kind: 'missing' | 'wp' | 'minor' | 'rwp',
    readonly flags: bigint,
    readonly ptid: number,
  ) {}
}

export class Fault {
  st = FAULTED;
  uffd: bigint;
  pid: number;
  tid: number;
  comm: string;
  address: bigint;
  errorCode: number;
  armed: readonly ArmedMode[];
  armedMask: number;
  ctxFeatures: number;
  vmFlags: bigint;
  faultTs: number;
  recovered: boolean;
  blocked = false;
  nblocks = 0;
  blockHow: BlockHow | undefined = undefined;
  blockTs: number | undefined = undefined;
  lastBlockTs = 0;
  msgTs: number | undefined = undefined;
  msgReaderPid: number | undefined = undefined;
  msgReaderTid: number | undefined = undefined;
  msgKind: 'missing' | 'wp' | 'minor' | 'rwp' | undefined = undefined;
  msgFlags: bigint | undefined = undefined;
  msgs = 0;
  /** successful ioctl whose range covered the page while the fault was open */
  rr: IoctlCall | null = null;
  wakeIoctl: IoctlCall | null = null;
  wakeCause: FaultEnd = 'signal_or_spurious';
  wakeTs: number | undefined = undefined;
  wakerPid: number | undefined = undefined;
  wakerTid: number | undefined = undefined;
  wakerComm: string | undefined = undefined;
  resumeTs: number | undefined = undefined;
  incomplete = false;
  /** resumed with no wake-up record seen (yet) */
  wakeMissing = false;
  end: FaultEnd = 'no_wait';
  endTs = 0;
  us: UState;
  pageNo: number;
  pnext: Fault | null = null;
  pprev: Fault | null = null;
  lprev: Fault | null = null;
  lnext: Fault | null = null;
  lowner: FifoList<Fault> | null = null;
  /** entered while a UFFDIO_SET_MODE on its uffd was in flight: it waited for the
   *  unlock and ran under the features that call set, not those read at entry */
  readonly duringSetMode: boolean;

  constructor(
    us: UState,
    pid: number,
    tid: number,
    comm: string,
    address: bigint,
    faultTs: number,
    errorCode: number,
    armed: readonly ArmedMode[],
    ctxFeatures: number,
    vmFlags: bigint,
    recovered: boolean,
  ) {
    this.us = us;
    this.uffd = us.key;
    this.pid = pid;
    this.tid = tid;
    this.comm = comm;
    this.address = address;
    this.pageNo = pageNumber(address);
    this.faultTs = faultTs;
    this.errorCode = errorCode;
    this.armed = armed;
    let m = 0;
    for (let i = 0; i < armed.length; i++) {
      const a = armed[i];
      m |= a === 'missing' ? A_MISSING : a === 'wp' ? A_WP : a === 'minor' ? A_MINOR : A_UNKNOWN;
    }
    this.armedMask = m;
    this.ctxFeatures = ctxFeatures;
    this.vmFlags = vmFlags;
    this.recovered = recovered;
    this.duringSetMode = us.setModeSince >= 0;
  }
}

export const NO_ARMED: readonly ArmedMode[] = Object.freeze([]);

/** An open fault as a live view shows it. */
export function openFaultView(f: Fault): OpenFaultView {
  return {
    uffd: f.uffd,
    pid: f.pid,
    tid: f.tid,
    comm: f.comm,
    address: f.address,
    state: STATE_NAMES[f.st] as OpenFaultView['state'],
    faultTs: f.faultTs,
    blockTs: f.blockTs,
    msgTs: f.msgTs,
    wakeTs: f.wakeTs,
    nblocks: f.nblocks,
  };
}

export function ref(io: IoctlCall): IoctlRef {
  return { name: io.name, uffd: io.uffd, pid: io.pid, tid: io.tid, comm: io.comm, enterTs: io.enterTs, exitTs: io.exitTs, ret: io.ret };
}

interface ListNode<T> {
  lprev: T | null;
  lnext: T | null;
  lowner: object | null;
}

/** Insertion-ordered intrusive list: O(1) push, remove and oldest, at any churn
 *  (a Set's first element costs a scan over its deleted slots). */
export class FifoList<T extends ListNode<T>> {
  head: T | null = null;
  tail: T | null = null;
  size = 0;

  push(x: T): void {
    x.lowner = this;
    x.lprev = this.tail;
    x.lnext = null;
    if (this.tail !== null) this.tail.lnext = x;
    else this.head = x;
    this.tail = x;
    this.size++;
  }

  remove(x: T): void {
    if (x.lowner !== this) return;
    if (x.lprev !== null) x.lprev.lnext = x.lnext;
    else this.head = x.lnext;
    if (x.lnext !== null) x.lnext.lprev = x.lprev;
    else this.tail = x.lprev;
    x.lprev = x.lnext = null;
    x.lowner = null;
    this.size--;
  }
}

/** The last ended fault per thread (tid -> its entry time), to tell its late
 *  events from a new fault's; bounded by a ring of the most recent ends. */
export class RecentEnds {
  private readonly done = new Map<number, number>();
  private readonly tids: Float64Array;
  private readonly ts: Float64Array;
  private pos = 0;
  private fill = 0;

  constructor(size: number) {
    this.tids = new Float64Array(size);
    this.ts = new Float64Array(size);
  }

  /** Entry time of the thread's last ended fault. */
  get(tid: number): number | undefined {
    return this.done.get(tid);
  }

  remember(tid: number, faultTs: number): void {
    const n = this.tids.length;
    const i = this.pos;
    if (this.fill === n) {
      const ot = this.tids[i];
      if (this.done.get(ot) === this.ts[i]) this.done.delete(ot);
    } else this.fill++;
    this.tids[i] = tid;
    this.ts[i] = faultTs;
    this.pos = i + 1 === n ? 0 : i + 1;
    this.done.set(tid, faultTs);
  }

  clear(): void {
    this.done.clear();
    this.fill = 0;
  }
}
