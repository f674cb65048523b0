// GENERATED STREAMS for unit tests: builds synthetic, well-formed uffdscope
// event sequences (the decoded form, src/events/types.ts) the way the
// tracepoint backend would emit them. Nothing here was captured from a
// kernel; timestamps are invented and advance by `tick()`.
//
// Not a test file itself (no tests are declared here).

import type { ArmedMode, IoctlArgs, IoctlEvent, MsgEvent, UffdEvent } from '../../src/events/types.js';
import { ioctlNr, resolveUapi, type Uapi } from '../../src/events/uapi.js';

export const uapi: Uapi = resolveUapi();

export interface Thread {
  pid: number;
  tid: number;
  comm: string;
}

export interface FaultHandle {
  t: Thread;
  uffd: bigint;
  address: bigint;
  faultTs: number;
  wakeTs: number;
  wakerTid: number;
  nblocks: number;
}

export interface IoctlHandle {
  t: Thread;
  uffd: bigint;
  name: string;
  cmd: number;
  enterTs: number;
  args: IoctlArgs | null;
}

export const PF = { PRESENT: 1, WRITE: 2, USER: 4 } as const;
/** error code of a user write to a not-present page */
export const ERR_MISSING_WRITE = PF.USER | PF.WRITE;
/** error code of a user write to a present, write-protected page */
export const ERR_WP_WRITE = PF.USER | PF.WRITE | PF.PRESENT;

export function thread(pid: number, tid: number, comm = `t${tid}`): Thread {
  return { pid, tid, comm };
}

export function bit(name: string): number {
  return Number(uapi[name]);
}

export class StreamBuilder {
  readonly events: UffdEvent[] = [];
  ts: number;
  cpu = 0;

  constructor(
    startTs = 1_000_000_000,
    readonly sink?: (e: UffdEvent) => void,
  ) {
    this.ts = startTs;
  }

  /** Advances time by `ns` (default 1 µs) and returns the new time. */
  tick(ns = 1000): number {
    this.ts += ns;
    return this.ts;
  }

  private emit<T extends UffdEvent>(e: T): T {
    if (this.sink) this.sink(e);
    else this.events.push(e);
    return e;
  }

  private base(t: Thread) {
    return { ts: this.ts, cpu: this.cpu, pid: t.pid, tid: t.tid, comm: t.comm };
  }

  create(t: Thread, uffd: bigint, flags = 0x80000): void {
    this.tick();
    this.emit({ type: 'uffd_create', ...this.base(t), uffd, ret: 3, flags, source: 'syscall' });
  }

  fault(
    t: Thread,
    uffd: bigint,
    address: bigint,
    o: { errorCode?: number; armed?: ArmedMode[]; ctxFeatures?: number; vmFlags?: bigint } = {},
  ): FaultHandle {
    this.tick();
    const armed = o.armed ?? ['missing'];
    this.emit({
      type: 'fault',
      ...this.base(t),
      address,
      ip: 0x401000n,
      errorCode: o.errorCode ?? ERR_MISSING_WRITE,
      uffd,
      vmFlags: o.vmFlags ?? ((armed.includes('missing') ? 0x200n : 0n) | (armed.includes('wp') ? 0x1000n : 0n) | 0x73n),
      vmaStart: address & ~0xfffffn,
      vmaEnd: (address & ~0xfffffn) + 0x100000n,
      ctxFeatures: o.ctxFeatures ?? 0,
      armed,
    });
    return { t, uffd, address, faultTs: this.ts, wakeTs: 0, wakerTid: 0, nblocks: 0 };
  }

  block(h: FaultHandle, how: 'stack' | 'heuristic' = 'stack'): void {
    this.tick();
    h.nblocks++;
    this.emit({ type: 'block', ...this.base(h.t), address: h.address, uffd: h.uffd, faultTs: h.faultTs, prevState: 1, how, nblocks: h.nblocks });
  }

  msg(reader: Thread, uffd: bigint, address: bigint, o: { kind?: 'missing' | 'wp' | 'minor' | 'rwp'; ptid?: number; write?: boolean } = {}): MsgEvent {
    this.tick();
    const kind = o.kind ?? 'missing';
    let flags = o.write === false ? 0n : uapi.UFFD_PAGEFAULT_FLAG_WRITE;
    if (kind === 'wp') flags |= uapi.UFFD_PAGEFAULT_FLAG_WP;
    if (kind === 'minor') flags |= uapi.UFFD_PAGEFAULT_FLAG_MINOR;
    if (kind === 'rwp') flags |= uapi.UFFD_PAGEFAULT_FLAG_RWP;
    const ptid = o.ptid ?? 0;
    return this.emit({
      type: 'msg',
      ...this.base(reader),
      uffd,
      readEnterTs: this.ts - 500,
      event: Number(uapi.UFFD_EVENT_PAGEFAULT),
      eventName: 'pagefault',
      fd: 3,
      index: 0,
      inRead: 1,
      body: [flags, address, BigInt(ptid)],
      pagefault: { flags, address, ptid, kind },
    });
  }

  /** A non-pagefault message (fork, remap, remove, unmap). */
  eventMsg(reader: Thread, uffd: bigint, name: 'fork' | 'remap' | 'remove' | 'unmap'): void {
    this.tick();
    this.emit({
      type: 'msg',
      ...this.base(reader),
      uffd,
      readEnterTs: this.ts - 500,
      event: Number(uapi[`UFFD_EVENT_${name.toUpperCase()}`]),
      eventName: name,
      fd: 3,
      index: 0,
      inRead: 1,
      body: [0n, 0n, 0n],
    });
  }

  ioctlEnter(t: Thread, uffd: bigint, name: string, args: IoctlArgs | null, ctxFeatures = 0): IoctlHandle {
    this.tick();
    const nr = ioctlNr(name, uapi);
    if (nr === undefined) throw new Error(`unknown ioctl ${name}`);
    const whole = uapi[name];
    const cmd = whole !== undefined ? Number(whole) : (0xaa << 8) | nr;
    const e: IoctlEvent = { type: 'ioctl_enter', ...this.base(t), uffd, cmd, name, argPtr: 0x7ffd0000n, args, enterTs: this.ts, ret: 0, fd: 3, ctxFeatures };
    this.emit(e);
    return { t, uffd, name, cmd, enterTs: this.ts, args };
  }

  ioctlExit(h: IoctlHandle, ret = 0, argsOut?: IoctlArgs | null, ctxFeatures = 0, durNs = 1000): IoctlEvent {
    this.tick(durNs);
    const args = argsOut === undefined ? h.args : argsOut;
    return this.emit({
      type: 'ioctl_exit',
      ...this.base(h.t),
      uffd: h.uffd,
      cmd: h.cmd,
      name: h.name,
      argPtr: 0x7ffd0000n,
      args,
      enterTs: h.enterTs,
      ret,
      fd: 3,
      ctxFeatures,
    });
  }

  /** enter + exit */
  ioctl(t: Thread, uffd: bigint, name: string, args: IoctlArgs | null, ret = 0, argsOut?: IoctlArgs | null, ctx?: { before?: number; after?: number }): IoctlEvent {
    const h = this.ioctlEnter(t, uffd, name, args, ctx?.before ?? 0);
    return this.ioctlExit(h, ret, argsOut, ctx?.after ?? ctx?.before ?? 0);
  }

  api(t: Thread, uffd: bigint, requested: bigint, granted = requested): void {
    this.ioctl(t, uffd, 'UFFDIO_API', { api: 0xaan, features: requested, ioctls: 0n }, 0, { api: 0xaan, features: granted, ioctls: 0x3n }, {
      after: Number(granted),
    });
  }

  register(t: Thread, uffd: bigint, start: bigint, len: bigint, mode: bigint, ret = 0): void {
    this.ioctl(t, uffd, 'UFFDIO_REGISTER', { start, len, mode, ioctls: 0n }, ret, { start, len, mode, ioctls: 0x1cn });
  }

  unregisterEnter(t: Thread, uffd: bigint, start: bigint, len: bigint): IoctlHandle {
    return this.ioctlEnter(t, uffd, 'UFFDIO_UNREGISTER', { start, len });
  }

  copyEnter(t: Thread, uffd: bigint, dst: bigint, len = 4096n, mode = 0n): IoctlHandle {
    return this.ioctlEnter(t, uffd, 'UFFDIO_COPY', { dst, src: 0x10000000n, len, mode, copy: 0n });
  }

  copyExit(h: IoctlHandle, ret = 0): IoctlEvent {
    const a = h.args!;
    return this.ioctlExit(h, ret, { ...a, copy: ret === 0 ? a.len : BigInt(ret) });
  }

  wake(waker: Thread, h: FaultHandle): void {
    this.tick();
    h.wakeTs = this.ts;
    h.wakerTid = waker.tid;
    this.emit({ type: 'wake', ...this.base(waker), address: h.address, uffd: h.uffd, faultTs: h.faultTs, targetPid: h.t.pid, targetTid: h.t.tid });
  }

  resume(h: FaultHandle, delay = 1000): void {
    this.tick(delay);
    this.emit({ type: 'resume', ...this.base(h.t), address: h.address, uffd: h.uffd, faultTs: h.faultTs, wakeTs: h.wakeTs, wakerTid: h.wakerTid });
  }

  close(t: Thread, uffd: bigint): void {
    this.tick();
    this.emit({ type: 'uffd_close', ...this.base(t), uffd, fd: 3 });
  }

  exit(t: Thread, code = 0): void {
    this.tick();
    this.emit({ type: 'proc', ...this.base(t), kind: 'exit', otherPid: code, otherTid: 0 });
  }

  fork(t: Thread, child: number): void {
    this.tick();
    this.emit({ type: 'proc', ...this.base(t), kind: 'fork', otherPid: child, otherTid: child });
  }

  /**
   * The common sync missing fault: fault -> block -> msg -> COPY enter ->
   * wake -> COPY exit -> resume.
   */
  missingFault(t: Thread, handler: Thread, uffd: bigint, address: bigint, o: { ptid?: boolean } = {}): FaultHandle {
    const h = this.fault(t, uffd, address);
    this.block(h);
    this.tick(5000);
    this.msg(handler, uffd, address & ~4095n, { ptid: o.ptid ? t.tid : 0 });
    const c = this.copyEnter(handler, uffd, address & ~4095n);
    this.tick(3000);
    this.wake(handler, h);
    this.copyExit(c);
    this.resume(h, 2000);
    return h;
  }
}
