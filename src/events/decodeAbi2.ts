// Record bytes of record ABI 2 (bpf/uffdscope.h, recordings of format 2) ->
// the same typed events ABI 1 decodes to, so nothing after the decoder
// knows which it had. Offsets come from layout.generated.ts.
//
// ABI 2 says things once that ABI 1 said in every record, so decoding keeps
// state for the whole stream: each thread's process and name (TASK
// records), and each process's uffd-armed VMAs (VMA records) for the faults
// in them. A fault that waited is one record listing its parts (entry,
// wait, wake-up, back on a CPU); it becomes one event per part, stamped
// with the part's time. The caller gets each event with the time its record
// was emitted, to put the events back in time order (recordStream.ts).

import { C, L } from './layout.generated.js';
import type { IoctlEvent, UffdEvent } from './types.js';
import type { Uapi } from './uapi.js';
import {
  HU_KINDS,
  SIGNED_ARGS,
  armedModes,
  blockHow,
  cachedIoctlName,
  comm,
  expectSize,
  forEachRecord,
  huFields,
  ioctlArgs,
  msgFields,
  u64n,
} from './decode.js';

const H = L.uscope_header.fields;
const HEADER_SIZE = L.uscope_header.size;
const TWO32 = 4294967296;

interface Task {
  pid: number;
  comm: string;
}

interface Vma {
  uffd: bigint;
  flags: bigint;
  start: bigint;
  end: bigint;
  /** record time it was sent, and when a later VMA record replaced it */
  from: number;
  until: number;
}

/** A process's VMAs kept after being replaced, for faults recorded before the change but sent after. */
const VMAS_KEPT = 64;

const NO_TASK: Task = { pid: 0, comm: '' };

export class Abi2Decoder {
  private readonly tasks = new Map<number, Task>();
  private readonly vmas = new Map<number, Vma[]>();

  constructor(private readonly uapi: Uapi) {}

  /**
   * Decodes `count` records (all that fit when undefined), calling `emit`
   * with each event and the time its record was emitted. Returns the
   * records decoded and those of unknown types. Throws DecodeError on an
   * impossible size; everything before it has been emitted.
   */
  decode(bytes: Uint8Array, emit: (e: UffdEvent, emittedAt: number) => void, count?: number): { records: number; unknown: number } {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let n = 0;
    let unknown = 0;
    forEachRecord(dv, HEADER_SIZE, count, (off, size) => {
      if (!this.one(dv, bytes, off, size, emit)) unknown++;
      n++;
    });
    return { records: n, unknown };
  }

  private task(tid: number): Task {
    return this.tasks.get(tid) ?? NO_TASK;
  }

  private one(dv: DataView, bytes: Uint8Array, o: number, size: number, emit: (e: UffdEvent, at: number) => void): boolean {
    const type = dv.getUint8(o + H.type.offset);
    const flags = dv.getUint8(o + H.flags.offset);
    const tid = dv.getUint32(o + H.tid.offset, true);
    const ts = u64n(dv, o + H.ts_ns.offset);
    const u64 = (at: number) => dv.getBigUint64(o + at, true);
    const u32 = (at: number) => dv.getUint32(o + at, true);
    const u16 = (at: number) => dv.getUint16(o + at, true);
    const t = this.task(tid);
    switch (type) {
      case C.USCOPE_REC_TASK: {
        const F = L.uscope_task.fields;
        expectSize(type, size, L.uscope_task.size);
        this.tasks.set(tid, { pid: u32(F.pid.offset), comm: comm(dv, bytes, o + F.comm.offset) });
        return true;
      }
      case C.USCOPE_REC_VMA: {
        const F = L.uscope_vma.fields;
        expectSize(type, size, L.uscope_vma.size);
        this.noteVma(t.pid, { uffd: u64(F.uffd.offset), flags: u64(F.vm_flags.offset), start: u64(F.start.offset), end: u64(F.end.offset), from: ts, until: Infinity });
        return true;
      }
      case C.USCOPE_REC_FAULT:
        this.fault(dv, o, size, flags, tid, ts, t, emit);
        return true;
      case C.USCOPE_REC_IOCTL:
        this.ioctl(dv, o, size, flags, tid, ts, t, emit);
        return true;
      case C.USCOPE_REC_MSG: {
        const F = L.uscope_msg.fields;
        expectSize(type, size, L.uscope_msg.size);
        let readDt = u32(F.read_dt.offset);
        if (flags & C.USCOPE_MSG_WIDE) {
          expectSize(type, size, L.uscope_msg_wide.size);
          readDt += u32(L.uscope_msg_wide.fields.read_dt_hi.offset) * TWO32;
        }
        const event = dv.getUint8(o + F.event.offset);
        const body: [bigint, bigint, bigint] = [u64(F.body.offset), u64(F.body.offset + 8), u64(F.body.offset + 16)];
        emit(
          {
            type: 'msg',
            ts,
            cpu: u16(F.cpu.offset),
            pid: t.pid,
            tid,
            comm: t.comm,
            uffd: u64(F.uffd.offset),
            readEnterTs: ts - readDt,
            event,
            ...msgFields(body, event, this.uapi),
            fd: u32(F.fd.offset),
            index: u16(F.index.offset),
            inRead: u16(F.in_read.offset),
            body,
          },
          ts,
        );
        return true;
      }
      case C.USCOPE_REC_UFFD_CREATE: {
        const F = L.uscope_uffd_create.fields;
        expectSize(type, size, L.uscope_uffd_create.size);
        emit(
          {
            type: 'uffd_create',
            ts,
            cpu: u32(F.cpu.offset),
            pid: t.pid,
            tid,
            comm: t.comm,
            uffd: u64(F.uffd.offset),
            ret: Number(dv.getBigInt64(o + F.ret.offset, true)),
            flags: u64n(dv, o + F.flags.offset),
            source: u32(F.source.offset) === C.USCOPE_CREATE_DEV ? 'dev' : 'syscall',
          },
          ts,
        );
        return true;
      }
      case C.USCOPE_REC_UFFD_CLOSE: {
        const F = L.uscope_uffd_close.fields;
        expectSize(type, size, L.uscope_uffd_close.size);
        emit({ type: 'uffd_close', ts, cpu: u32(F.cpu.offset), pid: t.pid, tid, comm: t.comm, uffd: u64(F.uffd.offset), fd: u32(F.fd.offset) }, ts);
        return true;
      }
      case C.USCOPE_REC_PROC: {
        const F = L.uscope_proc.fields;
        expectSize(type, size, L.uscope_proc.size);
        const k = u32(F.kind.offset);
        emit(
          {
            type: 'proc',
            ts,
            cpu: u32(F.cpu.offset),
            pid: t.pid,
            tid,
            comm: t.comm,
            kind: k === C.USCOPE_PROC_FORK ? 'fork' : k === C.USCOPE_PROC_EXEC ? 'exec' : 'exit',
            otherPid: u32(F.other_pid.offset),
            otherTid: u32(F.other_tid.offset),
          },
          ts,
        );
        return true;
      }
      case C.USCOPE_REC_HU: {
        const F = L.uscope_hu.fields;
        expectSize(type, size, L.uscope_hu.size);
        const kind = HU_KINDS[u32(F.kind.offset)];
        if (!kind) return false; // a kind this build does not know: stepped over
        emit({ type: 'hu', ts, cpu: u32(F.cpu.offset), pid: t.pid, tid, comm: t.comm, kind, ...huFields(dv, o, F) }, ts);
        return true;
      }
      default:
        return false;
    }
  }

  private fault(dv: DataView, o: number, size: number, parts: number, tid: number, faultTs: number, t: Task, emit: (e: UffdEvent, at: number) => void): void {
    const F = L.uscope_fault.fields;
    expectSize(C.USCOPE_REC_FAULT, size, L.uscope_fault.size);
    const u32 = (at: number) => dv.getUint32(o + at, true);
    const u16 = (at: number) => dv.getUint16(o + at, true);
    let blockDt = u32(F.block_dt.offset);
    let wakeDt = u32(F.wake_dt.offset);
    let resumeDt = u32(F.resume_dt.offset);
    if (parts & C.USCOPE_FAULT_WIDE) {
      const W = L.uscope_fault_wide.fields;
      expectSize(C.USCOPE_REC_FAULT, size, L.uscope_fault_wide.size);
      blockDt += u32(W.block_dt_hi.offset) * TWO32;
      wakeDt += u32(W.wake_dt_hi.offset) * TWO32;
      resumeDt += u32(W.resume_dt_hi.offset) * TWO32;
    }
    const address = dv.getBigUint64(o + F.address.offset, true);
    const uffd = dv.getBigUint64(o + F.uffd.offset, true);
    const wakerTid = u32(F.waker_tid.offset);
    const last = faultTs + Math.max(parts & C.USCOPE_FAULT_BLOCK ? blockDt : 0, parts & C.USCOPE_FAULT_WAKE ? wakeDt : 0, parts & C.USCOPE_FAULT_RESUME ? resumeDt : 0);
    const who = { pid: t.pid, tid, comm: t.comm };
    if (parts & C.USCOPE_FAULT_ENTRY) {
      const vma = this.vmaAt(t.pid, address, faultTs);
      emit(
        {
          type: 'fault',
          ts: faultTs,
          cpu: u16(F.cpu.offset),
          ...who,
          address,
          ip: dv.getBigUint64(o + F.ip.offset, true),
          errorCode: u32(F.error_code.offset),
          uffd,
          vmFlags: vma?.flags ?? 0n,
          vmaStart: vma?.start ?? 0n,
          vmaEnd: vma?.end ?? 0n,
          ctxFeatures: u32(F.ctx_features.offset),
          armed: armedModes(dv.getUint8(o + F.armed.offset)),
        },
        last,
      );
    }
    if (parts & C.USCOPE_FAULT_BLOCK) {
      emit(
        {
          type: 'block',
          ts: faultTs + blockDt,
          cpu: u16(F.block_cpu.offset),
          ...who,
          address,
          uffd,
          faultTs,
          prevState: u16(F.prev_state.offset),
          how: blockHow(dv.getUint8(o + F.how.offset)),
          nblocks: u16(F.nblocks.offset),
        },
        last,
      );
    }
    if (parts & C.USCOPE_FAULT_WAKE) {
      const waker = this.task(wakerTid);
      emit(
        { type: 'wake', ts: faultTs + wakeDt, cpu: u16(F.wake_cpu.offset), pid: waker.pid, tid: wakerTid, comm: waker.comm, address, uffd, faultTs, targetPid: t.pid, targetTid: tid },
        last,
      );
    }
    if (parts & C.USCOPE_FAULT_RESUME) {
      emit(
        { type: 'resume', ts: faultTs + resumeDt, cpu: u16(F.resume_cpu.offset), ...who, address, uffd, faultTs, wakeTs: faultTs + wakeDt, wakerTid },
        last,
      );
    }
  }

  private ioctl(dv: DataView, o: number, size: number, flags: number, tid: number, exitTs: number, t: Task, emit: (e: UffdEvent, at: number) => void): void {
    const F = L.uscope_ioctl.fields;
    const I = L.uscope_ioctl_in.fields;
    expectSize(C.USCOPE_REC_IOCTL, size, L.uscope_ioctl.size);
    const u32 = (at: number) => dv.getUint32(o + at, true);
    const cmd = u32(F.cmd.offset);
    const name = cachedIoctlName(cmd, this.uapi);
    const extended = (flags & (C.USCOPE_IOCTL_ARGS_IN | C.USCOPE_IOCTL_WIDE)) !== 0;
    if (extended) expectSize(C.USCOPE_REC_IOCTL, size, L.uscope_ioctl_in.size);
    const enterDt = u32(F.enter_dt.offset) + (flags & C.USCOPE_IOCTL_WIDE ? u32(I.enter_dt_hi.offset) * TWO32 : 0);
    const args = flags & C.USCOPE_IOCTL_ARGS ? ioctlArgs(dv, o + F.arg.offset, name) : null;
    const ctxFeatures = u32(F.ctx_features.offset);
    let argsIn: typeof args;
    let featuresIn = ctxFeatures;
    if (flags & C.USCOPE_IOCTL_ARGS_IN) {
      argsIn = flags & C.USCOPE_IOCTL_ARGS_IN_OK ? ioctlArgs(dv, o + I.arg_in.offset, name) : null;
      featuresIn = u32(I.ctx_features_in.offset);
    } else {
      // a per-fault ioctl leaves its argument struct as it was but for the
      // result field, whose value at entry is not recorded
      argsIn = args === null ? null : withoutResults(args);
    }
    // Two literals of one fixed shape, no spread: an object spread after
    // other properties takes V8's slow path, and this runs twice per ioctl.
    const uffd = dv.getBigUint64(o + F.uffd.offset, true);
    const argPtr = dv.getBigUint64(o + F.arg_ptr.offset, true);
    const enterTs = exitTs - enterDt;
    const fd = u32(F.fd.offset);
    const enter: IoctlEvent = { type: 'ioctl_enter', ts: enterTs, cpu: dv.getUint16(o + F.enter_cpu.offset, true), pid: t.pid, tid, comm: t.comm, uffd, cmd, name, argPtr, enterTs, fd, args: argsIn, ret: 0, ctxFeatures: featuresIn };
    const exit: IoctlEvent = { type: 'ioctl_exit', ts: exitTs, cpu: dv.getUint16(o + F.cpu.offset, true), pid: t.pid, tid, comm: t.comm, uffd, cmd, name, argPtr, enterTs, fd, args, ret: dv.getInt32(o + F.ret.offset, true), ctxFeatures };
    if (flags & C.USCOPE_IOCTL_UNTIMED) enter.untimed = exit.untimed = true;
    emit(enter, exitTs);
    emit(exit, exitTs);
  }

  /** A VMA record: it replaces the process's VMAs it overlaps from its time on. */
  private noteVma(pid: number, v: Vma): void {
    let list = this.vmas.get(pid);
    if (list === undefined) this.vmas.set(pid, (list = []));
    for (const old of list) if (old.until === Infinity && old.start < v.end && v.start < old.end) old.until = v.from;
    list.push(v);
    if (list.length > VMAS_KEPT) {
      // drop the oldest replaced one (a live VMA stays however old)
      const i = list.findIndex((x) => x.until !== Infinity);
      list.splice(i >= 0 ? i : 0, 1);
    }
  }

  /** The VMA that held `address` of process `pid` at `ts`, else the latest one holding it. */
  private vmaAt(pid: number, address: bigint, ts: number): Vma | undefined {
    const list = this.vmas.get(pid);
    if (list === undefined) return undefined;
    let latest: Vma | undefined;
    for (let i = list.length - 1; i >= 0; i--) {
      const v = list[i];
      if (address < v.start || address >= v.end) continue;
      if (v.from <= ts && ts < v.until) return v;
      latest ??= v;
    }
    return latest;
  }
}

/** The name of an ABI 2 record type (USCOPE_REC_*), for loss counters; undefined for a number ABI 2 does not use. */
export function abi2RecordTypeName(type: number): string | undefined {
  return RECORD_TYPE_NAMES[type];
}

const RECORD_TYPE_NAMES: Record<number, string> = {
  [C.USCOPE_REC_FAULT]: 'fault',
  [C.USCOPE_REC_TASK]: 'task',
  [C.USCOPE_REC_VMA]: 'vma',
  [C.USCOPE_REC_IOCTL]: 'ioctl',
  [C.USCOPE_REC_MSG]: 'msg',
  [C.USCOPE_REC_UFFD_CREATE]: 'uffd_create',
  [C.USCOPE_REC_UFFD_CLOSE]: 'uffd_close',
  [C.USCOPE_REC_PROC]: 'proc',
  [C.USCOPE_REC_HU]: 'hu',
};

function withoutResults(args: Record<string, bigint>): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const k of Object.keys(args)) if (!SIGNED_ARGS.has(k)) out[k] = args[k];
  return out;
}
