// Typed events -> records of record ABI 2, as the BPF programs would have
// sent them: a thread's TASK record before its first record (and after a
// rename), a VMA record when a fault's VMA is not the last one sent for its
// process, a fault's parts held until its thread runs again (or faults
// again, or the stream ends) and sent as one record, an ioctl as one record
// at its exit. decodeAbi2.ts turns the records back into the same events;
// every field is written by name from the generated layout (layoutWriter.ts).

import { C, L, type StructLayout } from './layout.generated.js';
import type { FaultEvent, IoctlEvent, UffdEvent } from './types.js';
import { ioctlArgFields } from './decode.js';
import { uffdIoctl } from '../kernel/uffdIoctls.js';
import { PF_PRESENT } from '../kernel/x86PageFault.js';
import { writeStruct, type FieldValue } from './layoutWriter.js';

const ALL = L as unknown as Record<string, StructLayout>;
const TWO32 = 4294967296;

interface PendingFault {
  fault: FaultEvent;
  parts: number;
  /** parts already written */
  sent: number;
  blockTs: number;
  blockCpu: number;
  prevState: number;
  how: string;
  nblocks: number;
  wakeTs: number;
  wakeCpu: number;
  wakerTid: number;
  resumeTs: number;
  resumeCpu: number;
}

export class Abi2Encoder {
  private buf = new Uint8Array(1 << 16);
  private off = 0;
  private n = 0;
  private readonly tasks = new Map<number, string>();
  private readonly vmas = new Map<number, string>();
  private readonly faults = new Map<number, PendingFault>();
  private readonly enters = new Map<number, IoctlEvent>();

  get count(): number {
    return this.n;
  }

  push(e: UffdEvent): void {
    switch (e.type) {
      case 'fault': {
        this.flushFault(e.tid);
        this.task(e.tid, e.pid, e.comm, e.cpu, e.ts);
        const vkey = `${e.uffd}:${e.vmFlags}:${e.vmaStart}:${e.vmaEnd}`;
        if (this.vmas.get(e.pid) !== vkey) {
          this.vmas.set(e.pid, vkey);
          this.record('uscope_vma', C.USCOPE_REC_VMA, 0, e.tid, e.ts, { uffd: e.uffd, vm_flags: e.vmFlags, start: e.vmaStart, end: e.vmaEnd });
        }
        const p: PendingFault = {
          fault: e, parts: C.USCOPE_FAULT_ENTRY, sent: 0, blockTs: 0, blockCpu: 0, prevState: 0, how: 'heuristic', nblocks: 0,
          wakeTs: 0, wakeCpu: 0, wakerTid: 0, resumeTs: 0, resumeCpu: 0,
        };
        this.faults.set(e.tid, p);
        // as the BPF side: only a missing page of a MISSING-armed VMA waits to be sent whole
        if (!e.armed.includes('missing') || (e.errorCode & PF_PRESENT) !== 0) this.writeFault(e.tid, p);
        return;
      }
      case 'block': {
        const p = this.faults.get(e.tid);
        if (p === undefined) return;
        Object.assign(p, { blockTs: e.ts, blockCpu: e.cpu, prevState: e.prevState, how: e.how, nblocks: e.nblocks });
        p.parts |= C.USCOPE_FAULT_BLOCK;
        return;
      }
      case 'wake': {
        const p = this.faults.get(e.targetTid);
        if (p === undefined) return;
        this.task(e.tid, e.pid, e.comm, e.cpu, e.ts);
        Object.assign(p, { wakeTs: e.ts, wakeCpu: e.cpu, wakerTid: e.tid });
        p.parts |= C.USCOPE_FAULT_WAKE;
        return;
      }
      case 'resume': {
        const p = this.faults.get(e.tid);
        if (p === undefined) return;
        Object.assign(p, { resumeTs: e.ts, resumeCpu: e.cpu });
        p.parts |= C.USCOPE_FAULT_RESUME;
        this.flushFault(e.tid);
        return;
      }
      case 'ioctl_enter':
        this.enters.set(e.tid, e);
        return;
      case 'ioctl_exit':
        this.task(e.tid, e.pid, e.comm, e.cpu, e.ts);
        this.ioctl(this.enters.get(e.tid), e);
        this.enters.delete(e.tid);
        return;
      case 'msg': {
        this.task(e.tid, e.pid, e.comm, e.cpu, e.ts);
        const dt = e.ts - e.readEnterTs;
        const wide = dt >= TWO32;
        this.record(wide ? 'uscope_msg_wide' : 'uscope_msg', C.USCOPE_REC_MSG, wide ? C.USCOPE_MSG_WIDE : 0, e.tid, e.ts, {
          [`${wide ? 'm.' : ''}uffd`]: e.uffd,
          [`${wide ? 'm.' : ''}body`]: e.body,
          [`${wide ? 'm.' : ''}read_dt`]: dt % TWO32,
          [`${wide ? 'm.' : ''}fd`]: e.fd,
          [`${wide ? 'm.' : ''}index`]: e.index,
          [`${wide ? 'm.' : ''}in_read`]: e.inRead,
          [`${wide ? 'm.' : ''}cpu`]: e.cpu,
          [`${wide ? 'm.' : ''}event`]: e.event,
          ...(wide ? { read_dt_hi: Math.floor(dt / TWO32) } : {}),
        });
        return;
      }
      case 'uffd_create':
        this.task(e.tid, e.pid, e.comm, e.cpu, e.ts);
        this.record('uscope_uffd_create', C.USCOPE_REC_UFFD_CREATE, 0, e.tid, e.ts, {
          uffd: e.uffd, ret: BigInt(e.ret), flags: e.flags, source: e.source === 'dev' ? C.USCOPE_CREATE_DEV : C.USCOPE_CREATE_SYSCALL, cpu: e.cpu,
        });
        return;
      case 'uffd_close':
        this.task(e.tid, e.pid, e.comm, e.cpu, e.ts);
        this.record('uscope_uffd_close', C.USCOPE_REC_UFFD_CLOSE, 0, e.tid, e.ts, { uffd: e.uffd, fd: e.fd, cpu: e.cpu });
        return;
      case 'proc':
        this.task(e.tid, e.pid, e.comm, e.cpu, e.ts);
        this.record('uscope_proc', C.USCOPE_REC_PROC, 0, e.tid, e.ts, {
          kind: e.kind === 'fork' ? C.USCOPE_PROC_FORK : e.kind === 'exec' ? C.USCOPE_PROC_EXEC : C.USCOPE_PROC_EXIT,
          other_pid: e.otherPid, other_tid: e.otherTid, cpu: e.cpu,
        });
        return;
      case 'hu':
        this.task(e.tid, e.pid, e.comm, e.cpu, e.ts);
        this.record('uscope_hu', C.USCOPE_REC_HU, 0, e.tid, e.ts, {
          uffd: e.uffd, address: e.address, reason: e.reason, fault_flags: e.faultFlags, enter_ts_ns: e.enterTs, ret: BigInt(e.ret),
          kind: { enter: C.USCOPE_HU_ENTER, exit: C.USCOPE_HU_EXIT, set_mode_enter: C.USCOPE_HU_SET_MODE_ENTER, set_mode_exit: C.USCOPE_HU_SET_MODE_EXIT }[e.kind],
          ctx_features: e.ctxFeatures, arg_read_ok: e.argReadOk ? 1 : 0, cpu: e.cpu,
        });
        return;
    }
  }

  /** Sends every fault still held (the stream ends) and returns the records so far; the encoder starts empty. */
  take(): { bytes: Uint8Array; count: number } {
    for (const tid of [...this.faults.keys()]) this.flushFault(tid);
    const out = { bytes: this.buf.slice(0, this.off), count: this.n };
    this.off = 0;
    this.n = 0;
    return out;
  }

  private task(tid: number, pid: number, comm: string, cpu: number, ts: number): void {
    const key = `${pid}:${comm}`;
    if (this.tasks.get(tid) === key) return;
    this.tasks.set(tid, key);
    this.record('uscope_task', C.USCOPE_REC_TASK, 0, tid, ts, { pid, cpu, comm });
  }

  private flushFault(tid: number): void {
    const p = this.faults.get(tid);
    if (p === undefined) return;
    this.faults.delete(tid);
    this.writeFault(tid, p);
  }

  /** The parts of a fault not written yet, as one record. */
  private writeFault(tid: number, p: PendingFault): void {
    const parts = p.parts & ~p.sent;
    if (parts === 0) return;
    p.sent |= parts;
    const f = p.fault;
    const dts = [p.blockTs, p.wakeTs, p.resumeTs].map((t, i) => (parts & [C.USCOPE_FAULT_BLOCK, C.USCOPE_FAULT_WAKE, C.USCOPE_FAULT_RESUME][i] ? t - f.ts : 0));
    const wide = dts.some((d) => d >= TWO32);
    const at = wide ? 'f.' : '';
    const armed = f.armed.reduce((a, m) => a | ARMED[m], 0);
    this.record(wide ? 'uscope_fault_wide' : 'uscope_fault', C.USCOPE_REC_FAULT, parts | (wide ? C.USCOPE_FAULT_WIDE : 0), tid, f.ts, {
      [`${at}address`]: f.address,
      [`${at}uffd`]: f.uffd,
      [`${at}ip`]: f.ip,
      [`${at}error_code`]: f.errorCode,
      [`${at}ctx_features`]: f.ctxFeatures,
      [`${at}waker_tid`]: p.wakerTid,
      [`${at}block_dt`]: dts[0] % TWO32,
      [`${at}wake_dt`]: dts[1] % TWO32,
      [`${at}resume_dt`]: dts[2] % TWO32,
      [`${at}prev_state`]: p.prevState,
      [`${at}nblocks`]: p.nblocks,
      [`${at}cpu`]: f.cpu,
      [`${at}block_cpu`]: p.blockCpu,
      [`${at}wake_cpu`]: p.wakeCpu,
      [`${at}resume_cpu`]: p.resumeCpu,
      [`${at}armed`]: armed,
      [`${at}how`]: HOW[p.how],
      ...(wide ? { block_dt_hi: Math.floor(dts[0] / TWO32), wake_dt_hi: Math.floor(dts[1] / TWO32), resume_dt_hi: Math.floor(dts[2] / TWO32) } : {}),
    });
  }

  private ioctl(enter: IoctlEvent | undefined, x: IoctlEvent): void {
    // the per-fault ioctls' records have no entry side (the BPF side's ioctl_control())
    const control = !uffdIoctl(x.name)?.perFault;
    const enterDt = x.ts - (enter?.ts ?? x.enterTs);
    const wide = enterDt >= TWO32;
    const extended = control || wide;
    const at = extended ? 'x.' : '';
    let flags = x.args !== null ? C.USCOPE_IOCTL_ARGS : 0;
    if (control) flags |= C.USCOPE_IOCTL_ARGS_IN | (enter?.args ? C.USCOPE_IOCTL_ARGS_IN_OK : 0);
    if (wide) flags |= C.USCOPE_IOCTL_WIDE;
    if (x.untimed) flags |= C.USCOPE_IOCTL_UNTIMED;
    const values: Record<string, FieldValue> = {
      [`${at}uffd`]: x.uffd,
      [`${at}arg_ptr`]: x.argPtr,
      [`${at}arg`]: argWords(x.name, x.args),
      [`${at}cmd`]: x.cmd,
      [`${at}fd`]: x.fd,
      [`${at}ret`]: x.ret,
      [`${at}enter_dt`]: enterDt % TWO32,
      [`${at}ctx_features`]: x.ctxFeatures,
      [`${at}enter_cpu`]: enter?.cpu ?? x.cpu,
      [`${at}cpu`]: x.cpu,
    };
    if (extended) {
      values.arg_in = argWords(x.name, enter?.args ?? null);
      values.ctx_features_in = enter?.ctxFeatures ?? x.ctxFeatures;
      values.enter_dt_hi = Math.floor(enterDt / TWO32);
    }
    this.record(extended ? 'uscope_ioctl_in' : 'uscope_ioctl', C.USCOPE_REC_IOCTL, flags, x.tid, x.ts, values);
  }

  private record(struct: keyof typeof L, type: number, flags: number, tid: number, ts: number, values: Record<string, FieldValue>): void {
    const layout = ALL[struct];
    if (this.off + layout.size > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.off + layout.size));
      next.set(this.buf.subarray(0, this.off));
      this.buf = next;
    }
    // the header is the first member, nested once more in the extended records
    const h = Object.values(layout.fields)[0].struct === 'uscope_header' ? 'h.' : `${Object.keys(layout.fields)[0]}.h.`;
    writeStruct(this.buf, this.off, layout, ALL, { ...values, [`${h}type`]: type, [`${h}flags`]: flags, [`${h}size`]: layout.size, [`${h}tid`]: tid, [`${h}ts_ns`]: ts });
    this.off += layout.size;
    this.n++;
  }
}

const ARMED: Record<string, number> = { missing: C.USCOPE_ARMED_MISSING, wp: C.USCOPE_ARMED_WP, minor: C.USCOPE_ARMED_MINOR, unknown: C.USCOPE_ARMED_UNKNOWN };
const HOW: Record<string, number> = { waitqueue: C.USCOPE_BLOCK_WAITQ, stack: C.USCOPE_BLOCK_STACK, heuristic: C.USCOPE_BLOCK_HEURISTIC };

function argWords(name: string, args: Record<string, bigint> | null): bigint[] {
  const words = [0n, 0n, 0n, 0n, 0n];
  if (args !== null) ioctlArgFields(name).forEach((f, i) => (words[i] = args[f] ?? 0n));
  return words;
}
