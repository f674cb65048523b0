// Typed events -> records of record ABI 1, the exact inverse of decode.ts,
// using the same generated layout. ABI 1 has a record per event, so any
// event stream round-trips: generated scenarios are written in it (every
// build reads it), and tests round-trip streams with it.

import { C, L } from './layout.abi1.generated.js';
import type { UffdEvent } from './types.js';
import { ioctlNr, type Uapi } from './uapi.js';
import { ioctlArgFields } from './decode.js';

/** The record ABI RecordEncoder writes (recording format 1). */
export const ENCODED_RECORD_ABI: number = C.USCOPE_RECORD_ABI;

const H = L.uscope_header.fields;
const utf8 = new TextEncoder();

const TYPE_OF: Record<UffdEvent['type'], number> = {
  fault: C.USCOPE_REC_FAULT,
  block: C.USCOPE_REC_BLOCK,
  wake: C.USCOPE_REC_WAKE,
  resume: C.USCOPE_REC_RESUME,
  ioctl_enter: C.USCOPE_REC_IOCTL_ENTER,
  ioctl_exit: C.USCOPE_REC_IOCTL_EXIT,
  msg: C.USCOPE_REC_MSG,
  uffd_create: C.USCOPE_REC_UFFD_CREATE,
  uffd_close: C.USCOPE_REC_UFFD_CLOSE,
  proc: C.USCOPE_REC_PROC,
  hu: C.USCOPE_REC_HU,
};

const HU_KIND: Record<string, number> = {
  enter: C.USCOPE_HU_ENTER,
  exit: C.USCOPE_HU_EXIT,
  set_mode_enter: C.USCOPE_HU_SET_MODE_ENTER,
  set_mode_exit: C.USCOPE_HU_SET_MODE_EXIT,
};

const SIZE_OF: Record<UffdEvent['type'], number> = {
  fault: L.uscope_fault.size,
  block: L.uscope_block.size,
  wake: L.uscope_wake.size,
  resume: L.uscope_resume.size,
  ioctl_enter: L.uscope_ioctl.size,
  ioctl_exit: L.uscope_ioctl.size,
  msg: L.uscope_msg.size,
  uffd_create: L.uscope_uffd_create.size,
  uffd_close: L.uscope_uffd_close.size,
  proc: L.uscope_proc.size,
  hu: L.uscope_hu.size,
};

/** Appends events as records into growing buffers; take() returns a batch. */
export class RecordEncoder {
  private buf: Uint8Array;
  private dv: DataView;
  private off = 0;
  private n = 0;

  constructor(
    private readonly uapi: Uapi,
    initialBytes = 1 << 16,
  ) {
    this.buf = new Uint8Array(initialBytes);
    this.dv = new DataView(this.buf.buffer);
  }

  get count(): number {
    return this.n;
  }

  get bytes(): number {
    return this.off;
  }

  push(e: UffdEvent): void {
    const size = SIZE_OF[e.type];
    this.ensure(size);
    const o = this.off;
    this.buf.fill(0, o, o + size);
    const dv = this.dv;
    const u64 = (at: number, v: bigint) => dv.setBigUint64(o + at, BigInt.asUintN(64, v), true);
    const u32 = (at: number, v: number) => dv.setUint32(o + at, v >>> 0, true);
    dv.setUint16(o + H.type.offset, TYPE_OF[e.type], true);
    dv.setUint16(o + H.size.offset, size, true);
    u32(H.cpu.offset, e.cpu);
    u64(H.ts_ns.offset, BigInt(Math.round(e.ts)));
    u32(H.pid.offset, e.pid);
    u32(H.tid.offset, e.tid);
    // UTF-8, whole characters only, NUL-terminated (the buffer is zeroed)
    utf8.encodeInto(e.comm, this.buf.subarray(o + H.comm.offset, o + H.comm.offset + C.USCOPE_COMM_LEN - 1));
    const ns = (v: number) => BigInt(Math.round(v));
    switch (e.type) {
      case 'fault': {
        const F = L.uscope_fault.fields;
        u64(F.address.offset, e.address);
        u64(F.ip.offset, e.ip);
        u64(F.error_code.offset, BigInt(e.errorCode));
        u64(F.uffd.offset, e.uffd);
        u64(F.vm_flags.offset, e.vmFlags);
        u64(F.vma_start.offset, e.vmaStart);
        u64(F.vma_end.offset, e.vmaEnd);
        u32(F.ctx_features.offset, e.ctxFeatures);
        let armed = 0;
        for (const m of e.armed) {
          armed |= m === 'missing' ? C.USCOPE_ARMED_MISSING : m === 'wp' ? C.USCOPE_ARMED_WP : m === 'minor' ? C.USCOPE_ARMED_MINOR : C.USCOPE_ARMED_UNKNOWN;
        }
        dv.setUint16(o + F.armed.offset, armed, true);
        break;
      }
      case 'block': {
        const F = L.uscope_block.fields;
        u64(F.address.offset, e.address);
        u64(F.uffd.offset, e.uffd);
        u64(F.fault_ts_ns.offset, ns(e.faultTs));
        u64(F.prev_state.offset, BigInt(e.prevState));
        u32(F.how.offset, e.how === 'waitqueue' ? C.USCOPE_BLOCK_WAITQ : e.how === 'stack' ? C.USCOPE_BLOCK_STACK : C.USCOPE_BLOCK_HEURISTIC);
        u32(F.nblocks.offset, e.nblocks);
        break;
      }
      case 'wake': {
        const F = L.uscope_wake.fields;
        u64(F.address.offset, e.address);
        u64(F.uffd.offset, e.uffd);
        u64(F.fault_ts_ns.offset, ns(e.faultTs));
        u32(F.target_pid.offset, e.targetPid);
        u32(F.target_tid.offset, e.targetTid);
        break;
      }
      case 'resume': {
        const F = L.uscope_resume.fields;
        u64(F.address.offset, e.address);
        u64(F.uffd.offset, e.uffd);
        u64(F.fault_ts_ns.offset, ns(e.faultTs));
        u64(F.wake_ts_ns.offset, ns(e.wakeTs));
        u32(F.waker_tid.offset, e.wakerTid);
        break;
      }
      case 'ioctl_enter':
      case 'ioctl_exit': {
        const F = L.uscope_ioctl.fields;
        u64(F.uffd.offset, e.uffd);
        const nr = ioctlNr(e.name, this.uapi);
        // the whole number where the table has it (UFFDIO_SET_MODE), else type and nr
        const whole = this.uapi[e.name];
        const cmd = e.cmd || (whole !== undefined ? Number(whole) : nr !== undefined ? Number(this.uapi.UFFDIO_TYPE) << 8 | nr : 0);
        u64(F.cmd.offset, BigInt(cmd));
        u64(F.arg_ptr.offset, e.argPtr);
        if (e.args) {
          ioctlArgFields(e.name).forEach((f, i) => {
            if (f in e.args!) u64(F.arg.offset + i * 8, e.args![f]);
          });
          u32(F.arg_read_ok.offset, 1);
        }
        u64(F.enter_ts_ns.offset, ns(e.enterTs));
        dv.setBigInt64(o + F.ret.offset, BigInt(e.ret), true);
        u32(F.fd.offset, e.fd);
        u32(F.ctx_features.offset, e.ctxFeatures);
        break;
      }
      case 'msg': {
        const F = L.uscope_msg.fields;
        u64(F.uffd.offset, e.uffd);
        u64(F.read_enter_ts_ns.offset, ns(e.readEnterTs));
        dv.setUint8(o + F.event.offset, e.event);
        u32(F.fd.offset, e.fd);
        u32(F.index.offset, e.index);
        u32(F.in_read.offset, e.inRead);
        for (let i = 0; i < 3; i++) u64(F.body.offset + i * 8, e.body[i]);
        break;
      }
      case 'uffd_create': {
        const F = L.uscope_uffd_create.fields;
        u64(F.uffd.offset, e.uffd);
        dv.setBigInt64(o + F.ret.offset, BigInt(e.ret), true);
        u64(F.flags.offset, BigInt(e.flags));
        u32(F.source.offset, e.source === 'dev' ? C.USCOPE_CREATE_DEV : C.USCOPE_CREATE_SYSCALL);
        break;
      }
      case 'uffd_close': {
        const F = L.uscope_uffd_close.fields;
        u64(F.uffd.offset, e.uffd);
        u32(F.fd.offset, e.fd);
        break;
      }
      case 'proc': {
        const F = L.uscope_proc.fields;
        u32(F.kind.offset, e.kind === 'fork' ? C.USCOPE_PROC_FORK : e.kind === 'exec' ? C.USCOPE_PROC_EXEC : C.USCOPE_PROC_EXIT);
        u32(F.other_pid.offset, e.otherPid);
        u32(F.other_tid.offset, e.otherTid);
        break;
      }
      case 'hu': {
        const F = L.uscope_hu.fields;
        u64(F.uffd.offset, e.uffd);
        u64(F.address.offset, e.address);
        u64(F.reason.offset, e.reason);
        u64(F.fault_flags.offset, e.faultFlags);
        u64(F.enter_ts_ns.offset, ns(e.enterTs));
        dv.setBigInt64(o + F.ret.offset, BigInt(e.ret), true);
        u32(F.kind.offset, HU_KIND[e.kind]);
        u32(F.ctx_features.offset, e.ctxFeatures);
        u32(F.arg_read_ok.offset, e.argReadOk ? 1 : 0);
        break;
      }
    }
    this.off += size;
    this.n++;
  }

  /** The records so far as one batch; the encoder starts empty again. */
  take(): { bytes: Uint8Array; count: number } {
    const out = { bytes: this.buf.slice(0, this.off), count: this.n };
    this.off = 0;
    this.n = 0;
    return out;
  }

  private ensure(size: number): void {
    if (this.off + size <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.off + size));
    next.set(this.buf.subarray(0, this.off));
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }
}
