// Decoded uffdscope events: what every consumer (model, TUI, exporters,
// check) sees, whether the source is live capture, a recording or a
// generated scenario.
//
// Times are CLOCK_BOOTTIME nanoseconds as Numbers (exact to the nanosecond
// for ~104 days of uptime, to a few ns after a year: fine for latencies).
// Addresses and uffd ids are 64-bit, kept as bigint.

/** see the block event's `how` */
export type BlockHow = 'waitqueue' | 'stack' | 'heuristic';

export interface EventBase {
  ts: number;
  cpu: number;
  /** tgid of the task the record is about (the waker for `wake`) */
  pid: number;
  tid: number;
  comm: string;
}

export type ArmedMode = 'missing' | 'wp' | 'minor' | 'unknown';

export interface FaultEvent extends EventBase {
  type: 'fault';
  address: bigint;
  ip: bigint;
  errorCode: number;
  uffd: bigint;
  vmFlags: bigint;
  vmaStart: bigint;
  vmaEnd: bigint;
  ctxFeatures: number;
  armed: ArmedMode[];
}

export interface BlockEvent extends EventBase {
  type: 'block';
  address: bigint;
  uffd: bigint;
  faultTs: number;
  prevState: number;
  /** how the wait was told from other sleeps: found on the uffd's fault wait
   *  queue or handle_userfault() on the kernel stack (both exact), or the
   *  first sleep after the fault (no kernel symbols) */
  how: BlockHow;
  nblocks: number;
}

/** The header (pid/tid/comm) is the WAKER; the target is the faulting thread. */
export interface WakeEvent extends EventBase {
  type: 'wake';
  address: bigint;
  uffd: bigint;
  faultTs: number;
  targetPid: number;
  targetTid: number;
}

export interface ResumeEvent extends EventBase {
  type: 'resume';
  address: bigint;
  uffd: bigint;
  faultTs: number;
  wakeTs: number;
  wakerTid: number;
}

export type IoctlArgs = Record<string, bigint>;

export interface IoctlEvent extends EventBase {
  type: 'ioctl_enter' | 'ioctl_exit';
  uffd: bigint;
  cmd: number;
  /** UFFDIO_COPY, UFFDIO_SET_MODE, ... (by type 0xAA and _IOC_NR) */
  name: string;
  argPtr: bigint;
  /** decoded argument struct; null when user memory could not be read */
  args: IoctlArgs | null;
  enterTs: number;
  /** its entry was not timed (enterTs is its exit): a failed per-fault ioctl seen by the in-kernel engine */
  untimed?: true;
  /** syscall return value (0 on enter); -errno on failure */
  ret: number;
  fd: number;
  ctxFeatures: number;
}

export interface MsgEvent extends EventBase {
  type: 'msg';
  uffd: bigint;
  readEnterTs: number;
  event: number;
  /** pagefault, fork, remap, remove, unmap */
  eventName: string;
  fd: number;
  index: number;
  inRead: number;
  /** the uffd_msg union as three 64-bit words */
  body: [bigint, bigint, bigint];
  /** for pagefault messages */
  pagefault?: { flags: bigint; address: bigint; ptid: number; kind: 'missing' | 'wp' | 'minor' | 'rwp' };
}

export interface UffdCreateEvent extends EventBase {
  type: 'uffd_create';
  uffd: bigint;
  ret: number;
  flags: number;
  source: 'syscall' | 'dev';
}

export interface UffdCloseEvent extends EventBase {
  type: 'uffd_close';
  uffd: bigint;
  fd: number;
}

export interface ProcEvent extends EventBase {
  type: 'proc';
  kind: 'fork' | 'exec' | 'exit';
  /** fork: child pid; exit: exit code */
  otherPid: number;
  otherTid: number;
}

export type HuKind = 'enter' | 'exit' | 'set_mode_enter' | 'set_mode_exit';

/**
 * Exact in-kernel entry/exit of handle_userfault() (kind enter/exit) and of
 * userfaultfd_set_mode() (set_mode_*), from the fentry and kprobe backends
 * only. Fields are the raw record's; for set_mode_* `address` is the
 * ioctl's user argument pointer, `reason` uffdio_set_mode.enable and
 * `faultFlags` uffdio_set_mode.disable (valid when argReadOk).
 */
export interface HuEvent extends EventBase {
  type: 'hu';
  kind: HuKind;
  uffd: bigint;
  /** vmf->real_address: the exact faulting address, as in FaultEvent */
  address: bigint;
  /** the VM_UFFD_* bit handle_userfault() was called for */
  reason: bigint;
  /** vmf->flags (FAULT_FLAG_*) */
  faultFlags: bigint;
  /** entry time (== ts on *enter) */
  enterTs: number;
  /** on exit: vm_fault_t (VM_FAULT_*) or set_mode's return value; 0 on entry */
  ret: number;
  ctxFeatures: number;
  argReadOk: boolean;
}

export type UffdEvent =
  | FaultEvent
  | BlockEvent
  | WakeEvent
  | ResumeEvent
  | IoctlEvent
  | MsgEvent
  | UffdCreateEvent
  | UffdCloseEvent
  | ProcEvent
  | HuEvent;

export type EventType = UffdEvent['type'];

export const EVENT_TYPES: readonly EventType[] = [
  'fault',
  'block',
  'wake',
  'resume',
  'ioctl_enter',
  'ioctl_exit',
  'msg',
  'uffd_create',
  'uffd_close',
  'proc',
];

/** Short, stable display form of a uffd id (its kernel context pointer). */
export function uffdId(uffd: bigint): string {
  return `0x${uffd.toString(16)}`;
}
