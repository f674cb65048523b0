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

import type {
  ArmedMode,
  BlockEvent,
  BlockHow,
  FaultEvent,
  IoctlArgs,
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
import { uffdIoctl, wakeCauseOf } from '../kernel/uffdIoctls.js';

export type FaultKind = 'missing' | 'wp' | 'minor' | 'rwp' | 'async' | 'unknown';
export const FAULT_KINDS: readonly FaultKind[] = ['missing', 'wp', 'minor', 'rwp', 'async', 'unknown'];

/**
 * How a fault ended.
 * - resolved: a uffd ioctl resolved it. Either the thread blocked and was
 *   woken by a resolving ioctl in flight on the waker (UFFDIO_COPY, ZEROPAGE,
 *   CONTINUE, WRITEPROTECT, WAKE, MOVE, POISON, RWPROTECT), or it never blocked
 *   because such an ioctl covering the page ran while it was entering the
 *   fault (another thread's UFFDIO_COPY won the race), or its message was read
 *   but it was resolved before it could sleep, or the ioctl's wake-up came
 *   while the thread was switching out, before its block was recorded (no
 *   wake-up or resume record follows; the total is unknown).
 * - no_wait: never blocked and nothing uffd-related resolved it: the page was
 *   present, or the VMA is armed for another mode. Not a userfault. Ended by
 *   the thread's next activity or by age (`horizonNs`).
 * - async: never blocked on a WP_ASYNC / RWP_ASYNC context: resolved in the
 *   kernel, no message.
 * - signal_or_spurious: woken with no uffd ioctl in flight on the waker (a
 *   signal, or a spurious wake-up).
 * - mode_switch: woken by UFFDIO_SET_MODE (switch to async wakes all waiters).
 * - unregistered: woken by UFFDIO_UNREGISTER of its range, or its range was
 *   unregistered while it was entering the fault.
 * - closed: woken by the release of the uffd (close of its last fd, on the
 *   closing thread), or the uffd was closed while it was entering the fault.
 * - exit: its process exited while the fault was open.
 * - expired: blocked longer than `blockedHorizonNs` with no wake-up seen.
 * - evicted: dropped to keep open faults under `maxOpenFaults`.
 * - incomplete: events of this fault were lost (the thread was seen doing
 *   something else while still blocked); the record has what was seen.
 * - open_at_end: the thread was still blocked when the trace ended (finish()).
 */
export type FaultEnd =
  | 'resolved'
  | 'no_wait'
  | 'async'
  | 'signal_or_spurious'
  | 'mode_switch'
  | 'unregistered'
  | 'closed'
  | 'exit'
  | 'expired'
  | 'evicted'
  | 'incomplete'
  | 'open_at_end';

export const FAULT_ENDS: readonly FaultEnd[] = [
  'resolved',
  'no_wait',
  'async',
  'signal_or_spurious',
  'mode_switch',
  'unregistered',
  'closed',
  'exit',
  'expired',
  'evicted',
  'incomplete',
  'open_at_end',
];

/** An ioctl as a fault record names it. */
export interface IoctlRef {
  name: string;
  uffd: bigint;
  pid: number;
  tid: number;
  comm: string;
  enterTs: number;
  /** undefined when the exit was never seen */
  exitTs: number | undefined;
  /** 0 or -errno; undefined when the exit was never seen */
  ret: number | undefined;
}

export interface FaultStages {
  /** fault entry -> running again */
  total?: number;
  /** fault entry -> message read by the handler */
  queue?: number;
  /** message read -> resolved (wake-up, or resolving ioctl exit when earlier) */
  service?: number;
  /** resolved -> running again */
  wake?: number;
  /** first block -> running again (time off CPU, all waits) */
  blocked?: number;
}

export interface FaultRecord {
  uffd: bigint;
  pid: number;
  tid: number;
  comm: string;
  /** the faulting address, exact */
  address: bigint;
  /** address & ~4095 */
  page: bigint;
  kind: FaultKind;
  /** true for faults that blocked, were resolved through uffd, or were async */
  userfault: boolean;
  blocked: boolean;
  /** waits of this fault (2+ after a spurious wake-up) */
  nblocks: number;
  blockHow?: BlockHow;
  /** x86 page-fault error code; -1 when the fault entry was not seen */
  errorCode: number;
  armed: readonly ArmedMode[];
  ctxFeatures: number;
  faultTs: number;
  blockTs?: number;
  msgTs?: number;
  msgReaderPid?: number;
  msgReaderTid?: number;
  /** kind named by the pagefault message, when one was read */
  msgKind?: 'missing' | 'wp' | 'minor' | 'rwp';
  msgFlags?: bigint;
  /** pagefault messages matched to this fault (2+ after re-waits) */
  msgs: number;
  /** the ioctl that resolved the fault (range covering the page, else the one in flight on the waker) */
  resolveIoctl?: IoctlRef;
  /** the ioctl in flight on the waking thread at the (last) wake-up */
  wakeIoctl?: IoctlRef;
  wakeTs?: number;
  wakerPid?: number;
  wakerTid?: number;
  wakerComm?: string;
  resumeTs?: number;
  end: FaultEnd;
  /** event time at which the record was closed */
  endTs: number;
  stages: FaultStages;
  /** the fault entry was lost; rebuilt from block/wake/resume */
  recovered: boolean;
  /** some of this fault's events were lost */
  incomplete: boolean;
}

export interface LifecycleOptions {
  /** un-blocked faults end (no_wait/async/resolved) after this much event time. Default 5 s. */
  horizonNs?: number;
  /** blocked faults with no wake-up end as 'expired' after this much event time. Default 60 s. */
  blockedHorizonNs?: number;
  /** a resumed fault is final after this long with no re-wait. Default 10 ms. */
  settleNs?: number;
  /** an ioctl covering the page resolves an un-blocked fault entered up to this long before the ioctl. Default 1 ms. */
  raceWindowNs?: number;
  /** cap on open faults (oldest evicted). Default 100000. */
  maxOpenFaults?: number;
  /** cap on pagefault messages that matched no open fault. Default 10000. */
  maxOrphanMsgs?: number;
  /** cap on ioctls in flight (by thread). Default 65536. */
  maxInflightIoctls?: number;
  /** VM_HUGETLB (kernel-internal vm_flags bit): hugetlb messages carry the huge-page address. Default 0x00400000. */
  vmHugetlb?: bigint;
}

export interface LifecycleCounters {
  /** fault entries seen */
  faults: number;
  /** records delivered */
  records: number;
  userfaults: number;
  ends: Record<FaultEnd, number>;
  /** faults rebuilt from block/wake/resume because the fault entry was lost */
  recovered: number;
  /** block/wake/resume of a fault that had already ended */
  lateEvents: number;
  /** pagefault messages matched to a fault */
  msgsMatched: number;
  /** pagefault messages matching no open fault (kept a while for late joins) */
  orphanMsgs: number;
  /** orphan messages dropped by cap or age without ever matching */
  orphanMsgsDropped: number;
  /** ioctl exits with no enter seen */
  ioctlExitsWithoutEnter: number;
  /** in-flight ioctls dropped (exit never seen: cap, thread reuse, process exit) */
  ioctlsDropped: number;
}

/** A fault still open, as shown to a live view. */
export interface OpenFaultView {
  uffd: bigint;
  pid: number;
  tid: number;
  comm: string;
  address: bigint;
  state: 'faulted' | 'blocked' | 'woken' | 'resumed';
  faultTs: number;
  blockTs?: number;
  msgTs?: number;
  wakeTs?: number;
  nblocks: number;
}

export type FaultListener = (r: FaultRecord) => void;

// ---- internals ----

const FAULTED = 0;
const BLOCKED = 1;
const WOKEN = 2;
const RESUMED = 3;
const DONE = 4;
const STATE_NAMES = ['faulted', 'blocked', 'woken', 'resumed', 'done'] as const;

const A_MISSING = 1;
const A_WP = 2;
const A_MINOR = 4;
const A_UNKNOWN = 8;

const PF_PRESENT = 1;
const PF_WRITE = 2;

const TWO53 = 1n << 53n;
const PAGE_MASK = ~4095n;
/** Largest huge page (1 GiB): span searched for a hugetlb message's fault. */
const HUGE_SPAN = 1n << 30n;

/** Page number of an address; exact for any 64-bit address. */
export function pageNumber(a: bigint): number {
  return a < TWO53 ? Math.floor(Number(a) / 4096) : Number(a >> 12n);
}

/** Page number of the last byte of [start, start+len), len > 0. */
function lastPageNumber(start: bigint, len: bigint): number {
  const s = Number(start);
  const l = Number(len);
  if (start < TWO53 && len < TWO53 && s + l <= 2 ** 53) return Math.floor((s + l - 1) / 4096);
  return pageNumber(start + len - 1n);
}

/** Map key of a page: its low 30 bits (a small integer, cheap to hash);
 *  faults of pages 4 TiB apart share a key and are told apart by pageNo. */
function pkey(pn: number): number {
  return pn & 0x3fffffff;
}

class IoctlCall implements IoctlRef {
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

class UState {
  /** pkey(page) -> first open fault on such a page (list through pnext) */
  readonly pages = new IntMap<Fault>();
  open = 0;
  ctxFeatures = 0;
  /** entry time of a UFFDIO_SET_MODE in flight on this uffd; -1 when none */
  setModeSince = -1;
  orphans: Map<number, Orphan> | null = null;
  constructor(readonly key: bigint) {}
}

class Orphan {
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

class Fault {
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

const NO_ARMED: readonly ArmedMode[] = Object.freeze([]);

function u32bit(uapi: Uapi, name: string): number {
  const v = uapi[name];
  return v !== undefined && v > 0n && v < 1n << 32n ? Number(v) : 0;
}

function ref(io: IoctlCall): IoctlRef {
  return { name: io.name, uffd: io.uffd, pid: io.pid, tid: io.tid, comm: io.comm, enterTs: io.enterTs, exitTs: io.exitTs, ret: io.ret };
}

interface ListNode<T> {
  lprev: T | null;
  lnext: T | null;
  lowner: object | null;
}

/** Insertion-ordered intrusive list: O(1) push, remove and oldest, at any churn
 *  (a Set's first element costs a scan over its deleted slots). */
class FifoList<T extends ListNode<T>> {
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

export class FaultLifecycle {
  readonly counters: LifecycleCounters;

  private readonly horizonNs: number;
  private readonly blockedHorizonNs: number;
  private readonly settleNs: number;
  private readonly raceWindowNs: number;
  private readonly maxOpen: number;
  private readonly maxOrphans: number;
  private readonly maxInflight: number;
  private readonly checkEveryNs: number;
  private readonly vmHugetlb: bigint;

  private readonly wpAsync: number;
  private readonly rwpAsync: number;
  private readonly rwpAny: number;
  private readonly wpModeBit: bigint;

  /** open fault per thread (every open fault is here). The per-thread and
   *  per-page indices are IntMaps, not Maps: they change at almost every
   *  event, and a long-lived Map's changes fill old space (see intMap.ts). */
  private readonly threads = new IntMap<Fault>();
  /** open faults by state, in the order they entered it */
  private readonly unblocked = new FifoList<Fault>();
  private readonly waiting = new FifoList<Fault>();
  private readonly settling = new FifoList<Fault>();
  /** last ended fault per thread (tid -> faultTs), to ignore its late events;
   *  bounded by a ring of the most recent entries */
  private readonly done = new Map<number, number>();
  private readonly doneTids: Float64Array;
  private readonly doneTs: Float64Array;
  private donePos = 0;
  private doneFill = 0;
  private readonly ustates = new Map<bigint, UState>();
  private lastUs: UState | null = null;
  private readonly inflight = new IntMap<IoctlCall>();
  private readonly inflightList = new FifoList<IoctlCall>();
  /** thread -> uffd it is closing (until that thread does something else) */
  private readonly closing = new Map<number, bigint>();
  private readonly orphanList = new FifoList<Orphan>();
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
    this.maxOrphans = Math.max(0, opts.maxOrphanMsgs ?? 10_000);
    this.maxInflight = Math.max(1, opts.maxInflightIoctls ?? 65_536);
    this.vmHugetlb = opts.vmHugetlb ?? 0x00400000n;
    const ring = Math.min(this.maxOpen, 1 << 22);
    this.doneTids = new Float64Array(ring);
    this.doneTs = new Float64Array(ring);
    this.checkEveryNs = Math.max(1, Math.min(this.settleNs, this.horizonNs, this.blockedHorizonNs) / 2);
    this.wpAsync = u32bit(uapi, 'UFFD_FEATURE_WP_ASYNC');
    this.rwpAsync = u32bit(uapi, 'UFFD_FEATURE_RWP_ASYNC');
    this.rwpAny = u32bit(uapi, 'UFFD_FEATURE_RWP') | this.rwpAsync;
    this.wpModeBit = uapi.UFFDIO_WRITEPROTECT_MODE_WP ?? 1n;
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
    return this.inflight.size;
  }

  get orphanMessages(): number {
    return this.orphanList.size;
  }

  /** Latest event time seen. */
  get eventTime(): number {
    return this.now;
  }

  /** The faults currently open (for a live view). */
  openFaultViews(): OpenFaultView[] {
    const out: OpenFaultView[] = [];
    for (const f of this.threads.values()) {
      out.push({
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
      });
    }
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
    while ((f = this.unblocked.head) !== null) this.finalize(f, this.classifyUnblocked(f), false);
    // woken but not yet back on a CPU when the trace ended: resolved, nothing lost
    while ((f = this.waiting.head) !== null) this.finalize(f, f.st === WOKEN ? f.wakeCause : 'open_at_end', false);
    let io: IoctlCall | null;
    while ((io = this.inflightList.head) !== null) {
      this.inflightList.remove(io);
      this.flushWaiters(io);
    }
    this.inflight.clear();
    this.closing.clear();
    let o: Orphan | null;
    while ((o = this.orphanList.head) !== null) this.dropOrphan(o);
    this.done.clear();
    this.doneFill = 0;
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
    const io = this.inflight.get(wakerTid);
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
    const old = this.inflight.get(e.tid);
    if (old !== undefined) this.dropIoctl(old);
    const io = new IoctlCall(e);
    this.inflight.set(e.tid, io);
    this.inflightList.push(io);
    if (this.inflight.size > this.maxInflight) this.dropIoctl(this.inflightList.head!);
  }

  private onIoctlExit(e: IoctlEvent): void {
    this.activity(e.tid);
    this.ustateCtx(e.uffd, e.ctxFeatures);
    if (e.name === 'UFFDIO_SET_MODE') {
      const us = this.ustates.get(e.uffd);
      if (us !== undefined && us.setModeSince <= e.enterTs) us.setModeSince = -1;
    }
    let io = this.inflight.get(e.tid);
    if (io !== undefined && io.enterTs === e.enterTs) {
      this.inflight.delete(e.tid);
      this.inflightList.remove(io);
    } else {
      if (io !== undefined && io.enterTs < e.enterTs) this.dropIoctl(io);
      io = new IoctlCall(e);
      this.counters.ioctlExitsWithoutEnter++;
    }
    io.exitTs = e.ts;
    io.ret = e.ret;
    if (e.args !== null) io.args = e.args;
    if (uffdIoctl(io.name)?.resolves) this.resolveRange(io);
    else if (io.name === 'UFFDIO_UNREGISTER' && e.ret === 0) this.unregisterRange(io);
    this.flushWaiters(io);
  }

  private onMsg(e: MsgEvent): void {
    this.activity(e.tid);
    const pf = e.pagefault;
    if (pf === undefined) return;
    const pn = pageNumber(pf.address);
    let f: Fault | undefined;
    if (pf.ptid !== 0) {
      const c = this.threads.get(pf.ptid);
      if (c !== undefined && c.uffd === e.uffd && this.msgState(c, e.ts) && this.msgPageMatch(c, pn, pf.address)) f = c;
    } else {
      const us = this.ustates.get(e.uffd);
      if (us !== undefined && us.open !== 0) f = this.msgCandidate(us, pn, pf.address, e.ts);
    }
    if (f === undefined) {
      this.addOrphan(e, pn);
      return;
    }
    this.applyMsg(f, e.ts, e.pid, e.tid, pf.kind, pf.flags);
  }

  /** Can a message read at `ts` belong to f? Waiting for it, or woken after
   *  the read (a record reported late by another CPU). */
  private msgState(f: Fault, ts: number): boolean {
    const st = f.st;
    if (st === FAULTED || st === BLOCKED) return true;
    return (st === WOKEN || st === RESUMED) && f.wakeTs !== undefined && ts <= f.wakeTs && f.msgTs === undefined;
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
        if (f.st === FAULTED) this.finalize(f, this.externalEnd(f, 'closed'), true);
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
      if (f.st === FAULTED) this.finalize(f, this.externalEnd(f, 'exit'), true);
      else if (f.st === RESUMED) this.finalize(f, f.wakeCause, true);
      else this.finalize(f, 'exit', true);
    }
    for (let io = this.inflightList.head; io !== null; ) {
      const next: IoctlCall | null = io.lnext;
      if (io.pid === pid) this.dropIoctl(io);
      io = next;
    }
  }

  // ---- matching helpers ----

  private msgPageMatch(f: Fault, pn: number, addr: bigint): boolean {
    if (f.pageNo === pn) return true;
    // hugetlb: the message carries the huge page's address
    return (f.vmFlags & this.vmHugetlb) !== 0n && f.address >= addr && f.address < addr + HUGE_SPAN;
  }

  private msgCandidate(us: UState, pn: number, addr: bigint, ts: number): Fault | undefined {
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
        if ((f.st === FAULTED || f.st === BLOCKED) && f.msgTs === undefined && f.pageNo !== pn && this.msgPageMatch(f, pn, addr)) {
          if (best === undefined || f.faultTs < best.faultTs) best = f;
        }
      }
    }
    return best;
  }

  private applyMsg(f: Fault, ts: number, pid: number, tid: number, kind: Fault['msgKind'], flags: bigint): void {
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

  private addOrphan(e: MsgEvent, pn: number): void {
    this.counters.orphanMsgs++;
    if (this.maxOrphans === 0) {
      this.counters.orphanMsgsDropped++;
      return;
    }
    const pf = e.pagefault!;
    const us = this.ustate(e.uffd);
    if (us.orphans === null) us.orphans = new Map();
    const old = us.orphans.get(pkey(pn));
    if (old !== undefined) this.dropOrphan(old);
    const o = new Orphan(us, pn, e.ts, e.pid, e.tid, pf.kind, pf.flags, pf.ptid);
    us.orphans.set(pkey(pn), o);
    this.orphanList.push(o);
    if (this.orphanList.size > this.maxOrphans) this.dropOrphan(this.orphanList.head!);
  }

  private dropOrphan(o: Orphan): void {
    this.counters.orphanMsgsDropped++;
    this.removeOrphan(o);
  }

  private removeOrphan(o: Orphan): void {
    this.orphanList.remove(o);
    if (o.us.orphans !== null && o.us.orphans.get(pkey(o.pageNo)) === o) o.us.orphans.delete(pkey(o.pageNo));
  }

  /** The range an exited ioctl resolved, or null (failed, protect-only, unreadable). */
  private resolvedRange(io: IoctlCall): [bigint, bigint] | null {
    const a = io.args;
    const spec = uffdIoctl(io.name);
    if (a === null || spec === undefined || spec.resolves === null || spec.rangeStart === null) return null;
    if (spec.result === null) {
      // a protection change: only a successful un-protect resolves
      if (io.ret !== 0 || a.mode === undefined || (a.mode & this.wpModeBit) !== 0n) return null;
      return a.start !== undefined && a.len !== undefined && a.len > 0n ? [a.start, a.len] : null;
    }
    const start = a[spec.rangeStart];
    if (start === undefined) return null;
    if (io.ret === 0 && a.len !== undefined && a.len > 0n) return [start, a.len];
    const done = a[spec.result];
    if (done !== undefined && done > 0n) return [start, done];
    return null;
  }

  /** Open faults of `uffd` on a page of [start, start+len), into this.scratch. */
  private collectRange(uffd: bigint, start: bigint, len: bigint): Fault[] {
    const out = this.scratch;
    out.length = 0;
    const us = this.ustates.get(uffd);
    if (us === undefined || us.open === 0 || len <= 0n) return out;
    const first = pageNumber(start);
    const last = lastPageNumber(start, len);
    if (last - first + 1 <= us.pages.size) {
      for (let p = first; p <= last; p++) {
        for (let f = us.pages.get(pkey(p)) ?? null; f !== null; f = f.pnext) if (f.pageNo === p) out.push(f);
      }
    } else {
      for (const head of us.pages.values()) {
        for (let f: Fault | null = head; f !== null; f = f.pnext) if (f.pageNo >= first && f.pageNo <= last) out.push(f);
      }
    }
    return out;
  }

  private resolveRange(io: IoctlCall): void {
    const r = this.resolvedRange(io);
    if (r === null) return;
    const lo = io.enterTs - this.raceWindowNs;
    const hi = io.exitTs!;
    const fs = this.collectRange(io.uffd, r[0], r[1]);
    for (let i = 0; i < fs.length; i++) {
      const f = fs[i];
      if (f.st === FAULTED) {
        if (f.faultTs >= lo && f.faultTs <= hi && this.canResolve(io.name, f)) f.rr = io;
      } else if (f.st === BLOCKED) {
        // e.g. UFFDIO_COPY with DONTWAKE: resolved, waiting for UFFDIO_WAKE
        f.rr = io;
      }
    }
    fs.length = 0;
  }

  /** Could this ioctl have resolved this (never blocked) fault? By the
   *  fault's mode: a fault the ioctl cannot resolve was no userfault. */
  private canResolve(name: string, f: Fault): boolean {
    const err = f.errorCode;
    if (err < 0) return true;
    const a = f.armedMask;
    const present = (err & PF_PRESENT) !== 0;
    switch (uffdIoctl(name)?.resolves) {
      case 'wp':
        return (a & A_WP) !== 0 && present && (err & PF_WRITE) !== 0;
      case 'minor':
        return (a & A_MINOR) !== 0 && !present;
      default:
        // missing pages filled
        return (a & (A_MISSING | A_UNKNOWN)) !== 0 && !present;
    }
  }

  private unregisterRange(io: IoctlCall): void {
    const a = io.args;
    if (a === null || a.start === undefined || a.len === undefined) return;
    const fs = this.collectRange(io.uffd, a.start, a.len).slice();
    this.scratch.length = 0;
    for (const f of fs) if (f.st === FAULTED) this.finalize(f, this.externalEnd(f, 'unregistered'), true);
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
    const us = f.us;
    const k = pkey(f.pageNo);
    const head = us.pages.get(k);
    if (head === undefined) us.pages.set(k, f);
    else {
      let t = head;
      while (t.pnext !== null) t = t.pnext;
      t.pnext = f;
      f.pprev = t;
    }
    us.open++;
    if (this.threads.size > this.maxOpen) this.evictOldest();
  }

  private recover(pid: number, tid: number, comm: string, uffd: bigint, address: bigint, faultTs: number): Fault {
    this.counters.recovered++;
    const us = this.ustate(uffd);
    const f = new Fault(us, pid, tid, comm, address, faultTs, -1, NO_ARMED, us.ctxFeatures, 0n, true);
    f.incomplete = true;
    this.open(f);
    const orphans = us.orphans;
    if (orphans !== null) {
      const o = orphans.get(pkey(f.pageNo));
      if (o !== undefined && o.pageNo === f.pageNo && (o.ptid === 0 || o.ptid === tid) && o.ts >= faultTs) {
        this.removeOrphan(o);
        this.applyMsg(f, o.ts, o.readerPid, o.readerTid, o.kind, o.flags);
      }
    }
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
        this.finalize(f, this.classifyUnblocked(f), false);
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

  private classifyUnblocked(f: Fault): FaultEnd {
    if (f.rr !== null || f.msgTs !== undefined) return 'resolved';
    if (this.asyncEligible(f)) return 'async';
    return 'no_wait';
  }

  /** An outside end (close, unregister, exit) of a fault that never blocked. */
  private externalEnd(f: Fault, reason: FaultEnd): FaultEnd {
    const c = this.classifyUnblocked(f);
    return c === 'no_wait' ? reason : c;
  }

  /** Async = a WP fault with WP_ASYNC, or an RWP fault with RWP_ASYNC; nothing else. */
  private asyncEligible(f: Fault): boolean {
    const cf = f.duringSetMode ? f.us.ctxFeatures : f.ctxFeatures;
    if (f.errorCode < 0) return false;
    const wpWrite = (f.armedMask & A_WP) !== 0 && (f.errorCode & (PF_PRESENT | PF_WRITE)) === (PF_PRESENT | PF_WRITE);
    if (cf & this.wpAsync && wpWrite) return true;
    // an RWP-armed VMA shows as armed by no mode the table knows (VM_UFFD_RWP's bit is not known)
    return (cf & this.rwpAsync) !== 0 && (f.armedMask & A_UNKNOWN) !== 0;
  }

  /** Kind from the VMA's armed modes and the error code (no message read). */
  private armedKind(f: Fault): FaultKind {
    const a = f.armedMask;
    const rwp = (f.ctxFeatures & this.rwpAny) !== 0;
    const err = f.errorCode;
    if (err < 0) {
      // fault entry lost: only an unambiguous VMA tells
      if (a === A_MISSING) return 'missing';
      if (a === A_WP) return 'wp';
      if (a === A_MINOR) return 'minor';
      if (a === A_UNKNOWN && rwp) return 'rwp';
      return 'unknown';
    }
    const present = (err & PF_PRESENT) !== 0;
    if (present && err & PF_WRITE && a & A_WP) return 'wp';
    if (!present) {
      const mm = a & (A_MISSING | A_MINOR);
      if (mm === A_MISSING) return 'missing';
      if (mm === A_MINOR) return 'minor';
    }
    if (rwp && (a & A_UNKNOWN || present)) return 'rwp';
    return 'unknown';
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
    while ((f = this.unblocked.head) !== null && f.faultTs <= t) this.finalize(f, this.classifyUnblocked(f), true);
    t = now - this.blockedHorizonNs;
    while ((f = this.waiting.head) !== null && f.lastBlockTs <= t) this.finalize(f, 'expired', true);
    t = now - this.horizonNs;
    let o: Orphan | null;
    while ((o = this.orphanList.head) !== null && o.ts <= t) this.dropOrphan(o);
  }

  private finalize(f: Fault, reason: FaultEnd, remember: boolean): void {
    this.leaveState(f);
    if (this.threads.get(f.tid) === f) this.threads.delete(f.tid);
    // unlink from the page index
    const us = f.us;
    if (f.pprev !== null) f.pprev.pnext = f.pnext;
    else if (f.pnext !== null) us.pages.set(pkey(f.pageNo), f.pnext);
    else us.pages.delete(pkey(f.pageNo));
    if (f.pnext !== null) f.pnext.pprev = f.pprev;
    f.pnext = f.pprev = null;
    us.open--;
    f.st = DONE;
    f.end = reason;
    f.endTs = this.now;
    if (remember) this.remember(f.tid, f.faultTs);
    // hold the record until its ioctls' exits are known
    const rr = f.rr;
    const wi = f.wakeIoctl;
    if (rr !== null && rr.exitTs === undefined && this.inflight.get(rr.tid) === rr) {
      (rr.waiters ??= []).push(f);
      return;
    }
    if (wi !== null && wi.exitTs === undefined && this.inflight.get(wi.tid) === wi) {
      (wi.waiters ??= []).push(f);
      return;
    }
    this.emit(f);
  }

  private remember(tid: number, faultTs: number): void {
    const n = this.doneTids.length;
    const i = this.donePos;
    if (this.doneFill === n) {
      const ot = this.doneTids[i];
      if (this.done.get(ot) === this.doneTs[i]) this.done.delete(ot);
    } else this.doneFill++;
    this.doneTids[i] = tid;
    this.doneTs[i] = faultTs;
    this.donePos = i + 1 === n ? 0 : i + 1;
    this.done.set(tid, faultTs);
  }

  /** An in-flight ioctl whose exit will never be seen. */
  private dropIoctl(io: IoctlCall): void {
    if (this.inflight.get(io.tid) === io) this.inflight.delete(io.tid);
    this.inflightList.remove(io);
    this.counters.ioctlsDropped++;
    this.flushWaiters(io);
  }

  private flushWaiters(io: IoctlCall): void {
    const w = io.waiters;
    if (w === null) return;
    io.waiters = null;
    for (let i = 0; i < w.length; i++) {
      const f = w[i];
      // the other ioctl may still be in flight
      const other = f.rr === io ? f.wakeIoctl : f.rr;
      if (other !== null && other !== io && other.exitTs === undefined && this.inflight.get(other.tid) === other) {
        (other.waiters ??= []).push(f);
      } else this.emit(f);
    }
  }

  private emit(f: Fault): void {
    const resolver = f.rr ?? f.wakeIoctl;
    const rx = resolver !== null ? resolver.exitTs : undefined;
    const msgTs = f.msgTs;
    const wakeTs = f.wakeTs;
    const resumeTs = f.resumeTs;
    // B: the moment the fault was resolved
    let b: number | undefined;
    if (wakeTs !== undefined) {
      b = rx !== undefined && rx < wakeTs && (msgTs === undefined || rx >= msgTs) ? rx : wakeTs;
    } else if (rx !== undefined) b = rx;
    const stages: FaultStages = {};
    if (resumeTs !== undefined) {
      stages.total = resumeTs - f.faultTs;
      if (f.blockTs !== undefined) stages.blocked = resumeTs - f.blockTs;
      if (b !== undefined) stages.wake = resumeTs - b;
    }
    if (msgTs !== undefined) {
      stages.queue = msgTs - f.faultTs;
      if (b !== undefined && b >= msgTs) stages.service = b - msgTs;
    }
    const reason = f.end;
    const userfault = f.blocked || f.msgTs !== undefined || f.rr !== null || reason === 'async';
    const kind: FaultKind = f.msgKind ?? (reason === 'async' ? 'async' : this.armedKind(f));
    const resolverRef = resolver !== null ? ref(resolver) : undefined;
    const r: FaultRecord = {
      uffd: f.uffd,
      pid: f.pid,
      tid: f.tid,
      comm: f.comm,
      address: f.address,
      page: f.address & PAGE_MASK,
      kind,
      userfault,
      blocked: f.blocked,
      nblocks: f.nblocks,
      blockHow: f.blockHow,
      errorCode: f.errorCode,
      armed: f.armed,
      ctxFeatures: f.ctxFeatures,
      faultTs: f.faultTs,
      blockTs: f.blockTs,
      msgTs,
      msgReaderPid: f.msgReaderPid,
      msgReaderTid: f.msgReaderTid,
      msgKind: f.msgKind,
      msgFlags: f.msgFlags,
      msgs: f.msgs,
      resolveIoctl: resolverRef,
      wakeIoctl: f.wakeIoctl === null ? undefined : f.wakeIoctl === resolver ? resolverRef : ref(f.wakeIoctl),
      wakeTs,
      wakerPid: f.wakerPid,
      wakerTid: f.wakerTid,
      wakerComm: f.wakerComm,
      resumeTs,
      end: reason,
      endTs: f.endTs,
      stages,
      recovered: f.recovered,
      incomplete: f.incomplete || f.wakeMissing,
    };
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
