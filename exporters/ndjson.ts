// `uffdscope export --format ndjson`: one JSON object per decoded event, one
// per line, with stable snake_case field names (documented in NDJSON.md).
//
// Value rules: 64-bit addresses, uffd ids and bit masks are "0x..." hex
// strings; times, pids, counts, lengths and results are decimal numbers (a
// 64-bit count beyond 2^53 - 1 becomes a decimal string, never a rounded
// number). Every field of an event type is always present (null when the
// event does not carry it), in the same order.
import { closeSync, openSync, unlinkSync, writeSync } from 'node:fs';
import type { IoctlArgs, UffdEvent } from '../src/events/types.js';
import { errnoName, type Uapi } from '../src/events/uapi.js';
import type { RecordingRead } from '../src/source/recordingSource.js';
import { runRecording } from '../src/pipeline/recordingPipeline.js';
import { eventUffd, UffdCreations } from '../src/model/uffdIdentity.js';

export const NDJSON_SCHEMA = 'uffdscope.ndjson/1';

/** Argument fields that are addresses or masks (hex strings); the rest are counts. */
const HEX_ARGS = new Set(['dst', 'src', 'start', 'mode', 'features', 'ioctls', 'enable', 'disable', 'api']);

const MAX = BigInt(Number.MAX_SAFE_INTEGER);
const MIN = BigInt(Number.MIN_SAFE_INTEGER);

function hex(v: bigint): string {
  return v < 0n ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`;
}

function dec(v: bigint): number | string {
  return v <= MAX && v >= MIN ? Number(v) : v.toString();
}

function argsJson(args: IoctlArgs | null): Record<string, string | number> | null {
  if (args === null) return null;
  const out: Record<string, string | number> = {};
  for (const k of Object.keys(args)) out[k] = HEX_ARGS.has(k) ? hex(args[k]) : dec(args[k]);
  return out;
}

/**
 * The NDJSON object of one event (field order is part of the format).
 * `uffdCreatedNs`: creation time of the event's uffd (null: before tracing,
 * or no uffd), appended as `uffd_created_ns` to every type that has `uffd`.
 */
export function eventToJson(e: UffdEvent, uffdCreatedNs: number | null): Record<string, unknown> {
  const o = eventFields(e);
  if ('uffd' in o) o.uffd_created_ns = uffdCreatedNs;
  return o;
}

function eventFields(e: UffdEvent): Record<string, unknown> {
  const base = { type: e.type, ts_ns: e.ts, cpu: e.cpu, pid: e.pid, tid: e.tid, comm: e.comm };
  switch (e.type) {
    case 'fault':
      return {
        ...base,
        uffd: hex(e.uffd),
        address: hex(e.address),
        ip: hex(e.ip),
        error_code: e.errorCode,
        vm_flags: hex(e.vmFlags),
        vma_start: hex(e.vmaStart),
        vma_end: hex(e.vmaEnd),
        ctx_features: hex(BigInt(e.ctxFeatures >>> 0)),
        armed: e.armed,
      };
    case 'block':
      return { ...base, uffd: hex(e.uffd), address: hex(e.address), fault_ts_ns: e.faultTs, prev_state: e.prevState, how: e.how, nblocks: e.nblocks };
    case 'wake':
      return { ...base, uffd: hex(e.uffd), address: hex(e.address), fault_ts_ns: e.faultTs, target_pid: e.targetPid, target_tid: e.targetTid };
    case 'resume':
      return { ...base, uffd: hex(e.uffd), address: hex(e.address), fault_ts_ns: e.faultTs, wake_ts_ns: e.wakeTs, waker_tid: e.wakerTid };
    case 'ioctl_enter':
    case 'ioctl_exit':
      return {
        ...base,
        uffd: hex(e.uffd),
        name: e.name,
        cmd: hex(BigInt(e.cmd >>> 0)),
        fd: e.fd,
        arg_ptr: hex(e.argPtr),
        args: argsJson(e.args),
        enter_ts_ns: e.enterTs,
        ret: e.ret,
        errno: e.type === 'ioctl_exit' ? errnoName(e.ret) : null,
        ctx_features: hex(BigInt(e.ctxFeatures >>> 0)),
      };
    case 'msg': {
      const pf = e.pagefault;
      return {
        ...base,
        uffd: hex(e.uffd),
        event: e.event,
        event_name: e.eventName,
        fd: e.fd,
        read_enter_ts_ns: e.readEnterTs,
        index: e.index,
        in_read: e.inRead,
        body: e.body.map(hex),
        pagefault: pf ? { flags: hex(pf.flags), address: hex(pf.address), ptid: pf.ptid, kind: pf.kind } : null,
      };
    }
    case 'uffd_create':
      return { ...base, uffd: hex(e.uffd), ret: e.ret, errno: errnoName(e.ret), flags: hex(BigInt(e.flags >>> 0)), source: e.source };
    case 'uffd_close':
      return { ...base, uffd: hex(e.uffd), fd: e.fd };
    case 'proc':
      return { ...base, kind: e.kind, other_pid: e.otherPid, other_tid: e.otherTid };
    default:
      // event types added after this schema version (e.g. `hu`, in-kernel
      // handle_userfault() entry/exit): their fields by the generic rules
      return { ...base, ...genericFields(e as unknown as Record<string, unknown>) };
  }
}

const BASE_KEYS = new Set(['type', 'ts', 'cpu', 'pid', 'tid', 'comm']);

/** camelCase -> snake_case; `...Ts` times -> `..._ts_ns`. */
export function snakeKey(k: string): string {
  const s = k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  return s.endsWith('_ts') ? `${s}_ns` : s;
}

function genericValue(v: unknown): unknown {
  if (typeof v === 'bigint') return hex(v);
  if (Array.isArray(v)) return v.map(genericValue);
  if (v !== null && typeof v === 'object') return genericFields(v as Record<string, unknown>);
  return v === undefined ? null : v;
}

function genericFields(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) {
    if (BASE_KEYS.has(k)) continue;
    const v = o[k];
    // masks are hex whatever their width
    out[snakeKey(k)] = typeof v === 'number' && Number.isInteger(v) && v >= 0 && /(Features|Flags|Mask)$/.test(k) ? hex(BigInt(v)) : genericValue(v);
  }
  return out;
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/** Streams NDJSON lines to a file descriptor in large writes. */
export class NdjsonWriter {
  private parts: string[] = [];
  private size = 0;
  private readonly creations = new UffdCreations();
  lines = 0;
  bytes = 0;

  constructor(private readonly fd: number) {}

  /** Opens `path` for writing (refusing to overwrite unless `force`). */
  static create(path: string, force = false): NdjsonWriter {
    return new NdjsonWriter(openSync(path, force ? 'w' : 'wx', 0o600));
  }

  write(e: UffdEvent): void {
    if (e.type === 'uffd_create' && e.ret >= 0 && e.uffd !== 0n) this.creations.note(e.uffd, e.ts);
    const at = eventUffd(e);
    const s = JSON.stringify(eventToJson(e, at === null ? null : this.creations.at(at.ctx, at.ts).createdNs)) + '\n';
    this.parts.push(s);
    this.size += s.length;
    this.lines++;
    if (this.size >= 1 << 20) this.flush();
  }

  flush(): void {
    if (this.parts.length === 0) return;
    const b = Buffer.from(this.parts.join(''), 'utf8');
    let off = 0;
    while (off < b.length) {
      try {
        off += writeSync(this.fd, b, off, b.length - off);
      } catch (e) {
        // stdout may be a non-blocking pipe (-o - | consumer): wait for the reader to drain it
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        Atomics.wait(pause, 0, 0, 1);
      }
    }
    this.bytes += b.length;
    this.parts = [];
    this.size = 0;
  }

  /** Flushes; closes the descriptor unless it is stdout/stderr. */
  close(): void {
    this.flush();
    if (this.fd > 2) closeSync(this.fd);
  }
}

export interface NdjsonExportResult {
  lines: number;
  bytes: number;
  read: RecordingRead;
}

/** Exports every decoded event of a recording; `outPath` '-' writes to stdout. */
export function exportNdjson(recordingPath: string, outPath: string, uapi: Uapi | null, opts: { force?: boolean } = {}): NdjsonExportResult {
  // the output is opened once the recording's header has been read: a wrong
  // input file leaves an existing output alone
  const run = runRecording(recordingPath, uapi, () => {
    const w = outPath === '-' ? new NdjsonWriter(1) : NdjsonWriter.create(outPath, opts.force);
    return {
      sink: {
        writer: w,
        push: (e: UffdEvent) => w.write(e),
        end: () => w.close(),
        abort: () => {
          w.close();
          if (outPath === '-') return;
          try {
            unlinkSync(outPath);
          } catch {
            // nothing to remove
          }
        },
      },
    };
  });
  const w = run.sink!.writer;
  return { lines: w.lines, bytes: w.bytes, read: run.read };
}
