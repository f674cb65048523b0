// GENERATED scenarios for what no kernel here can produce: the RWP series'
// successful UFFDIO_SET_MODE switches, RWP faults, async auto-resolution.
// The events follow the seed patch (docs/set-mode.md): the switch drains the
// faults running under the mmap/VMA locks (not the sleepers, which dropped
// them), faults arriving meanwhile wait for the unlock, the features change
// at the unlock, and every waiter on both queues is woken after it whenever
// `enable` has RWP_ASYNC. They are deterministic for a seed, come with their
// own ground truth, and the recording header marks them generated.

import type { UffdEvent, FaultEvent } from '../events/types.js';
import type { Uapi } from '../events/uapi.js';

/** Small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ModeToggleOptions {
  seed: number;
  /** seconds of simulated time */
  durationS: number;
  /** faults per second per faulting thread while sync */
  faultRate: number;
  /** boot-time ns of the first event */
  startNs: number;
}

/** One UFFDIO_SET_MODE call (or a uffd ioctl that only shares its nr) as generated. */
export interface SwitchTruth {
  uffd: bigint;
  tid: number;
  cmd: number;
  enterTs: number;
  exitTs: number;
  /** null: the struct was unreadable (EFAULT) */
  enable: bigint | null;
  disable: bigint | null;
  ret: number;
  /** userfaultfd_set_mode() entry and return; undefined when it was never called (another cmd) */
  kernelEnterTs: number | undefined;
  kernelExitTs: number | undefined;
  /** mmap_write_lock() and mmap_write_unlock() (successful calls only) */
  lockTs: number | undefined;
  unlockTs: number | undefined;
  /** the fixed part of the drain (vma_start_write on each armed VMA, no fault in flight) */
  fixedDrainNs: number | undefined;
  /** when the last fault running under the lock at lockTs let go of it (0: none) */
  inFlightUntil: number;
  asyncBefore: boolean;
  asyncAfter: boolean;
  /** the waiters woken (faulting tids), with the queue each was on */
  woken: Array<{ tid: number; queue: 'pending' | 'read' }>;
}

export interface ModeToggleTruth {
  uffds: Array<{ uffd: bigint; requested: bigint; startFeatures: bigint }>;
  switches: SwitchTruth[];
  /** faults resolved in the kernel: RWP faults on a uffd in RWP_ASYNC mode */
  asyncFaults: number;
  /** faults that entered during a drain (they ran after its unlock) */
  faultsDuringDrain: number;
}

interface SimSwitch {
  atS: number;
  enable: bigint | null;
  disable: bigint | null;
  /** a cmd other than UFFDIO_SET_MODE with the same type and nr */
  cmd?: number;
}

interface SimUffd {
  uffd: bigint;
  pid: number;
  comm: string;
  vcpus: number[];
  /** a vCPU whose fault is still running when a switch takes the lock, and one whose fault arrives during the drain */
  slowTid: number;
  lateTid: number;
  handlerPid: number;
  handlerTid: number;
  handlerComm: string;
  controlTid: number;
  base: bigint;
  pages: number;
  /** asked for (and granted) at UFFDIO_API: the uffd starts async when this has RWP_ASYNC */
  startAsync: boolean;
  async: boolean;
  fd: number;
  switches: SimSwitch[];
  /** the latest drain: faults entering in [enter, unlock) wait for the unlock */
  drain: { enter: number; unlock: number } | null;
  /** the end of the latest in-kernel fault run (under the mmap or VMA lock) */
  runningUntil: number;
}

interface Waiting {
  u: SimUffd;
  tid: number;
  addr: bigint;
  faultTs: number;
  queue: 'pending' | 'read';
}

const MS = 1e6;
const US = 1e3;
const HANDLER_STALL_NS = 30 * MS;
const INITIALIZED = 0x80000000;
/** from the last fault letting go of the lock to the drain taking it */
export const LOCK_HANDOVER_NS = 200;
const EFAULT = -14;
const EINVAL = -22;

/**
 * The `mode-toggle` scenario: three uffds in two VMMs (one with its handler
 * in a separate process), RWP faults resolved by UFFDIO_RWPROTECT while
 * sync, switches under load (a fault running when the lock is taken makes
 * the drain wait for it), async faults that never wait, an RWP_ASYNC enable
 * on a uffd already async (the wake-up still runs), and refused attempts:
 * overlapping masks, an unreadable struct (EFAULT), and an ioctl with
 * SET_MODE's nr but another direction (not SET_MODE to the kernel).
 * Calls `emit` in timestamp order and returns the ground truth.
 */
export function generateModeToggle(uapi: Uapi, o: ModeToggleOptions, emit: (e: UffdEvent) => void): ModeToggleTruth {
  const rnd = prng(o.seed);
  const RWP = Number(uapi.UFFD_FEATURE_RWP);
  const RWP_ASYNC = Number(uapi.UFFD_FEATURE_RWP_ASYNC);
  const A = BigInt(RWP_ASYNC);
  const THREAD_ID = Number(uapi.UFFD_FEATURE_THREAD_ID);
  const RWP_FLAG = uapi.UFFD_PAGEFAULT_FLAG_RWP;
  const EVENT_PAGEFAULT = Number(uapi.UFFD_EVENT_PAGEFAULT);
  const SET_MODE = Number(uapi.UFFDIO_SET_MODE);
  // what UFFDIO_API reports: every available feature, and the ioctls with the series' bit 10
  const AVAILABLE = 0x1ffffn | BigInt(RWP | RWP_ASYNC);
  const API_IOCTLS = (1n << uapi._UFFDIO_REGISTER) | (1n << uapi._UFFDIO_UNREGISTER) | (1n << uapi._UFFDIO_SET_MODE) | (1n << uapi._UFFDIO_API);
  const d = o.durationS;
  const uffds: SimUffd[] = [
    {
      uffd: 0xffff8881_0a000000n, pid: 4100, comm: 'qemu-system-x86', vcpus: [4101, 4102, 4103, 4104], slowTid: 4107, lateTid: 4108,
      handlerPid: 4100, handlerTid: 4110, handlerComm: 'uffd-handler', controlTid: 4120, base: 0x7f4000000000n, pages: 65536, startAsync: false, async: false, fd: 17,
      switches: [
        { atS: d * 0.3, enable: A, disable: 0n },
        { atS: d * 0.5, enable: A, disable: A },
        { atS: d * 0.55, enable: null, disable: null },
        { atS: d * 0.6, enable: 0n, disable: A, cmd: 0xc010aa0a },
        { atS: d * 0.7, enable: 0n, disable: A },
      ],
      drain: null, runningUntil: 0,
    },
    {
      uffd: 0xffff8881_0b000000n, pid: 4100, comm: 'qemu-system-x86', vcpus: [4105, 4106], slowTid: 4109, lateTid: 4112,
      handlerPid: 4100, handlerTid: 4111, handlerComm: 'uffd-handler', controlTid: 4121, base: 0x7f5000000000n, pages: 32768, startAsync: false, async: false, fd: 18,
      switches: [{ atS: d * 0.45, enable: A, disable: 0n }, { atS: d * 0.65, enable: A, disable: 0n }, { atS: d * 0.85, enable: 0n, disable: A }],
      drain: null, runningUntil: 0,
    },
    {
      uffd: 0xffff8881_0c000000n, pid: 5200, comm: 'firecracker', vcpus: [5201, 5202], slowTid: 5203, lateTid: 5204,
      handlerPid: 5300, handlerTid: 5300, handlerComm: 'fc-uffd-handler', controlTid: 5210, base: 0x7e0000000000n, pages: 16384, startAsync: true, async: true, fd: 9,
      switches: [{ atS: d * 0.2, enable: 0n, disable: A }, { atS: d * 0.6, enable: A, disable: 0n }],
      drain: null, runningUntil: 0,
    },
  ];
  const truth: ModeToggleTruth = { uffds: [], switches: [], asyncFaults: 0, faultsDuringDrain: 0 };

  const queue: UffdEvent[] = [];
  const push = (e: UffdEvent) => queue.push(e);
  const cpuOf = (tid: number) => tid % 2;
  const base = (ts: number, pid: number, tid: number, comm: string) => ({ ts: Math.round(ts), cpu: cpuOf(tid), pid, tid, comm });
  const vcomm = (tid: number) => `CPU ${tid % 100}/KVM`;
  const features = (u: SimUffd) => RWP | THREAD_ID | (u.async ? RWP_ASYNC : 0);

  // Setup: create, API (features as asked), REGISTER (RWP mode), RWPROTECT.
  let t0 = o.startNs;
  for (const u of uffds) {
    const setupTid = u.controlTid;
    push({ ...base(t0, u.pid, setupTid, u.comm), type: 'uffd_create', uffd: u.uffd, ret: u.fd, flags: 0x80800, source: 'syscall' });
    const ioctl = (name: string, args: Record<string, bigint>, out: Record<string, bigint>, durNs: number, before: number, after: number) => {
      const s = t0;
      push({ ...base(s, u.pid, setupTid, u.comm), type: 'ioctl_enter', uffd: u.uffd, cmd: 0, name, argPtr: 0x7ffc00001000n, args, enterTs: s, ret: 0, fd: u.fd, ctxFeatures: before });
      push({ ...base(s + durNs, u.pid, setupTid, u.comm), type: 'ioctl_exit', uffd: u.uffd, cmd: 0, name, argPtr: 0x7ffc00001000n, args: out, enterTs: s, ret: 0, fd: u.fd, ctxFeatures: after });
      t0 += durNs + 20 * US;
    };
    const len = BigInt(u.pages) * 4096n;
    const requested = BigInt(features(u));
    truth.uffds.push({ uffd: u.uffd, requested, startFeatures: requested });
    const ctx = features(u) | INITIALIZED;
    ioctl('UFFDIO_API', { api: 0xaan, features: requested, ioctls: 0n }, { api: 0xaan, features: AVAILABLE, ioctls: API_IOCTLS }, 3 * US, 0, ctx);
    const reg = { start: u.base, len, mode: uapi.UFFDIO_REGISTER_MODE_RWP, ioctls: 0n };
    ioctl('UFFDIO_REGISTER', reg, reg, 40 * US, ctx, ctx);
    const rw = { start: u.base, len, mode: 1n };
    ioctl('UFFDIO_RWPROTECT', rw, rw, 2 * MS, ctx, ctx);
  }
  queue.sort((a, b) => a.ts - b.ts);
  for (const e of queue) emit(e);
  queue.length = 0;

  const sliceNs = 100 * MS;
  const slices = Math.ceil((d * 1e9) / sliceNs);
  const start = t0 + MS;
  const switchAt = (sw: SimSwitch) => start + sw.atS * 1e9;
  let waiting: Waiting[] = [];
  let page = 0;
  const busyUntil = new Map<number, number>();
  const handlerBusy = new Map<SimUffd, number>();

  const doSwitch = (u: SimUffd, sw: SimSwitch) => {
    const at = switchAt(sw);
    const cmd = sw.cmd ?? SET_MODE;
    const name = cmd === SET_MODE ? 'UFFDIO_SET_MODE' : `UFFDIO_cmd_0x${cmd.toString(16)}`;
    const args = sw.enable === null || sw.disable === null ? null : { enable: sw.enable, disable: sw.disable };
    const ctl = (ts: number) => base(ts, u.pid, u.controlTid, u.comm);
    const ioc = { uffd: u.uffd, cmd, name, argPtr: 0x7ffc00002000n, args, enterTs: at, fd: u.fd };
    const t: SwitchTruth = {
      uffd: u.uffd, tid: u.controlTid, cmd, enterTs: at, exitTs: 0, enable: sw.enable, disable: sw.disable, ret: 0,
      kernelEnterTs: undefined, kernelExitTs: undefined, lockTs: undefined, unlockTs: undefined, fixedDrainNs: undefined,
      inFlightUntil: 0, asyncBefore: u.async, asyncAfter: u.async, woken: [],
    };
    truth.switches.push(t);
    push({ ...ctl(at), type: 'ioctl_enter', ...ioc, ret: 0, ctxFeatures: features(u) | INITIALIZED });
    const exit = (ts: number, ret: number) => {
      t.exitTs = Math.round(ts);
      t.ret = ret;
      push({ ...ctl(ts), type: 'ioctl_exit', ...ioc, ret, ctxFeatures: features(u) | INITIALIZED });
    };
    if (cmd !== SET_MODE) {
      exit(at + 2 * US, EINVAL); // an unknown cmd to userfaultfd_ioctl()
      return;
    }
    const hu = (ts: number, kind: 'set_mode_enter' | 'set_mode_exit', ret: number) =>
      push({ ...ctl(ts), type: 'hu', kind, uffd: u.uffd, address: ioc.argPtr, reason: sw.enable ?? 0n, faultFlags: sw.disable ?? 0n, enterTs: Math.round(at + US), ret, ctxFeatures: features(u) | INITIALIZED, argReadOk: args !== null });
    t.kernelEnterTs = Math.round(at + US);
    hu(at + US, 'set_mode_enter', 0);
    const refused = args === null ? EFAULT : sw.enable! & sw.disable! ? EINVAL : 0;
    if (refused) {
      t.kernelExitTs = Math.round(at + 1.5 * US);
      hu(at + 1.5 * US, 'set_mode_exit', refused);
      exit(at + 2 * US, refused);
      return;
    }
    // Drain: mmap_write_lock() + vma_start_write() on the armed VMA wait for
    // the faults running under those locks; sleepers dropped them already.
    const lock = at + 1.5 * US;
    const fixed = 8 * US + 2 * US + rnd() * 6 * US;
    const unlock = Math.max(lock + fixed, u.runningUntil + LOCK_HANDOVER_NS);
    t.lockTs = Math.round(lock);
    t.unlockTs = Math.round(unlock);
    t.fixedDrainNs = Math.round(fixed);
    t.inFlightUntil = u.runningUntil > lock ? u.runningUntil : 0;
    u.drain = { enter: at, unlock };
    u.async = ((u.async ? A : 0n) | sw.enable!) & ~sw.disable! ? true : false;
    t.asyncAfter = u.async;
    let end = unlock;
    if (sw.enable! & A) {
      // every waiter on both queues, whatever the mode was
      let w = unlock + 0.5 * US;
      for (const x of waiting) {
        if (x.u !== u || x.faultTs >= at) continue;
        push({ ...ctl(w), type: 'wake', address: x.addr, uffd: u.uffd, faultTs: x.faultTs, targetPid: u.pid, targetTid: x.tid });
        push({ ...base(w + 8 * US, u.pid, x.tid, vcomm(x.tid)), type: 'resume', address: x.addr, uffd: u.uffd, faultTs: x.faultTs, wakeTs: Math.round(w), wakerTid: u.controlTid });
        busyUntil.set(x.tid, w + 8 * US);
        t.woken.push({ tid: x.tid, queue: x.queue });
        end = w;
        w += 2 * US;
      }
      waiting = waiting.filter((x) => x.u !== u);
    }
    const kexit = end + US;
    t.kernelExitTs = Math.round(kexit);
    hu(kexit, 'set_mode_exit', 0);
    exit(kexit + 1.5 * US, 0);
  };

  for (let s = 0; s < slices; s++) {
    const sliceStart = start + s * sliceNs;
    const sliceEnd = sliceStart + sliceNs;
    for (const u of uffds) {
      const mine = u.switches.filter((sw) => switchAt(sw) >= sliceStart && switchAt(sw) < sliceEnd);
      // This slice's faults of all the uffd's vCPUs, in time order, so the
      // one handler thread serves them one after another: [tid, ts, in-kernel run ns].
      const planned: Array<[number, number, number]> = [];
      for (const tid of u.vcpus) {
        const n = Math.max(0, Math.round((o.faultRate * sliceNs) / 1e9 * (0.6 + 0.8 * rnd())));
        for (let k = 0; k < n; k++) planned.push([tid, sliceStart + rnd() * (sliceNs - 5 * MS), 2 * US]);
      }
      // a fault arriving during each drain, and for every other switch one still
      // running (a slow page-table walk) when it takes the lock
      for (const sw of mine) {
        if (u.switches.indexOf(sw) % 2 === 0) planned.push([u.slowTid, switchAt(sw) - 5 * US, 40 * US + rnd() * 60 * US]);
        planned.push([u.lateTid, switchAt(sw) + 4 * US, 2 * US]);
      }
      planned.sort((a, b) => a[1] - b[1]);
      let next = 0;
      for (const [tid, plannedTs, runNs] of planned) {
        while (next < mine.length && switchAt(mine[next]) <= plannedTs) doSwitch(u, mine[next++]);
        // A thread faults again only once its previous fault is over.
        const ft = Math.max(plannedTs, (busyUntil.get(tid) ?? 0) + 1 * US);
        if (ft >= sliceEnd - 5 * MS) continue;
        while (next < mine.length && switchAt(mine[next]) <= ft) doSwitch(u, mine[next++]);
        page = (page + 1 + Math.floor(rnd() * 7)) % u.pages;
        const addr = u.base + BigInt(page) * 4096n + BigInt(Math.floor(rnd() * 4096));
        // ctx->features as read at fault entry; a fault entering during a drain
        // waits for the unlock and is handled under the features it set
        const during = u.drain !== null && ft >= u.drain.enter && ft < u.drain.unlock;
        const runStart = during ? u.drain!.unlock : ft;
        if (during) truth.faultsDuringDrain++;
        const entryAsync = during ? truth.switches.filter((x) => x.uffd === u.uffd && x.enterTs === u.drain!.enter)[0].asyncBefore : u.async;
        const fault: FaultEvent = {
          ...base(ft, u.pid, tid, vcomm(tid)), type: 'fault', address: addr, ip: 0x55d0c0de1000n, errorCode: 4 | (rnd() < 0.4 ? 2 : 0),
          uffd: u.uffd, vmFlags: 0x100073n, vmaStart: u.base, vmaEnd: u.base + BigInt(u.pages) * 4096n,
          ctxFeatures: RWP | THREAD_ID | (entryAsync ? RWP_ASYNC : 0) | INITIALIZED, armed: ['unknown'],
        };
        push(fault);
        const runEnd = runStart + runNs;
        u.runningUntil = Math.max(u.runningUntil, runEnd);
        if (u.async) {
          // resolved in the kernel, no message, no wait
          truth.asyncFaults++;
          busyUntil.set(tid, runEnd + US);
          continue;
        }
        const blockTs = runEnd;
        push({ ...base(blockTs, u.pid, tid, vcomm(tid)), type: 'block', address: addr, uffd: u.uffd, faultTs: ft, prevState: 1, how: 'stack', nblocks: 1 });
        const upcoming = u.switches.find((w) => switchAt(w) > ft && w.cmd === undefined && w.enable !== null && w.enable & A && !(w.enable & w.disable!));
        // The handler stalls in the 30 ms before a switch to async (the
        // reason a VMM switches): faults then wait for the switch itself,
        // some before the handler read their message, some after.
        if (upcoming !== undefined && switchAt(upcoming) - ft < HANDLER_STALL_NS) {
          const read = rnd() < 0.5 && blockTs + 30 * US < switchAt(upcoming);
          const page4k = addr & ~4095n;
          if (read) {
            const readTs = blockTs + 5 * US + rnd() * 20 * US;
            push({ ...base(readTs, u.handlerPid, u.handlerTid, u.handlerComm), type: 'msg', uffd: u.uffd, readEnterTs: readTs - 3 * US, event: EVENT_PAGEFAULT, eventName: 'pagefault', fd: u.fd, index: 0, inRead: 1,
              body: [RWP_FLAG, page4k, BigInt(tid)], pagefault: { flags: RWP_FLAG, address: page4k, ptid: tid, kind: 'rwp' } });
          }
          waiting.push({ u, tid, addr, faultTs: ft, queue: read ? 'read' : 'pending' });
          busyUntil.set(tid, switchAt(upcoming) + 5 * MS); // blocked until the switch wakes it
          continue;
        }
        const readTs = Math.max(blockTs + 5 * US + rnd() * 30 * US, (handlerBusy.get(u) ?? 0) + 2 * US);
        const serviceNs = 20 * US + rnd() * rnd() * 400 * US;
        const ioctlEnd = readTs + serviceNs;
        const page4k = addr & ~4095n;
        push({ ...base(readTs, u.handlerPid, u.handlerTid, u.handlerComm), type: 'msg', uffd: u.uffd, readEnterTs: readTs - 3 * US, event: EVENT_PAGEFAULT, eventName: 'pagefault', fd: u.fd, index: 0, inRead: 1,
          body: [RWP_FLAG, page4k, BigInt(tid)], pagefault: { flags: RWP_FLAG, address: page4k, ptid: tid, kind: 'rwp' } });
        const enterTs = readTs + 2 * US;
        const args = { start: page4k, len: 4096n, mode: 0n };
        push({ ...base(enterTs, u.handlerPid, u.handlerTid, u.handlerComm), type: 'ioctl_enter', uffd: u.uffd, cmd: 0, name: 'UFFDIO_RWPROTECT', argPtr: 0x7ffc00003000n, args, enterTs, ret: 0, fd: u.fd, ctxFeatures: features(u) | INITIALIZED });
        const wakeTs = ioctlEnd - 2 * US;
        push({ ...base(wakeTs, u.handlerPid, u.handlerTid, u.handlerComm), type: 'wake', address: addr, uffd: u.uffd, faultTs: ft, targetPid: u.pid, targetTid: tid });
        push({ ...base(ioctlEnd, u.handlerPid, u.handlerTid, u.handlerComm), type: 'ioctl_exit', uffd: u.uffd, cmd: 0, name: 'UFFDIO_RWPROTECT', argPtr: 0x7ffc00003000n, args, enterTs, ret: 0, fd: u.fd, ctxFeatures: features(u) | INITIALIZED });
        const resumeTs = wakeTs + 4 * US + rnd() * 10 * US;
        push({ ...base(resumeTs, u.pid, tid, vcomm(tid)), type: 'resume', address: addr, uffd: u.uffd, faultTs: ft, wakeTs, wakerTid: u.handlerTid });
        busyUntil.set(tid, resumeTs);
        handlerBusy.set(u, ioctlEnd);
      }
      while (next < mine.length) doSwitch(u, mine[next++]);
    }
    // Events may spill a little past the slice; emit what is safely older.
    queue.sort((a, b) => a.ts - b.ts);
    let cut = 0;
    while (cut < queue.length && queue[cut].ts < sliceEnd - 5 * MS) cut++;
    for (let i = 0; i < cut; i++) emit(queue[i]);
    queue.splice(0, cut);
  }
  queue.sort((a, b) => a.ts - b.ts);
  for (const e of queue) emit(e);
  return truth;
}
