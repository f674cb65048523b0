// Record bytes of record ABI 1 (recordings of format 1) -> typed events, and
// the helpers every ABI's decoder shares. Offsets come from
// layout.abi1.generated.ts, generated from the frozen bpf/uffdscope_abi1.h:
// the layout is written once, in C. ABI 2 (what the BPF programs write now)
// is decodeAbi2.ts; recordStream.ts picks the decoder.
//
// A batch is records back to back, each starting with uscope_header whose
// `size` covers the whole record, so unknown (newer) record types are
// stepped over and counted rather than misread.

import { C, L } from './layout.abi1.generated.js';
import type { ArmedMode, BlockHow, HuEvent, HuKind, IoctlArgs, UffdEvent } from './types.js';
import { ioctlName, msgEventName, pagefaultKind, type Uapi } from './uapi.js';
import { ioctlArgFields, UFFD_IOCTLS } from '../kernel/uffdIoctls.js';

export class DecodeError extends Error {}

const H = L.uscope_header.fields;
const HEADER_SIZE = L.uscope_header.size;

// Process names are bytes; UTF-8 is what they hold in practice (invalid bytes
// become U+FFFD).
const textDecoder = new TextDecoder('utf-8');

/** End of `bytes[from, end)` without a trailing UTF-8 sequence cut short (the kernel cuts names at 15 bytes). */
function wholeUtf8End(bytes: Uint8Array, from: number, end: number): number {
  let lead = end - 1;
  // back over up to 3 continuation bytes (10xxxxxx) to the last sequence's lead byte
  while (lead > from && lead > end - 4 && (bytes[lead] & 0xc0) === 0x80) lead--;
  const b = bytes[lead];
  const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
  return end - lead < need ? lead : end;
}

// comm strings repeat endlessly (a few threads make most records): decode
// each distinct one once, keyed by its raw bytes (two u64 words).
const commCache = new Map<bigint, string>();
const COMM_CACHE_MAX = 4096;

/** The NUL-terminated name of C.USCOPE_COMM_LEN bytes at `at`. */
export function comm(dv: DataView, bytes: Uint8Array, at: number): string {
  const key = (dv.getBigUint64(at, true) << 64n) | dv.getBigUint64(at + 8, true);
  const hit = commCache.get(key);
  if (hit !== undefined) return hit;
  let end = at;
  const stop = at + C.USCOPE_COMM_LEN;
  while (end < stop && bytes[end] !== 0) end++;
  const s = textDecoder.decode(bytes.subarray(at, end > at ? wholeUtf8End(bytes, at, end) : end));
  if (commCache.size >= COMM_CACHE_MAX) commCache.clear();
  commCache.set(key, s);
  return s;
}

/** A u64 time as a Number without a BigInt (exact below 2^53). */
export function u64n(dv: DataView, at: number): number {
  return dv.getUint32(at + 4, true) * 4294967296 + dv.getUint32(at, true);
}

/** Result fields are __s64 in the uapi (bytes done, or -errno). */
export const SIGNED_ARGS = new Set(UFFD_IOCTLS.flatMap((i) => (i.result === null ? [] : [i.result])));

export { ioctlArgFields };

export function blockHow(how: number): BlockHow {
  if (how === C.USCOPE_BLOCK_WAITQ) return 'waitqueue';
  return how === C.USCOPE_BLOCK_STACK ? 'stack' : 'heuristic';
}

export function armedModes(armed: number): ArmedMode[] {
  const out: ArmedMode[] = [];
  if (armed & C.USCOPE_ARMED_MISSING) out.push('missing');
  if (armed & C.USCOPE_ARMED_WP) out.push('wp');
  if (armed & C.USCOPE_ARMED_MINOR) out.push('minor');
  if (armed & C.USCOPE_ARMED_UNKNOWN) out.push('unknown');
  return out;
}

const ioctlNames = new WeakMap<Uapi, Map<number, string>>();

export function cachedIoctlName(cmd: number, uapi: Uapi): string {
  let m = ioctlNames.get(uapi);
  if (!m) ioctlNames.set(uapi, (m = new Map()));
  let n = m.get(cmd);
  if (n === undefined) {
    n = ioctlName(cmd, uapi);
    if (m.size < 1024) m.set(cmd, n);
  }
  return n;
}

export interface DecodeStats {
  records: number;
  unknown: number;
  /** ABI 2: events that came after a later one had been handed on (a fault
   *  that waited longer than the reorder window); 0 for ABI 1 */
  late?: number;
}

/** The argument struct of ioctl `name` from its u64 words at `at`. */
export function ioctlArgs(dv: DataView, at: number, name: string): IoctlArgs {
  const args: IoctlArgs = {};
  const names = ioctlArgFields(name);
  names.forEach((field, i) => {
    args[field] = SIGNED_ARGS.has(field) ? dv.getBigInt64(at + i * 8, true) : dv.getBigUint64(at + i * 8, true);
  });
  return args;
}

/** The uffd_msg union's three words as the event has them (pagefault decoded). */
export function msgFields(
  body: [bigint, bigint, bigint],
  event: number,
  uapi: Uapi,
): { eventName: string; pagefault?: { flags: bigint; address: bigint; ptid: number; kind: 'missing' | 'wp' | 'minor' | 'rwp' } } {
  const eventName = msgEventName(event, uapi);
  if (eventName !== 'pagefault') return { eventName };
  // struct uffd_msg.arg.pagefault: flags, address, feat.ptid (u32)
  return {
    eventName,
    pagefault: { flags: body[0], address: body[1], ptid: Number(body[2] & 0xffffffffn), kind: pagefaultKind(body[0], uapi) },
  };
}

/**
 * Decodes `count` ABI 1 records (or all that fit when count is undefined)
 * from `bytes`, calling `visit` for each. Throws DecodeError on a record
 * whose size is impossible; everything before it has been visited. A
 * stream of ABI 2 records needs a RecordStream (recordStream.ts).
 */
export function decodeRecords(
  bytes: Uint8Array,
  uapi: Uapi,
  visit: (e: UffdEvent) => void,
  count?: number,
  stats: DecodeStats = { records: 0, unknown: 0 },
): DecodeStats {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  forEachRecord(dv, HEADER_SIZE, count, (off, size) => {
    const e = decodeOne(dv, bytes, off, dv.getUint16(off + H.type.offset, true), size, uapi);
    stats.records++;
    if (e) visit(e);
    else stats.unknown++;
  });
  return stats;
}

/**
 * Calls `visit` with the offset and size of each of `count` records (all
 * that fit when undefined) whose header is `headerSize` bytes, `size` u16 at
 * offset 2. Throws DecodeError on an impossible size or count; everything
 * before it has been visited.
 */
export function forEachRecord(dv: DataView, headerSize: number, count: number | undefined, visit: (off: number, size: number) => void): void {
  let off = 0;
  let n = 0;
  while (off < dv.byteLength && (count === undefined || n < count)) {
    if (off + headerSize > dv.byteLength) {
      throw new DecodeError(`record ${n} at byte ${off}: header cut short (${dv.byteLength - off} bytes left)`);
    }
    const size = dv.getUint16(off + 2, true);
    if (size < headerSize || size % 8 !== 0 || off + size > dv.byteLength) {
      throw new DecodeError(`record ${n} at byte ${off}: impossible size ${size}`);
    }
    visit(off, size);
    n++;
    off += size;
  }
  if (count !== undefined && n !== count) {
    throw new DecodeError(`batch says ${count} records but holds ${n}`);
  }
}

/** Every event of ABI 1 records. */
export function decodeAll(bytes: Uint8Array, uapi: Uapi, count?: number): UffdEvent[] {
  const out: UffdEvent[] = [];
  decodeRecords(bytes, uapi, (e) => out.push(e), count);
  return out;
}

export function expectSize(type: number, size: number, want: number): boolean {
  // A record of a known type must be at least as large as this build's
  // struct (a newer writer may append fields; an older one is rejected).
  if (size < want) throw new DecodeError(`record type ${type}: size ${size} smaller than ${want}`);
  return true;
}

function decodeOne(dv: DataView, bytes: Uint8Array, o: number, type: number, size: number, uapi: Uapi): UffdEvent | null {
  const u64 = (at: number) => dv.getBigUint64(o + at, true);
  const s64 = (at: number) => Number(dv.getBigInt64(o + at, true));
  const u32 = (at: number) => dv.getUint32(o + at, true);
  const base = {
    ts: u64n(dv, o + H.ts_ns.offset),
    cpu: u32(H.cpu.offset),
    pid: u32(H.pid.offset),
    tid: u32(H.tid.offset),
    comm: comm(dv, bytes, o + H.comm.offset),
  };
  switch (type) {
    case C.USCOPE_REC_FAULT: {
      const F = L.uscope_fault.fields;
      expectSize(type, size, L.uscope_fault.size);
      return {
        type: 'fault',
        ...base,
        address: u64(F.address.offset),
        ip: u64(F.ip.offset),
        errorCode: u64n(dv, o + F.error_code.offset),
        uffd: u64(F.uffd.offset),
        vmFlags: u64(F.vm_flags.offset),
        vmaStart: u64(F.vma_start.offset),
        vmaEnd: u64(F.vma_end.offset),
        ctxFeatures: u32(F.ctx_features.offset),
        armed: armedModes(dv.getUint16(o + F.armed.offset, true)),
      };
    }
    case C.USCOPE_REC_BLOCK: {
      const F = L.uscope_block.fields;
      expectSize(type, size, L.uscope_block.size);
      return {
        type: 'block',
        ...base,
        address: u64(F.address.offset),
        uffd: u64(F.uffd.offset),
        faultTs: u64n(dv, o + F.fault_ts_ns.offset),
        prevState: u64n(dv, o + F.prev_state.offset),
        how: blockHow(u32(F.how.offset)),
        nblocks: u32(F.nblocks.offset),
      };
    }
    case C.USCOPE_REC_WAKE: {
      const F = L.uscope_wake.fields;
      expectSize(type, size, L.uscope_wake.size);
      return {
        type: 'wake',
        ...base,
        address: u64(F.address.offset),
        uffd: u64(F.uffd.offset),
        faultTs: u64n(dv, o + F.fault_ts_ns.offset),
        targetPid: u32(F.target_pid.offset),
        targetTid: u32(F.target_tid.offset),
      };
    }
    case C.USCOPE_REC_RESUME: {
      const F = L.uscope_resume.fields;
      expectSize(type, size, L.uscope_resume.size);
      return {
        type: 'resume',
        ...base,
        address: u64(F.address.offset),
        uffd: u64(F.uffd.offset),
        faultTs: u64n(dv, o + F.fault_ts_ns.offset),
        wakeTs: u64n(dv, o + F.wake_ts_ns.offset),
        wakerTid: u32(F.waker_tid.offset),
      };
    }
    case C.USCOPE_REC_IOCTL_ENTER:
    case C.USCOPE_REC_IOCTL_EXIT: {
      const F = L.uscope_ioctl.fields;
      expectSize(type, size, L.uscope_ioctl.size);
      const cmd = u64n(dv, o + F.cmd.offset);
      const name = cachedIoctlName(cmd, uapi);
      const args = u32(F.arg_read_ok.offset) ? ioctlArgs(dv, o + F.arg.offset, name) : null;
      return {
        type: type === C.USCOPE_REC_IOCTL_ENTER ? 'ioctl_enter' : 'ioctl_exit',
        ...base,
        uffd: u64(F.uffd.offset),
        cmd,
        name,
        argPtr: u64(F.arg_ptr.offset),
        args,
        enterTs: u64n(dv, o + F.enter_ts_ns.offset),
        ret: s64(F.ret.offset),
        fd: u32(F.fd.offset),
        ctxFeatures: u32(F.ctx_features.offset),
      };
    }
    case C.USCOPE_REC_MSG: {
      const F = L.uscope_msg.fields;
      expectSize(type, size, L.uscope_msg.size);
      const event = dv.getUint8(o + F.event.offset);
      const body: [bigint, bigint, bigint] = [u64(F.body.offset), u64(F.body.offset + 8), u64(F.body.offset + 16)];
      return {
        type: 'msg',
        ...base,
        uffd: u64(F.uffd.offset),
        readEnterTs: u64n(dv, o + F.read_enter_ts_ns.offset),
        event,
        ...msgFields(body, event, uapi),
        fd: u32(F.fd.offset),
        index: u32(F.index.offset),
        inRead: u32(F.in_read.offset),
        body,
      };
    }
    case C.USCOPE_REC_UFFD_CREATE: {
      const F = L.uscope_uffd_create.fields;
      expectSize(type, size, L.uscope_uffd_create.size);
      return {
        type: 'uffd_create',
        ...base,
        uffd: u64(F.uffd.offset),
        ret: s64(F.ret.offset),
        flags: u64n(dv, o + F.flags.offset),
        source: u32(F.source.offset) === C.USCOPE_CREATE_DEV ? 'dev' : 'syscall',
      };
    }
    case C.USCOPE_REC_UFFD_CLOSE: {
      const F = L.uscope_uffd_close.fields;
      expectSize(type, size, L.uscope_uffd_close.size);
      return { type: 'uffd_close', ...base, uffd: u64(F.uffd.offset), fd: u32(F.fd.offset) };
    }
    case C.USCOPE_REC_PROC: {
      const F = L.uscope_proc.fields;
      expectSize(type, size, L.uscope_proc.size);
      const k = u32(F.kind.offset);
      return {
        type: 'proc',
        ...base,
        kind: k === C.USCOPE_PROC_FORK ? 'fork' : k === C.USCOPE_PROC_EXEC ? 'exec' : 'exit',
        otherPid: u32(F.other_pid.offset),
        otherTid: u32(F.other_tid.offset),
      };
    }
    case C.USCOPE_REC_HU: {
      const F = L.uscope_hu.fields;
      expectSize(type, size, L.uscope_hu.size);
      const k = u32(F.kind.offset);
      const kind = HU_KINDS[k];
      if (!kind) return null; // a kind this build does not know: stepped over
      return { type: 'hu', ...base, kind, ...huFields(dv, o, F) };
    }
    default:
      return null;
  }
}

type HuFieldName = 'uffd' | 'address' | 'reason' | 'fault_flags' | 'enter_ts_ns' | 'ret' | 'ctx_features' | 'arg_read_ok';

/** The fields of a uscope_hu record at `o` (either ABI's layout of it) but its header and kind. */
export function huFields(dv: DataView, o: number, F: Record<HuFieldName, { offset: number }>): Omit<HuEvent, 'type' | 'kind' | 'ts' | 'cpu' | 'pid' | 'tid' | 'comm'> {
  const u64 = (at: number) => dv.getBigUint64(o + at, true);
  const u32 = (at: number) => dv.getUint32(o + at, true);
  return {
    uffd: u64(F.uffd.offset),
    address: u64(F.address.offset),
    reason: u64(F.reason.offset),
    faultFlags: u64(F.fault_flags.offset),
    enterTs: u64n(dv, o + F.enter_ts_ns.offset),
    ret: Number(dv.getBigInt64(o + F.ret.offset, true)),
    ctxFeatures: u32(F.ctx_features.offset),
    argReadOk: u32(F.arg_read_ok.offset) !== 0,
  };
}

export const HU_KINDS: Record<number, HuKind | undefined> = {
  [C.USCOPE_HU_ENTER]: 'enter',
  [C.USCOPE_HU_EXIT]: 'exit',
  [C.USCOPE_HU_SET_MODE_ENTER]: 'set_mode_enter',
  [C.USCOPE_HU_SET_MODE_EXIT]: 'set_mode_exit',
};
