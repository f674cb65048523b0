// Per-uffd context model: who owns and uses each userfaultfd, what it
// negotiated, which ranges it arms, whether it is in sync or async mode, and
// every UFFDIO_SET_MODE attempt with its result and latency.
//
// A uffd is its kernel context pointer (the same across dup, fork and fds
// passed between processes) plus its creation time (uffdIdentity.ts): a
// creation at an address already known starts a new uffd there. Feature bits come from the Uapi
// table given to the constructor (RWP bits are provisional there and may be
// overridden), never from constants in this file. What it delivers (a
// uffd's info, its SET_MODE attempts and mode changes) is in uffdTypes.ts.

import { checkSetMode } from './setModeRules.js';
import { uffdId, type HuEvent, type IoctlArgs, type IoctlEvent, type UffdEvent } from '../events/types.js';
import { errnoName, type Uapi } from '../events/uapi.js';
import type { FaultRecord } from './faultTypes.js';
import { uffdKey } from './uffdIdentity.js';
import { isControlIoctl, isPerFaultIoctl } from '../kernel/uffdIoctls.js';
import type { ArmedRange, ModeChange, RegistryResult, SetModeAttempt, UffdInfo, UffdMode } from './uffdTypes.js';

export interface RegistryOptions {
  /** cap on remembered SET_MODE attempts (all uffds); later ones are counted only. Default 10000. */
  maxModeSwitches?: number;
  /** cap on tracked uffds; later ones are counted only. Default 4096. */
  maxUffds?: number;
  /** kernel-internal ctx->features bits (UFFD_FEATURE_INITIALIZED, 1u << 31). Default 0x80000000. */
  ctxInternalMask?: number;
  /** contexts kept after their address was reused by a new uffd. Default 1024. */
  maxRetired?: number;
}

/** cap on pids remembered per uffd (pids / handlerPids) */
const MAX_PIDS = 4096;

export class UffdRegistry {
  private readonly byId = new Map<bigint, UffdInfo>();
  private last: UffdInfo | null = null;
  private readonly asyncMask: number;
  private readonly enters = new Map<number, IoctlEvent>();
  private readonly pendingSetMode = new Map<number, SetModeAttempt>();
  private readonly maxModeSwitches: number;
  private readonly maxUffds: number;
  private readonly maxRetired: number;
  private readonly internalMask: number;
  private switchCount = 0;
  /** contexts whose address a later uffd took over, oldest first */
  private readonly retired: UffdInfo[] = [];
  /** SET_MODE attempts not remembered (cap) */
  modeSwitchesDropped = 0;
  /** uffds not tracked, or no longer listed (caps on tracked and retired contexts) */
  uffdsDropped = 0;
  private readonly listeners: Array<(r: RegistryResult) => void> = [];
  /** failed creations (userfaultfd(2) or /dev/userfaultfd returning -errno) */
  readonly failedCreates: Array<{ ts: number; pid: number; comm: string; ret: number; errno: string | null; source: string }> = [];

  constructor(
    readonly uapi: Uapi,
    opts: RegistryOptions = {},
  ) {
    const bit = (k: string) => {
      const v = uapi[k];
      return v !== undefined && v > 0n && v < 1n << 32n ? Number(v) : 0;
    };
    this.asyncMask = bit('UFFD_FEATURE_WP_ASYNC') | bit('UFFD_FEATURE_RWP_ASYNC');
    this.maxModeSwitches = opts.maxModeSwitches ?? 10_000;
    this.maxUffds = opts.maxUffds ?? 4096;
    this.maxRetired = opts.maxRetired ?? 1024;
    this.internalMask = opts.ctxInternalMask ?? 0x80000000;
  }

  /** Calls `fn` with every mode change, uffd creation and close, and ioctl exit; returns an unsubscribe function. */
  onResult(fn: (r: RegistryResult) => void): () => void {
    this.listeners.push(fn);
    return () => {
      const i = this.listeners.indexOf(fn);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  private emit(r: RegistryResult): void {
    const ls = this.listeners;
    for (let i = 0; i < ls.length; i++) ls[i](r);
  }

  /** sync/async from a ctx->features value: async when WP_ASYNC or RWP_ASYNC is set. */
  modeOf(ctxFeatures: number | bigint): UffdMode {
    const f = typeof ctxFeatures === 'bigint' ? Number(ctxFeatures & 0xffffffffn) : ctxFeatures;
    return f & this.asyncMask ? 'async' : 'sync';
  }

  /** The newest uffd at a context address. */
  get(id: bigint): UffdInfo | undefined {
    return this.byId.get(id);
  }

  /** The uffd that held a context address at time `ts`: the newest one created at or before it. */
  lifetimeAt(id: bigint, ts: number): UffdInfo | undefined {
    const u = this.byId.get(id);
    if (u === undefined || u.createdTs === undefined || ts >= u.createdTs) return u;
    for (let i = this.retired.length - 1; i >= 0; i--) {
      const o = this.retired[i];
      if (o.id === id && (o.createdTs === undefined || o.createdTs <= ts)) return o;
    }
    // that uffd was forgotten (retired cap)
    return undefined;
  }

  /** A uffd by its key (uffdKey), including earlier ones whose address was reused. */
  byKey(key: string): UffdInfo | undefined {
    for (const u of this.byId.values()) if (u.key === key) return u;
    for (const u of this.retired) if (u.key === key) return u;
    return undefined;
  }

  /** Every context seen, including earlier ones whose address was reused. */
  all(): UffdInfo[] {
    return [...this.retired, ...this.byId.values()];
  }

  get size(): number {
    return this.byId.size;
  }

  /** Every SET_MODE attempt, all uffds, in entry-time order. */
  modeSwitches(): SetModeAttempt[] {
    const out: SetModeAttempt[] = [];
    for (const u of this.all()) out.push(...u.modeSwitches);
    return out.sort((a, b) => a.ts - b.ts);
  }

  push(e: UffdEvent): void {
    switch (e.type) {
      case 'fault': {
        const u = this.info(e.uffd, e.ts);
        if (u === null) return;
        u.faultEntries++;
        this.touch(u, e.pid, e.ts);
        if (u.ownerSource === null || u.ownerSource === 'use') this.setOwner(u, e.pid, e.comm, 'fault');
        this.observe(u, e.ctxFeatures, e.ts);
        return;
      }
      case 'msg': {
        const u = this.info(e.uffd, e.ts);
        if (u === null) return;
        u.messages++;
        this.touch(u, e.pid, e.ts);
        if (u.handlerPids.size < MAX_PIDS) u.handlerPids.add(e.pid);
        return;
      }
      case 'ioctl_enter':
        this.onEnter(e);
        return;
      case 'ioctl_exit':
        this.onExit(e);
        return;
      case 'hu':
        if (e.kind === 'set_mode_enter' || e.kind === 'set_mode_exit') this.onSetModeKernel(e);
        return;
      case 'wake': {
        // the header is the waker: the first waiter a SET_MODE call wakes marks its unlock
        const a = this.pendingSetMode.get(e.tid);
        if (a !== undefined && a.uffd === e.uffd && a.kernelEnterTs !== undefined && a.firstWakeTs === undefined) a.firstWakeTs = e.ts;
        return;
      }
      case 'uffd_create': {
        if (e.ret < 0 || e.uffd === 0n) {
          if (this.failedCreates.length < 1000) {
            this.failedCreates.push({ ts: e.ts, pid: e.pid, comm: e.comm, ret: e.ret, errno: errnoName(e.ret), source: e.source });
          }
          return;
        }
        const old = this.byId.get(e.uffd);
        if (old !== undefined) {
          // a live context's address is never handed out again: the kernel
          // reused a freed context's memory, this is a new uffd
          this.byId.delete(e.uffd);
          if (this.last === old) this.last = null;
          this.retired.push(old);
          if (this.retired.length > this.maxRetired) {
            // forgotten: counted, so a report never lists fewer uffds silently
            this.retired.shift();
            this.uffdsDropped++;
          }
        }
        const u = this.info(e.uffd, e.ts);
        if (u === null) return;
        if (old !== undefined && u !== old) u.generation = old.generation + 1;
        u.createdTs = e.ts;
        u.key = uffdKey({ ctx: u.id, createdNs: e.ts });
        u.createFlags = e.flags;
        u.createSource = e.source;
        u.closedTs = undefined;
        this.touch(u, e.pid, e.ts);
        this.setOwner(u, e.pid, e.comm, 'create');
        if (this.listeners.length !== 0) this.emit({ type: 'uffd_created', uffd: u, replaced: old !== u ? old : undefined, event: e });
        return;
      }
      case 'uffd_close': {
        const u = this.info(e.uffd, e.ts);
        if (u === null) return;
        u.closedTs = e.ts;
        u.closes++;
        this.touch(u, e.pid, e.ts);
        if (this.listeners.length !== 0) this.emit({ type: 'uffd_closed', uffd: u, event: e });
        return;
      }
      default:
        return;
    }
  }

  /** Counts a fault record against its uffd (and a mode switch it was woken by). */
  noteRecord(r: FaultRecord): void {
    // a fault before the newest creation at its address belongs to an earlier uffd
    const u = this.lifetimeAt(r.uffd, r.faultTs);
    if (u === undefined) return;
    if (r.userfault) {
      u.faults++;
      u.faultsByKind[r.kind] = (u.faultsByKind[r.kind] ?? 0) + 1;
    }
    if (r.end === 'mode_switch' && r.wakeIoctl !== undefined) {
      const w = r.wakeIoctl;
      for (let i = u.modeSwitches.length - 1; i >= 0; i--) {
        const a = u.modeSwitches[i];
        if (a.ts === w.enterTs && a.tid === w.tid) {
          a.woken++;
          break;
        }
        if (a.ts < w.enterTs) break;
      }
    }
  }

  // ---- internals ----

  private info(id: bigint, ts: number): UffdInfo | null {
    const l = this.last;
    if (l !== null && l.id === id) return l;
    let u = this.byId.get(id);
    if (u === undefined) {
      if (this.byId.size >= this.maxUffds) {
        this.uffdsDropped++;
        return null;
      }
      u = {
        id,
        idHex: uffdId(id),
        key: uffdKey({ ctx: id, createdNs: null }),
        ownerPid: null,
        ownerComm: null,
        ownerSource: null,
        createdTs: undefined,
        createFlags: undefined,
        createSource: undefined,
        closedTs: undefined,
        closes: 0,
        pids: new Set(),
        handlerPids: new Set(),
        requestedFeatures: undefined,
        features: undefined,
        availableFeatures: undefined,
        apiIoctls: undefined,
        ctxFeatures: 0,
        generation: 0,
        apiTs: undefined,
        apiRet: undefined,
        ranges: [],
        armedBytes: 0n,
        mode: 'sync',
        modeHistory: [],
        modeSwitches: [],
        faultEntries: 0,
        faults: 0,
        faultsByKind: {},
        messages: 0,
        ioctls: 0,
        firstTs: ts,
        lastTs: ts,
      };
      this.byId.set(id, u);
    }
    this.last = u;
    return u;
  }

  private touch(u: UffdInfo, pid: number, ts: number): void {
    if (u.pids.size < MAX_PIDS || u.pids.has(pid)) u.pids.add(pid);
    if (ts > u.lastTs) u.lastTs = ts;
    if (ts < u.firstTs) u.firstTs = ts;
  }

  private setOwner(u: UffdInfo, pid: number, comm: string, source: 'create' | 'fault' | 'use'): void {
    u.ownerPid = pid;
    u.ownerComm = comm;
    u.ownerSource = source;
  }

  /** Follows ctx->features as events report it; a change of mode is recorded. */
  private observe(u: UffdInfo, ctxFeatures: number, ts: number, cause: ModeChange['cause'] = 'observed'): void {
    u.ctxFeatures = ctxFeatures & ~this.internalMask;
    const m = this.modeOf(ctxFeatures);
    if (m !== u.mode || u.modeHistory.length === 0) {
      const change: ModeChange = { ts, mode: m, cause };
      if (u.modeHistory.length < 10_000) u.modeHistory.push(change);
      u.mode = m;
      if (this.listeners.length !== 0) this.emit({ type: 'mode_changed', uffd: u, change });
    }
  }

  private onEnter(e: IoctlEvent): void {
    const u = this.info(e.uffd, e.ts);
    if (u === null) return;
    this.touch(u, e.pid, e.ts);
    if (u.ownerSource === null) this.setOwner(u, e.pid, e.comm, 'use');
    // control ioctls keep their entry arguments until the exit (exit arguments may be unreadable)
    if (isControlIoctl(e.name)) {
      this.enters.set(e.tid, e);
      if (this.enters.size > 65_536) this.enters.clear(); // exits lost
    }
    if (e.name === 'UFFDIO_SET_MODE') {
      const a = this.newAttempt(u, e, e.args);
      if (a !== null) {
        this.pendingSetMode.set(e.tid, a);
        if (this.pendingSetMode.size > 4096) this.pendingSetMode.clear(); // exits lost
      }
    } else if (e.name === 'UFFDIO_API' && e.args) {
      u.requestedFeatures = e.args.features;
    }
  }

  private onExit(e: IoctlEvent): void {
    const u = this.info(e.uffd, e.ts);
    if (u === null) {
      if (this.listeners.length !== 0) this.emit({ type: 'ioctl_completed', exit: e, args: e.args, uffd: undefined, setMode: undefined });
      return;
    }
    u.ioctls++;
    this.touch(u, e.pid, e.ts);
    if (u.ownerSource === null) this.setOwner(u, e.pid, e.comm, 'use');
    if (isPerFaultIoctl(e.name) && u.handlerPids.size < MAX_PIDS) u.handlerPids.add(e.pid);
    let args: IoctlArgs | null = e.args;
    if (isControlIoctl(e.name)) {
      const en = this.enters.get(e.tid);
      if (en !== undefined) {
        this.enters.delete(e.tid);
        if (en.ts === e.enterTs && args === null) args = en.args;
      }
    }
    const attempt = e.name === 'UFFDIO_SET_MODE' ? this.completeSetMode(u, e, args) : undefined;
    if (this.listeners.length !== 0) this.emit({ type: 'ioctl_completed', exit: e, args, uffd: this.lifetimeAt(e.uffd, e.enterTs), setMode: attempt });
    switch (e.name) {
      case 'UFFDIO_API':
        u.apiTs = e.ts;
        u.apiRet = e.ret;
        if (e.ret === 0) {
          const ctx = e.ctxFeatures & ~this.internalMask;
          if (args) {
            u.availableFeatures = args.features;
            u.apiIoctls = args.ioctls;
          }
          // ctx->features is read at the exit; if it reads 0 (context not
          // readable), fall back to requested & available
          u.features =
            ctx !== 0 || u.requestedFeatures === 0n
              ? BigInt(ctx)
              : (u.requestedFeatures ?? 0n) & (u.availableFeatures ?? ~0n);
          this.observe(u, e.ctxFeatures, e.ts, 'api');
        }
        return;
      case 'UFFDIO_REGISTER':
        if (e.ret === 0 && args && args.start !== undefined && args.len !== undefined) {
          this.addRange(u, args.start, args.start + args.len, args.mode ?? 0n);
        }
        this.observe(u, e.ctxFeatures, e.ts);
        return;
      case 'UFFDIO_UNREGISTER':
        if (e.ret === 0 && args && args.start !== undefined && args.len !== undefined) {
          this.removeRange(u, args.start, args.start + args.len);
        }
        this.observe(u, e.ctxFeatures, e.ts);
        return;
      case 'UFFDIO_SET_MODE':
        this.observe(u, e.ctxFeatures, e.ts, 'set_mode');
        return;
      default:
        this.observe(u, e.ctxFeatures, e.ts);
    }
  }

  /** The SET_MODE attempt an exit ends, with its result and the rules' verdict; undefined past the cap. */
  private completeSetMode(u: UffdInfo, e: IoctlEvent, args: IoctlArgs | null): SetModeAttempt | undefined {
    let a = this.pendingSetMode.get(e.tid);
    if (a !== undefined && a.ts === e.enterTs && a.uffd === e.uffd) this.pendingSetMode.delete(e.tid);
    else a = this.newAttempt(u, e, args) ?? undefined;
    if (a === undefined) return undefined;
    a.exitTs = e.ts;
    a.ret = e.ret;
    a.errno = errnoName(e.ret);
    a.latencyNs = e.ts - a.ts;
    a.modeAfter = this.modeOf(e.ctxFeatures);
    if (a.enable === null && args) {
      a.enable = args.enable ?? null;
      a.disable = args.disable ?? null;
    }
    a.verdict = checkSetMode(this.ruleInputs(u, a), e.ret, this.uapi);
    return a;
  }

  /** What the trace observed of the context when the attempt began (the rules' inputs). */
  private ruleInputs(u: UffdInfo, a: SetModeAttempt): Parameters<typeof checkSetMode>[0] {
    // ctx->features with UFFD_FEATURE_INITIALIZED set was read right; 0 may be an unreadable context
    const ctxRead = a.ctxBefore !== undefined && (a.ctxBefore & this.internalMask) !== 0;
    const initialized = ctxRead || u.apiRet === 0 ? true : u.createdTs !== undefined ? false : undefined;
    return {
      enable: a.enable,
      disable: a.disable,
      initialized,
      features: ctxRead ? BigInt(a.ctxBefore! & ~this.internalMask) : u.features,
      available: u.availableFeatures,
      apiIoctls: u.apiIoctls,
    };
  }

  /** userfaultfd_set_mode() entry/exit (precise backends): the drain and the wake-up. */
  private onSetModeKernel(e: HuEvent): void {
    const a = this.pendingSetMode.get(e.tid);
    if (a === undefined || a.uffd !== e.uffd) return;
    if (e.kind === 'set_mode_enter') {
      a.kernelEnterTs = e.ts;
      a.firstWakeTs = undefined;
      if (a.enable === null && e.argReadOk) {
        a.enable = e.reason;
        a.disable = e.faultFlags;
      }
      return;
    }
    if (a.kernelEnterTs === undefined || e.enterTs !== a.kernelEnterTs || e.ret !== 0) return;
    const unlock = a.firstWakeTs ?? e.ts;
    a.drainNs = unlock - a.kernelEnterTs;
    const enable = a.enable ?? (e.argReadOk ? e.reason : null);
    if (enable !== null && enable & this.uapi.UFFD_FEATURE_RWP_ASYNC) a.wakeupNs = e.ts - unlock;
  }

  private newAttempt(u: UffdInfo, e: IoctlEvent, args: IoctlArgs | null): SetModeAttempt | null {
    this.switchCount++;
    if (this.switchCount > this.maxModeSwitches) {
      this.modeSwitchesDropped++;
      return null;
    }
    const a: SetModeAttempt = {
      uffd: u.id,
      uffdCreatedNs: u.createdTs ?? null,
      ts: e.type === 'ioctl_enter' ? e.ts : e.enterTs,
      exitTs: undefined,
      pid: e.pid,
      tid: e.tid,
      comm: e.comm,
      enable: args?.enable ?? null,
      disable: args?.disable ?? null,
      ret: undefined,
      errno: null,
      latencyNs: undefined,
      drainNs: undefined,
      wakeupNs: undefined,
      ctxBefore: e.type === 'ioctl_enter' ? e.ctxFeatures : undefined,
      kernelEnterTs: undefined,
      firstWakeTs: undefined,
      modeBefore: e.type === 'ioctl_enter' ? this.modeOf(e.ctxFeatures) : u.mode,
      modeAfter: undefined,
      woken: 0,
    };
    u.modeSwitches.push(a);
    return a;
  }

  private addRange(u: UffdInfo, start: bigint, end: bigint, mode: bigint): void {
    if (end <= start) return;
    this.removeRange(u, start, end);
    const r = u.ranges;
    let i = 0;
    while (i < r.length && r[i].start < start) i++;
    r.splice(i, 0, { start, end, mode });
    u.armedBytes += end - start;
  }

  private removeRange(u: UffdInfo, start: bigint, end: bigint): void {
    const out: ArmedRange[] = [];
    let bytes = 0n;
    for (const x of u.ranges) {
      if (x.end <= start || x.start >= end) {
        out.push(x);
        bytes += x.end - x.start;
        continue;
      }
      if (x.start < start) {
        out.push({ start: x.start, end: start, mode: x.mode });
        bytes += start - x.start;
      }
      if (x.end > end) {
        out.push({ start: end, end: x.end, mode: x.mode });
        bytes += x.end - end;
      }
    }
    u.ranges = out;
    u.armedBytes = bytes;
  }
}
