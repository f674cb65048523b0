// What the fault lifecycle (faultLifecycle.ts) delivers: one FaultRecord per
// fault entry, with how it ended and its stage times, and the options and
// counters that go with it.

import type { ArmedMode, BlockHow } from '../events/types.js';

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
  /** when the fault was resolved (B in faultLifecycle.ts): the wake-up, or the
   *  resolving ioctl's exit when that came first; undefined when neither was seen */
  resolvedTs?: number;
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
