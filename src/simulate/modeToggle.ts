// GENERATED scenarios for what no kernel here can produce: the RWP series'
// successful UFFDIO_SET_MODE switches, RWP faults, async auto-resolution.
// The events follow the kernel's rules from the seed patch (drain under
// mmap_write_lock, wake-all of pending waiters on a switch to async), are
// deterministic for a seed, and the recording header marks them generated.

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

interface SimUffd {
  uffd: bigint;
  pid: number;
  comm: string;
  vcpus: number[];
  handlerPid: number;
  handlerTid: number;
  handlerComm: string;
  controlTid: number;
  base: bigint;
  pages: number;
  async: boolean;
  fd: number;
  /** switch schedule: [atS, enable?] */
  switches: Array<{ atS: number; enable: boolean; invalid?: boolean }>;
}

const MS = 1e6;
const US = 1e3;
const HANDLER_STALL_NS = 30 * MS;

/**
 * The `mode-toggle` scenario: three uffds in two VMMs (one with its handler
 * in a separate process), RWP faults resolved by UFFDIO_RWPROTECT while
 * sync, sync -> async -> sync switches under load (drain time grows with
 * faults in flight; every waiter is woken by the switch to async), async
 * faults that never wait, and one refused switch (overlapping masks).
 * Calls `emit` in timestamp order.
 */
export function generateModeToggle(uapi: Uapi, o: ModeToggleOptions, emit: (e: UffdEvent) => void): void {
  const rnd = prng(o.seed);
  const RWP = Number(uapi.UFFD_FEATURE_RWP);
  const RWP_ASYNC = Number(uapi.UFFD_FEATURE_RWP_ASYNC);
  const THREAD_ID = Number(uapi.UFFD_FEATURE_THREAD_ID);
  const RWP_FLAG = uapi.UFFD_PAGEFAULT_FLAG_RWP;
  const EVENT_PAGEFAULT = Number(uapi.UFFD_EVENT_PAGEFAULT);
  const d = o.durationS;
  const uffds: SimUffd[] = [
    {
      uffd: 0xffff8881_0a000000n, pid: 4100, comm: 'qemu-system-x86', vcpus: [4101, 4102, 4103, 4104],
      handlerPid: 4100, handlerTid: 4110, handlerComm: 'uffd-handler', controlTid: 4120, base: 0x7f4000000000n, pages: 65536, async: false, fd: 17,
      switches: [{ atS: d * 0.3, enable: true }, { atS: d * 0.5, enable: true, invalid: true }, { atS: d * 0.7, enable: false }],
    },
    {
      uffd: 0xffff8881_0b000000n, pid: 4100, comm: 'qemu-system-x86', vcpus: [4105, 4106],
      handlerPid: 4100, handlerTid: 4111, handlerComm: 'uffd-handler', controlTid: 4120, base: 0x7f5000000000n, pages: 32768, async: false, fd: 18,
      switches: [{ atS: d * 0.45, enable: true }, { atS: d * 0.85, enable: false }],
    },
    {
      uffd: 0xffff8881_0c000000n, pid: 5200, comm: 'firecracker', vcpus: [5201, 5202],
      handlerPid: 5300, handlerTid: 5300, handlerComm: 'fc-uffd-handler', controlTid: 5210, base: 0x7e0000000000n, pages: 16384, async: false, fd: 9,
      switches: [{ atS: d * 0.2, enable: true }, { atS: d * 0.6, enable: false }],
    },
  ];

  const queue: UffdEvent[] = [];
  const push = (e: UffdEvent) => queue.push(e);
  const cpuOf = (tid: number) => tid % 2;
  const base = (ts: number, pid: number, tid: number, comm: string) => ({ ts: Math.round(ts), cpu: cpuOf(tid), pid, tid, comm });

  // Setup: create, API (RWP negotiated), REGISTER (RWP mode), RWPROTECT.
  let t0 = o.startNs;
  for (const u of uffds) {
    const setupTid = u.controlTid;
    push({ ...base(t0, u.pid, setupTid, u.comm), type: 'uffd_create', uffd: u.uffd, ret: u.fd, flags: 0x80800, source: 'syscall' });
    const ioctl = (name: string, args: Record<string, bigint>, ret: number, durNs: number, features: number, tid = setupTid, pid = u.pid, comm = u.comm) => {
      const s = t0;
      push({ ...base(s, pid, tid, comm), type: 'ioctl_enter', uffd: u.uffd, cmd: 0, name, argPtr: 0x7ffc00001000n, args, enterTs: s, ret: 0, fd: u.fd, ctxFeatures: features });
      push({ ...base(s + durNs, pid, tid, comm), type: 'ioctl_exit', uffd: u.uffd, cmd: 0, name, argPtr: 0x7ffc00001000n, args, enterTs: s, ret, fd: u.fd, ctxFeatures: features });
      t0 += durNs + 20 * US;
    };
    const len = BigInt(u.pages) * 4096n;
    ioctl('UFFDIO_API', { api: 0xaan, features: BigInt(RWP | RWP_ASYNC | THREAD_ID), ioctls: 0n }, 0, 3 * US, RWP | THREAD_ID);
    ioctl('UFFDIO_REGISTER', { start: u.base, len, mode: uapi.UFFDIO_REGISTER_MODE_RWP, ioctls: 0n }, 0, 40 * US, RWP | THREAD_ID);
    ioctl('UFFDIO_RWPROTECT', { start: u.base, len, mode: 1n }, 0, 2 * MS, RWP | THREAD_ID);
  }
  queue.sort((a, b) => a.ts - b.ts);
  for (const e of queue) emit(e);
  queue.length = 0;

  // Load: per 100 ms slice, faults per vCPU; switches at their times.
  const sliceNs = 100 * MS;
  const slices = Math.ceil((d * 1e9) / sliceNs);
  const start = t0 + MS;
  // Faults still waiting at a slice boundary carry over (for drains).
  interface Waiting { u: SimUffd; tid: number; addr: bigint; faultTs: number; blockTs: number }
  let waiting: Waiting[] = [];
  let page = 0;
  const busyUntil = new Map<number, number>();
  const handlerBusy = new Map<SimUffd, number>();
  for (let s = 0; s < slices; s++) {
    const sliceStart = start + s * sliceNs;
    const sliceEnd = sliceStart + sliceNs;
    for (const u of uffds) {
      const features = () => RWP | THREAD_ID | (u.async ? RWP_ASYNC : 0);
      // A switch falling in this slice.
      for (const sw of u.switches) {
        const at = start + sw.atS * 1e9;
        if (at < sliceStart || at >= sliceEnd) continue;
        const mine = waiting.filter((w) => w.u === u);
        const enable = sw.invalid ? BigInt(RWP_ASYNC) : sw.enable ? BigInt(RWP_ASYNC) : 0n;
        const disable = sw.invalid ? BigInt(RWP_ASYNC) : sw.enable ? 0n : BigInt(RWP_ASYNC);
        const args = { enable, disable };
        const ctl = base(at, u.pid, u.controlTid, u.comm);
        push({ ...ctl, type: 'ioctl_enter', uffd: u.uffd, cmd: Number(uapi.UFFDIO_SET_MODE), name: 'UFFDIO_SET_MODE', argPtr: 0x7ffc00002000n, args, enterTs: at, ret: 0, fd: u.fd, ctxFeatures: features() });
        if (sw.invalid) {
          push({ ...base(at + 2 * US, u.pid, u.controlTid, u.comm), type: 'ioctl_exit', uffd: u.uffd, cmd: Number(uapi.UFFDIO_SET_MODE), name: 'UFFDIO_SET_MODE', argPtr: 0x7ffc00002000n, args, enterTs: at, ret: -22, fd: u.fd, ctxFeatures: features() });
          continue;
        }
        // Drain: mmap_write_lock + vma_start_write on each armed VMA waits
        // for faults in flight: longer with more of them.
        const drainNs = 150 * US + mine.length * 40 * US + rnd() * 200 * US;
        let wakeAt = at + drainNs;
        if (sw.enable) {
          u.async = true;
          // Switching to async wakes every waiter; they retry and resolve.
          for (const w of mine) {
            wakeAt += 3 * US;
            push({ ...base(wakeAt, u.pid, u.controlTid, u.comm), type: 'wake', address: w.addr, uffd: u.uffd, faultTs: w.faultTs, targetPid: u.pid, targetTid: w.tid });
            push({ ...base(wakeAt + 8 * US, u.pid, w.tid, `CPU ${w.tid % 100}/KVM`), type: 'resume', address: w.addr, uffd: u.uffd, faultTs: w.faultTs, wakeTs: wakeAt, wakerTid: u.controlTid });
          }
          waiting = waiting.filter((w) => w.u !== u);
        } else {
          u.async = false;
        }
        push({ ...base(wakeAt + 5 * US, u.pid, u.controlTid, u.comm), type: 'ioctl_exit', uffd: u.uffd, cmd: Number(uapi.UFFDIO_SET_MODE), name: 'UFFDIO_SET_MODE', argPtr: 0x7ffc00002000n, args, enterTs: at, ret: 0, fd: u.fd, ctxFeatures: features() });
      }
      // Faults of this slice.
      // This slice's faults of all the uffd's vCPUs, in time order, so the
      // one handler thread serves them one after another.
      const planned: Array<[number, number]> = [];
      for (const tid of u.vcpus) {
        const n = Math.max(0, Math.round((o.faultRate * sliceNs) / 1e9 * (0.6 + 0.8 * rnd())));
        for (let k = 0; k < n; k++) planned.push([tid, sliceStart + rnd() * (sliceNs - 5 * MS)]);
      }
      planned.sort((a, b) => a[1] - b[1]);
      {
        for (const [tid, plannedTs] of planned) {
          // A thread faults again only once its previous fault is over.
          const ft = Math.max(plannedTs, (busyUntil.get(tid) ?? 0) + 1 * US);
          if (ft >= sliceEnd - 5 * MS) continue;
          page = (page + 1 + Math.floor(rnd() * 7)) % u.pages;
          const addr = u.base + BigInt(page) * 4096n + BigInt(Math.floor(rnd() * 4096));
          const vcomm = `CPU ${tid % 100}/KVM`;
          const asyncNow = u.async;
          const fault: FaultEvent = {
            ...base(ft, u.pid, tid, vcomm), type: 'fault', address: addr, ip: 0x55d0c0de1000n, errorCode: 4 | (rnd() < 0.4 ? 2 : 0),
            uffd: u.uffd, vmFlags: 0x100073n, vmaStart: u.base, vmaEnd: u.base + BigInt(u.pages) * 4096n,
            ctxFeatures: RWP | THREAD_ID | (asyncNow ? RWP_ASYNC : 0), armed: ['unknown'],
          };
          push(fault);
          busyUntil.set(tid, ft + 3 * US);
          if (asyncNow) continue; // resolved in the kernel, no message, no wait
          const blockTs = ft + 2 * US;
          push({ ...base(blockTs, u.pid, tid, vcomm), type: 'block', address: addr, uffd: u.uffd, faultTs: ft, prevState: 1, how: 'stack', nblocks: 1 });
          // Does a switch to async land before the handler gets to it?
          const nextSwitch = u.switches.map((w) => start + w.atS * 1e9).find((at) => at > ft && !u.async);
          const readTs = Math.max(blockTs + 5 * US + rnd() * 30 * US, (handlerBusy.get(u) ?? 0) + 2 * US);
          const serviceNs = 20 * US + rnd() * rnd() * 400 * US;
          const ioctlEnd = readTs + serviceNs;
          const upcoming = u.switches.find((w) => start + w.atS * 1e9 === nextSwitch);
          // The handler stalls in the 30 ms before a switch to async (the
          // reason a VMM switches): faults then wait for the switch itself.
          if (nextSwitch !== undefined && upcoming?.enable && !upcoming.invalid && nextSwitch - ft < HANDLER_STALL_NS) {
            waiting.push({ u, tid, addr, faultTs: ft, blockTs });
            busyUntil.set(tid, nextSwitch + 5 * MS); // blocked until the switch wakes it
            continue;
          }
          const page4k = addr & ~4095n;
          push({ ...base(readTs, u.handlerPid, u.handlerTid, u.handlerComm), type: 'msg', uffd: u.uffd, readEnterTs: readTs - 3 * US, event: EVENT_PAGEFAULT, eventName: 'pagefault', fd: u.fd, index: 0, inRead: 1,
            body: [RWP_FLAG, page4k, BigInt(tid)], pagefault: { flags: RWP_FLAG, address: page4k, ptid: tid, kind: 'rwp' } });
          const enterTs = readTs + 2 * US;
          const args = { start: page4k, len: 4096n, mode: 0n };
          push({ ...base(enterTs, u.handlerPid, u.handlerTid, u.handlerComm), type: 'ioctl_enter', uffd: u.uffd, cmd: 0, name: 'UFFDIO_RWPROTECT', argPtr: 0x7ffc00003000n, args, enterTs, ret: 0, fd: u.fd, ctxFeatures: fault.ctxFeatures });
          const wakeTs = ioctlEnd - 2 * US;
          push({ ...base(wakeTs, u.handlerPid, u.handlerTid, u.handlerComm), type: 'wake', address: addr, uffd: u.uffd, faultTs: ft, targetPid: u.pid, targetTid: tid });
          push({ ...base(ioctlEnd, u.handlerPid, u.handlerTid, u.handlerComm), type: 'ioctl_exit', uffd: u.uffd, cmd: 0, name: 'UFFDIO_RWPROTECT', argPtr: 0x7ffc00003000n, args, enterTs, ret: 0, fd: u.fd, ctxFeatures: fault.ctxFeatures });
          const resumeTs = wakeTs + 4 * US + rnd() * 10 * US;
          push({ ...base(resumeTs, u.pid, tid, vcomm), type: 'resume', address: addr, uffd: u.uffd, faultTs: ft, wakeTs, wakerTid: u.handlerTid });
          busyUntil.set(tid, resumeTs);
          handlerBusy.set(u, ioctlEnd);
        }
      }
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
}
