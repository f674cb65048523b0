// What the uffd registry (uffdRegistry.ts) knows of each userfaultfd and
// reports as it happens: a uffd's identity, owner, features, ranges and
// mode, its SET_MODE attempts and mode changes, and the results it emits.

import type { IoctlArgs, IoctlEvent, UffdCloseEvent, UffdCreateEvent } from '../events/types.js';
import type { SetModeVerdict } from './setModeRules.js';

export type UffdMode = 'sync' | 'async';

export interface ArmedRange {
  start: bigint;
  /** exclusive */
  end: bigint;
  /** UFFDIO_REGISTER_MODE_* bits */
  mode: bigint;
}

export interface SetModeAttempt {
  uffd: bigint;
  /** creation time of that uffd (null: before tracing): with `uffd`, its UffdIdentity */
  uffdCreatedNs: number | null;
  /** ioctl entry time */
  ts: number;
  exitTs: number | undefined;
  pid: number;
  tid: number;
  comm: string;
  /** uffdio_set_mode.enable / .disable; null when the struct could not be read */
  enable: bigint | null;
  disable: bigint | null;
  /** ioctl return value, 0 or -errno; undefined while in flight (or exit lost) */
  ret: number | undefined;
  errno: string | null;
  /** ioctl latency: the system call's exit - entry, ns (every backend) */
  latencyNs: number | undefined;
  /**
   * drain, ns: userfaultfd_set_mode() entry to mmap_write_unlock(). Only where
   * a precise backend traced the function (its set_mode records) and the call
   * succeeded (a refused one never takes the lock). The unlock is taken as
   * the first waiter this call woke, else the function's return.
   */
  drainNs: number | undefined;
  /** wake-up, ns: from the drain's end to userfaultfd_set_mode()'s return; only when enable has RWP_ASYNC (0: it woke nobody) */
  wakeupNs: number | undefined;
  /** ctx->features at the ioctl's entry (raw, internal bits included) */
  ctxBefore: number | undefined;
  /** userfaultfd_set_mode() entry, and the first waiter it woke (precise backends) */
  kernelEnterTs: number | undefined;
  firstWakeTs: number | undefined;
  modeBefore: UffdMode;
  modeAfter: UffdMode | undefined;
  /** blocked faults whose wake-up this switch caused */
  woken: number;
  /** what the kernel's rules predict, why, and whether the kernel agreed */
  verdict?: SetModeVerdict;
}

export interface ModeChange {
  ts: number;
  mode: UffdMode;
  /** what showed the change: a SET_MODE exit, an API exit, or features seen on a later event */
  cause: 'set_mode' | 'api' | 'observed';
}

export interface UffdInfo {
  /** context address; two uffds may share it (not at once): `key` tells them apart */
  id: bigint;
  idHex: string;
  /** uffdKey() of its identity (address + creation time): unique per uffd */
  key: string;
  ownerPid: number | null;
  ownerComm: string | null;
  /** how the owner was learned: its creation, its first fault, or its first use */
  ownerSource: 'create' | 'fault' | 'use' | null;
  createdTs: number | undefined;
  createFlags: number | undefined;
  createSource: 'syscall' | 'dev' | undefined;
  /** last close() of an fd for it (the context may live on in other fds) */
  closedTs: number | undefined;
  closes: number;
  /** every process seen using it (faults, ioctls, reads, close) */
  pids: Set<number>;
  /** processes that read its messages or issued resolving ioctls */
  handlerPids: Set<number>;
  /** features asked for at UFFDIO_API */
  requestedFeatures: bigint | undefined;
  /**
   * features negotiated at UFFDIO_API: ctx->features right after it (the
   * kernel enables the requested features it supports). Note the API
   * struct the kernel writes back holds every AVAILABLE feature, not these.
   */
  features: bigint | undefined;
  /** what UFFDIO_API reported as available (its argument struct at exit) */
  availableFeatures: bigint | undefined;
  /** ioctls UFFDIO_API reported (a bit per _IOC_NR) */
  apiIoctls: bigint | undefined;
  /** ctx->features as last seen on any event, kernel-internal bits removed */
  ctxFeatures: number;
  /** earlier contexts at the same address (the kernel reuses freed ctx memory) */
  generation: number;
  apiTs: number | undefined;
  apiRet: number | undefined;
  ranges: ArmedRange[];
  armedBytes: bigint;
  mode: UffdMode;
  modeHistory: ModeChange[];
  modeSwitches: SetModeAttempt[];
  /** fault entries in its armed VMAs */
  faultEntries: number;
  /** userfaults (per FaultRecord.userfault) */
  faults: number;
  faultsByKind: Record<string, number>;
  messages: number;
  ioctls: number;
  firstTs: number;
  lastTs: number;
}

/** What the registry reports (uffdRegistry.ts). */
export type RegistryResult =
  | { type: 'mode_changed'; uffd: UffdInfo; change: ModeChange }
  | { type: 'uffd_created'; uffd: UffdInfo; /** the earlier uffd at the same address */ replaced: UffdInfo | undefined; event: UffdCreateEvent }
  | { type: 'uffd_closed'; uffd: UffdInfo; event: UffdCloseEvent }
  | {
      type: 'ioctl_completed';
      exit: IoctlEvent;
      /** the exit's arguments, else the entry's for control ioctls (null: unreadable) */
      args: IoctlArgs | null;
      /** the uffd it was issued on (at its entry); undefined when not tracked */
      uffd: UffdInfo | undefined;
      /** UFFDIO_SET_MODE: the attempt, with its result, drain and wake-up */
      setMode: SetModeAttempt | undefined;
    };
