// Streaming Perfetto trace writer: decoded events and fault records in, a
// native Perfetto protobuf trace (Trace.packet = TracePacket, TrackEvent) out.
//
// What it writes
//   - a process track and a thread track (with names) for every faulting,
//     handler and waking thread;
//   - a slice per userfault on the faulting thread ("uffd fault (rwp)"),
//     with nested stage slices queue / service / wake;
//   - a slice per uffd ioctl on the calling thread (name = ioctl name);
//   - a flow arrow between each fault and the ioctl that resolved it (the
//     earlier of the two starts it, the other terminates it: normally fault ->
//     ioctl; ioctl -> fault when the ioctl began before the fault entered);
//   - per uffd a track (child of its owner process) with sync / async mode
//     spans, SET_MODE attempts, create/close instants, and counter tracks
//     faults/s, blocked faults, async-resolved faults;
//   - "[generated]" names and a GENERATED DATA instant for generated input.
//
// Ordering and memory
//   Everything goes through one bounded reorder buffer (a heap of
//   operations) and leaves it in timestamp order, so sequence 1 is monotonic.
//   Fault records complete out of order (after resume + settle, after the
//   resolving ioctl's exit, or after the model's horizons), so each raw fault
//   entry and ioctl entry reserves a placeholder at its timestamp: output
//   stops at the oldest unfilled placeholder (at most maxHoldMs), and never
//   goes past (latest event - reorderWindowMs - rateWindowMs). When more than
//   maxBufferedOps operations are waiting, the oldest are written anyway.
//   A record that arrives after its time was written ("late": its fault was
//   held longer than that) is still written, complete, on a separate packet
//   sequence and a separate "late records" lane of its thread, without flows
//   or counter contributions; stats.late counts them.
//
// Nesting: slices on one track must nest. Each thread has lanes (the thread
// track, then child tracks "<comm> <tid> (overlap N)"); a slice goes to the
// first lane where it nests, so a fault that overlaps an ioctl of the same
// thread (a fault inside UFFDIO_COPY's copy_from_user) stays well formed.

import { closeSync, openSync, writeSync } from 'node:fs';
import protobuf from 'protobufjs';
import { uffdId, type IoctlArgs, type IoctlEvent, type UffdCreateEvent, type UffdEvent } from '../../src/events/types.js';
import { bitNames, errnoName, type Uapi } from '../../src/events/uapi.js';
import type { FaultRecord } from '../../src/model/faultTypes.js';
import type { SetModeAttempt, UffdInfo, UffdRegistry } from '../../src/model/uffdRegistry.js';
import { formatCreated } from '../../src/model/uffdIdentity.js';
import { onResults, type AnalysisResult, type RegistryResult } from '../../src/model/analysisResults.js';
import type { FaultLifecycle } from '../../src/model/faultLifecycle.js';
import type { RecordingHeader } from '../../src/recording/format.js';
import { ARG_KINDS } from '../../src/kernel/uffdIoctls.js';
import { OpHeap } from './opHeap.js';
import {
  BUILTIN_CLOCK_BOOTTIME,
  BUILTIN_CLOCK_REALTIME,
  COUNTER_UNIT_COUNT,
  SEQ_INCREMENTAL_STATE_CLEARED,
  SEQ_NEEDS_INCREMENTAL_STATE,
  TYPE_COUNTER,
  TYPE_INSTANT,
  TYPE_SLICE_BEGIN,
  TYPE_SLICE_END,
  loadPerfettoProto,
} from './proto.js';

export interface PerfettoWriterOptions {
  uapi: Uapi;
  /** the analysis whose results the trace draws (the writer only listens to it) */
  analysis: { lifecycle: FaultLifecycle; registry: UffdRegistry };
  /** the recording header: generated marker, clock snapshot (boot -> realtime) */
  header?: RecordingHeader | null;
  /** how long (event time) records without a placeholder (fault entry lost) may lag behind events. Default 100 ms. */
  reorderWindowMs?: number;
  /** faults/s counter interval. Default 10 ms. */
  rateWindowMs?: number;
  /** longest wait for a fault record / ioctl exit before its time is written anyway. Default 6000 ms. */
  maxHoldMs?: number;
  /** cap on buffered operations (memory bound). Default 262144. */
  maxBufferedOps?: number;
  /** overwrite an existing output file */
  force?: boolean;
}

export interface PerfettoExportStats {
  events: number;
  packets: number;
  bytes: number;
  faultSlices: number;
  ioctlSlices: number;
  flows: number;
  setModeInstants: number;
  modeSpans: number;
  counterSamples: number;
  /** records written on a late sequence (they came after their time was written) */
  late: number;
  /** late records not written (too many late lanes/sequences) */
  lateDropped: number;
  /** fault placeholders given up on (record later than maxHoldMs or buffer full) */
  abandonedFaults: number;
  /** ioctls whose exit was never seen in time (written as zero-length slices) */
  ioctlsWithoutExit: number;
  /** resolved faults whose resolving ioctl had already been written (no flow) */
  flowsMissed: number;
  /** operations written early because the buffer was full */
  forcedFlushes: number;
  /** slices not written because a thread had too many overlapping lanes */
  laneOverflow: number;
  /** most operations buffered at once (the reorder buffer's high-water mark) */
  maxBuffered: number;
  sequences: number;
}

// ---- internals ----

const R_END = 0;
const R_MID = 1;
const R_BEGIN = 2;

const K_ITEM_BEGIN = 1;
const K_STAGE_BEGIN = 2;
const K_END = 3;
const K_MODE_BEGIN = 4;
const K_MODE_END = 5;
const K_SETMODE = 6;
const K_CTR_DELTA = 7;
const K_CTR_SET = 8;
const K_INSTANT = 9;

const CTR_RATE = 0;
const CTR_PENDING = 1;
const CTR_ASYNC = 2;

const KEY_RANK = 2 ** 46;

const MAX_LANES = 32;
const MAX_LATE_LANES = 16;
const MAX_LATE_SEQS = 64;
const MAX_UFFDS = 4096;

type AnnValue = string | number | boolean;
type Ann = [string, AnnValue];

interface Track {
  uuid: number;
  emitted: boolean;
  parent: Track | null;
  desc: Record<string, unknown>;
  /** process tracks: the main thread's name, when seen before the descriptor is written */
  mainComm?: string;
}

interface StackEntry {
  end: number;
  /** the fault item whose stages may still begin under it */
  item: SliceItem | null;
}

interface Lane {
  track: Track;
  stack: StackEntry[];
  /** late lanes: end of the last slice written */
  lastEnd: number;
}

interface ThreadState {
  pid: number;
  tid: number;
  comm: string;
  track: Track;
  lanes: Lane[];
  lateLanes: Lane[];
}

interface Stage {
  name: string;
  start: number;
  end: number;
}

interface FlowLink {
  id: number;
  started: boolean;
}

class SliceItem {
  filled = false;
  dead = false;
  begun = false;
  late = false;
  start: number;
  end: number;
  name = '';
  cat = '';
  ann: Ann[] = [];
  stages: Stage[] | null = null;
  nextStage = 0;
  links: FlowLink[] | null = null;
  lane: Lane | null = null;
  /** ioctl items */
  ioctl: IoctlEvent | null = null;
  woken = 0;
  setModeOp: Op | null = null;
  constructor(
    readonly kind: 'fault' | 'ioctl',
    readonly pid: number,
    readonly tid: number,
    public comm: string,
    start: number,
  ) {
    this.start = start;
    this.end = start;
  }
}

interface Op {
  ts: number;
  /** tie-break at equal ts: rank * 2^46 + (ends: 2^45 - begin order; others: insertion order) */
  key: number;
  rank: number;
  sub: number;
  k: number;
  item: SliceItem | null;
  stage: Stage | null;
  lane: Lane | null;
  uffd: UffdState | null;
  which: number;
  value: number;
  name: string;
  ann: Ann[] | null;
}

/** One uffd (a context address in one lifetime: UffdIdentity) and its tracks. */
class UffdState {
  track: Track | null = null;
  ctr: Array<Track | null> = [null, null, null];
  ctrValue = [0, 0, 0];
  mode: string | null = null;
  modeOpen = false;
  modeTs = -Infinity;
  rateLastBucket = -1;
  constructor(
    readonly info: UffdInfo,
    /** track name stem: "uffd 0x... created +0.016407s" (seconds after the first event; no "created" for a uffd made before tracing) */
    readonly label: string,
  ) {}
}

class Seq {
  started = false;
  lastTs = -Infinity;
  readonly names = new Map<string, number>();
  readonly cats = new Map<string, number>();
  readonly anns = new Map<string, number>();
  constructor(readonly id: number) {}
}

interface PendingInterned {
  event_names?: Array<{ iid: number; name: string }>;
  event_categories?: Array<{ iid: number; name: string }>;
  debug_annotation_names?: Array<{ iid: number; name: string }>;
}

const STAGE_NAMES = ['queue', 'service', 'wake'];

function hex(v: bigint | number): string {
  return `0x${v.toString(16)}`;
}

function bigToAnn(v: bigint): AnnValue {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}

/**
 * Writes length-delimited Trace.packet fields to a file descriptor. Each
 * packet is encoded on its own (protobufjs keeps a list of pending writes
 * per Writer: finishing at once lets it die young) and copied into a 1 MiB
 * buffer that goes to the file when full.
 */
class PacketSink {
  private buf = Buffer.allocUnsafe(1 << 20);
  private len = 0;
  bytes = 0;
  packets = 0;
  constructor(
    private readonly fd: number,
    private readonly type: protobuf.Type,
  ) {}

  write(p: Record<string, unknown>): void {
    const w = protobuf.Writer.create();
    w.uint32(10); // Trace.packet: field 1, wire type 2
    this.type.encodeDelimited(p, w);
    const b = w.finish();
    if (this.len + b.length > this.buf.length) {
      this.flush();
      if (b.length > this.buf.length) this.buf = Buffer.allocUnsafe(b.length);
    }
    this.buf.set(b, this.len);
    this.len += b.length;
    this.packets++;
  }

  flush(): void {
    let off = 0;
    while (off < this.len) off += writeSync(this.fd, this.buf, off, this.len - off);
    this.bytes += this.len;
    this.len = 0;
  }
}

/**
 * Streams a Perfetto trace of an analysis to `out`. Push each decoded event
 * into the analysis, then give it to event(): the writer draws the event and
 * the results the analysis reported for it. Finish the analysis, then close().
 */
export class PerfettoWriter {
  readonly stats: PerfettoExportStats;

  private readonly uapi: Uapi;
  private readonly registry: UffdRegistry;
  /** results of the events not drawn yet, in the order the analysis reported them */
  private results: AnalysisResult[] = [];
  /** the latest ioctl exit the analysis reported */
  private completed: Extract<RegistryResult, { type: 'ioctl_completed' }> | null = null;
  private readonly fd: number;
  private readonly sink: PacketSink;
  private readonly generated: RecordingHeader['generated'];
  private readonly prefix: string;
  private readonly windowNs: number;
  private readonly rateNs: number;
  private readonly holdNs: number;
  private readonly maxOps: number;

  private readonly heap = new OpHeap<Op>();
  private opSeq = 0;
  private beginOrder = 0;
  private flowSeq = 0;
  private trackSeq = 0;

  private readonly main: Seq;
  private readonly lateSeqs: Seq[] = [];
  private nextSeqId = 2;

  private readonly root: Track;
  private readonly processes = new Map<number, Track>();
  private readonly threads = new Map<number, ThreadState>();
  /** by UffdInfo.key */
  private readonly uffds = new Map<string, UffdState>();
  /** first event time: uffd creation times are named relative to it */
  private startTs = 0;

  /** fault placeholders by tid; ioctl items by tid (until written) */
  private readonly faultIdx: Idx = new Map();
  private readonly ioctlIdx: Idx = new Map();
  /** placeholders in creation order (the oldest unfilled one holds output back) */
  private pend: SliceItem[] = [];
  private pendHead = 0;

  /** bucket index -> uffd -> userfaults */
  private readonly buckets = new Map<number, Map<UffdState, number>>();
  private finalizedBefore = -Infinity;
  private readonly rateNonzero = new Set<UffdState>();

  private latest = -Infinity;
  private fillMark = -Infinity;
  private started = false;
  private closed = false;

  constructor(out: string, opts: PerfettoWriterOptions) {
    this.uapi = opts.uapi;
    this.registry = opts.analysis.registry;
    this.generated = opts.header?.generated ?? null;
    this.prefix = this.generated ? '[generated] ' : '';
    this.windowNs = (opts.reorderWindowMs ?? 100) * 1e6;
    this.rateNs = Math.max(1, Math.round((opts.rateWindowMs ?? 10) * 1e6));
    this.holdNs = Math.max(this.windowNs, (opts.maxHoldMs ?? 6000) * 1e6);
    this.maxOps = Math.max(1024, opts.maxBufferedOps ?? 262_144);
    this.stats = {
      events: 0,
      packets: 0,
      bytes: 0,
      faultSlices: 0,
      ioctlSlices: 0,
      flows: 0,
      setModeInstants: 0,
      modeSpans: 0,
      counterSamples: 0,
      late: 0,
      lateDropped: 0,
      abandonedFaults: 0,
      ioctlsWithoutExit: 0,
      flowsMissed: 0,
      forcedFlushes: 0,
      laneOverflow: 0,
      maxBuffered: 0,
      sequences: 1,
    };
    const proto = loadPerfettoProto();
    this.fd = openSync(out, opts.force ? 'w' : 'wx', 0o600);
    this.sink = new PacketSink(this.fd, proto.TracePacket);
    this.main = new Seq(1);
    this.root = this.newTrack(null, { name: `${this.prefix}uffdscope` });

    // First packet: clears incremental state of sequence 1 and ties the
    // trace clock (BOOTTIME, the recording's clock) to realtime.
    const h = opts.header;
    const bootNs = h?.clock.startedAtBootNs;
    const realNs = h ? h.clock.startedAtBootNs + h.clock.bootToRealtimeOffsetNs : undefined;
    const first: Record<string, unknown> = {
      trusted_packet_sequence_id: this.main.id,
      sequence_flags: SEQ_INCREMENTAL_STATE_CLEARED,
      first_packet_on_sequence: true,
    };
    if (bootNs !== undefined && realNs !== undefined && bootNs > 0 && realNs > 0) {
      first.clock_snapshot = {
        clocks: [
          { clock_id: BUILTIN_CLOCK_BOOTTIME, timestamp: bootNs },
          { clock_id: BUILTIN_CLOCK_REALTIME, timestamp: realNs },
        ],
        primary_trace_clock: BUILTIN_CLOCK_BOOTTIME,
      };
    }
    this.sink.write(first);
    this.main.started = true;

    onResults(opts.analysis, (r) => {
      this.results.push(r);
      if (r.type === 'ioctl_completed') this.completed = r;
    });
  }

  /** Draws one event, after the analysis has seen it, and what the analysis reported for it. */
  event(e: UffdEvent): void {
    if (this.closed) return;
    this.stats.events++;
    const ts = e.ts;
    if (!this.started) this.start(ts);
    if (ts > this.latest) this.latest = ts;
    this.draw(e);
    this.drawResults();
    this.advanceMarks();
  }

  /** Writes everything (after the analysis has finished: its last results are drawn first) and closes the file. */
  close(endTs?: number): PerfettoExportStats {
    if (this.closed) return this.stats;
    this.drawResults();
    if (endTs !== undefined && endTs > this.latest) this.latest = endTs;
    // nothing more will arrive: give up on open placeholders, close spans
    for (let i = this.pendHead; i < this.pend.length; i++) {
      const it = this.pend[i];
      if (!it.filled && !it.dead && !it.begun) this.abandon(it);
    }
    this.pend = [];
    this.pendHead = 0;
    const endAt = this.latest;
    for (const u of this.uffds.values()) {
      if (u.modeOpen) this.schedule(this.op(K_MODE_END, Math.max(endAt, this.main.lastTs, u.modeTs), R_MID, 0, null, u));
      u.modeOpen = false;
    }
    this.fillMark = Infinity;
    this.finalizeBuckets(Infinity);
    this.flushTo(Infinity);
    const s = this.stats;
    if (s.late || s.lateDropped || s.abandonedFaults || s.forcedFlushes || s.laneOverflow) {
      const ann: Ann[] = [
        ['late_records', s.late],
        ['late_records_dropped', s.lateDropped],
        ['abandoned_fault_placeholders', s.abandonedFaults],
        ['forced_flushes', s.forcedFlushes],
        ['lane_overflow', s.laneOverflow],
      ];
      this.writeEvent(this.main, Math.max(this.main.lastTs, 0), this.root, TYPE_INSTANT, 'uffdscope export: reorder limits hit', 'uffdscope', ann);
    }
    this.sink.flush();
    closeSync(this.fd);
    this.closed = true;
    s.packets = this.sink.packets;
    s.bytes = this.sink.bytes;
    return s;
  }

  // ---- input side ----

  private start(ts: number): void {
    this.started = true;
    this.startTs = ts;
    if (this.generated) {
      const g = this.generated;
      this.schedule(
        this.op(K_INSTANT, ts, R_MID, 0, null, null, 0, 'GENERATED DATA (simulated, not captured from a kernel)', [
          ['generator', g.generator],
          ['scenario', g.scenario],
          ['seed', g.seed],
        ]),
      );
    }
  }

  /** The event itself: fault placeholders, ioctl slices. */
  private draw(e: UffdEvent): void {
    switch (e.type) {
      case 'fault':
        this.openSlice(new SliceItem('fault', e.pid, e.tid, e.comm, e.ts), this.faultIdx);
        return;
      case 'ioctl_enter': {
        const it = new SliceItem('ioctl', e.pid, e.tid, e.comm, e.ts);
        it.ioctl = e;
        it.name = e.name;
        it.cat = 'uffd.ioctl';
        this.openSlice(it, this.ioctlIdx);
        return;
      }
      case 'ioctl_exit': {
        this.thread(e.pid, e.tid, e.comm);
        let it = findIdx(this.ioctlIdx, e.tid, e.enterTs);
        if (it !== undefined && (it.filled || it.dead || it.begun)) {
          // written without its exit already (held too long)
          return;
        }
        if (it === undefined) {
          it = new SliceItem('ioctl', e.pid, e.tid, e.comm, e.enterTs);
          it.name = e.name;
          it.cat = 'uffd.ioctl';
          addIdx(this.ioctlIdx, e.tid, it);
          if (e.enterTs < this.main.lastTs) it.late = true;
          else this.schedule(this.op(K_ITEM_BEGIN, e.enterTs, R_BEGIN, 0, it));
        }
        this.fillIoctl(it, e);
        if (it.late) this.emitLate(it);
        return;
      }
      default:
        return;
    }
  }

  /** The analysis's results, in the order it reported them. */
  private drawResults(): void {
    const rs = this.results;
    if (rs.length === 0) return;
    this.results = [];
    this.completed = null;
    for (const r of rs) {
      switch (r.type) {
        case 'fault_ended':
          this.onRecord(r.record, r.uffd);
          break;
        case 'mode_changed':
          this.modeChanged(r.uffd, r.change.ts, r.change.mode, r.change.cause);
          break;
        case 'uffd_created':
          this.uffdCreated(r.uffd, r.replaced, r.event);
          break;
        case 'uffd_closed': {
          const u = this.uffdState(r.uffd);
          const e = r.event;
          if (u !== null) {
            this.schedule(
              this.op(K_INSTANT, Math.max(e.ts, this.main.lastTs), R_MID, 0, null, u, 0, 'fd closed', [
                ['fd', e.fd],
                ['pid', e.pid],
                ['tid', e.tid],
                ['comm', e.comm],
              ]),
            );
          }
          break;
        }
        case 'ioctl_completed':
          break; // drawn with its exit event (draw)
      }
    }
  }

  private modeChanged(info: UffdInfo, ts: number, mode: string, cause: string): void {
    const u = this.uffdState(info);
    if (u === null || u.mode === mode) return;
    // mode ops keep their scheduling order (rank MID): an end never precedes its begin
    const at = Math.max(ts, this.main.lastTs, u.modeTs);
    u.modeTs = at;
    if (u.modeOpen) this.schedule(this.op(K_MODE_END, at, R_MID, 0, null, u));
    u.mode = mode;
    u.modeOpen = true;
    this.schedule(this.op(K_MODE_BEGIN, at, R_MID, 0, null, u, 0, mode, [['cause', cause]]));
  }

  private uffdCreated(info: UffdInfo, replaced: UffdInfo | undefined, e: UffdCreateEvent): void {
    const prev = replaced !== undefined ? this.uffds.get(replaced.key) : undefined;
    if (prev !== undefined && prev.modeOpen) {
      // the address now holds a new uffd: the earlier one's mode span ends here
      const end = Math.max(e.ts, this.main.lastTs, prev.modeTs);
      this.schedule(this.op(K_MODE_END, end, R_MID, 0, null, prev));
      prev.modeOpen = false;
    }
    const u = this.uffdState(info);
    if (u === null) return;
    this.schedule(
      this.op(K_INSTANT, Math.max(e.ts, this.main.lastTs), R_MID, 0, null, u, 0, 'uffd created', [
        ['flags', hex(e.flags)],
        ['source', e.source],
        ['pid', e.pid],
        ['comm', e.comm],
      ]),
    );
  }

  private fillIoctl(it: SliceItem, e: IoctlEvent): void {
    it.filled = true;
    it.end = Math.max(e.ts, it.start);
    it.comm = e.comm;
    const enter = it.ioctl;
    it.ioctl = e;
    const args: IoctlArgs | null = e.args ?? enter?.args ?? null;
    const ann = this.ioctlAnn(e, args);
    ann.push(['ret', e.ret]);
    const errno = errnoName(e.ret);
    if (errno) ann.push(['errno', errno]);
    it.ann = ann;
    if (e.name === 'UFFDIO_SET_MODE') {
      // the analysis has seen this exit already: the attempt's drain and wake-up are known
      const c = this.completed !== null && this.completed.exit === e ? this.completed : null;
      this.setModeInstant(it, e, args, c?.uffd, c?.setMode);
    }
  }

  /** The SET_MODE attempt's instant on its uffd's track (at the exit; at the entry when no exit was seen). */
  private setModeInstant(it: SliceItem, e: IoctlEvent, args: IoctlArgs | null, info: UffdInfo | undefined, attempt: SetModeAttempt | undefined, exitSeen = true): void {
    const u = info === undefined ? null : this.uffdState(info);
    if (u === null) return;
    const en = args?.enable ?? 0n;
    const dis = args?.disable ?? 0n;
    const errno = exitSeen ? errnoName(e.ret) : null;
    const ann: Ann[] = [
      ['enable', hex(en)],
      ['enable_features', bitNames(en, 'UFFD_FEATURE_', this.uapi).join('|') || '-'],
      ['disable', hex(dis)],
      ['disable_features', bitNames(dis, 'UFFD_FEATURE_', this.uapi).join('|') || '-'],
    ];
    if (exitSeen) {
      // the same names as the summary: ioctl latency, and the drain / wake-up where a precise backend saw them
      ann.push(['result', e.ret], ['errno', errno ?? 'ok'], ['latency_ns', e.ts - it.start]);
      if (attempt?.drainNs !== undefined) ann.push(['drain_ns', attempt.drainNs]);
      if (attempt?.wakeupNs !== undefined) ann.push(['wakeup_ns', attempt.wakeupNs]);
    } else ann.push(['result', 'exit not seen']);
    ann.push(['enter_ts_ns', it.start], ['pid', e.pid], ['tid', e.tid], ['comm', e.comm]);
    const name = exitSeen ? `UFFDIO_SET_MODE ${errno ?? 'ok'}` : 'UFFDIO_SET_MODE (exit not seen)';
    const op = this.op(K_SETMODE, it.end, R_MID, 0, it, u, 0, name, ann);
    it.setModeOp = op;
    if (!it.late) this.schedule(op);
  }

  private ioctlAnn(e: IoctlEvent, args: IoctlArgs | null): Ann[] {
    const ann: Ann[] = [
      ['uffd', uffdId(e.uffd)],
      ['fd', e.fd],
    ];
    if (args === null) ann.push(['args', 'unreadable']);
    else {
      for (const k in args) {
        const v = args[k];
        const kind = ARG_KINDS.get(k);
        if (kind === 'addr' || kind === 'mask') ann.push([k, hex(v)]);
        else ann.push([k, bigToAnn(v)]);
      }
    }
    return ann;
  }

  private onRecord(r: FaultRecord, info: UffdInfo | undefined): void {
    if (this.closed) return;
    // the placeholder of this fault entry, if any
    const ph = takeIdx(this.faultIdx, r.tid, r.faultTs);
    if (!r.userfault) {
      if (ph !== undefined) ph.dead = true;
      return;
    }
    let it = ph;
    if (it === undefined || it.dead) {
      it = new SliceItem('fault', r.pid, r.tid, r.comm, r.faultTs);
      if (r.faultTs < this.main.lastTs || ph?.dead) it.late = true;
      else this.schedule(this.op(K_ITEM_BEGIN, r.faultTs, R_BEGIN, 0, it));
    }
    this.fillFault(it, r);
    if (it.late) {
      this.emitLate(it);
      return;
    }
    // counters (applied in time order as they are written)
    const u = info === undefined ? null : this.uffdState(info);
    if (u !== null) {
      if (r.blocked) {
        const from = r.blockTs ?? r.faultTs;
        const to = Math.max(from, r.resumeTs ?? r.wakeTs ?? r.endTs);
        this.schedule(this.op(K_CTR_DELTA, from, R_MID, 0, null, u, CTR_PENDING, '', null, 1));
        this.schedule(this.op(K_CTR_DELTA, to, R_MID, 0, null, u, CTR_PENDING, '', null, -1));
      }
      if (r.end === 'async') this.schedule(this.op(K_CTR_DELTA, r.faultTs, R_MID, 0, null, u, CTR_ASYNC, '', null, 1));
      const b = Math.floor(r.faultTs / this.rateNs);
      if (b >= this.finalizedBefore) {
        let m = this.buckets.get(b);
        if (m === undefined) this.buckets.set(b, (m = new Map()));
        m.set(u, (m.get(u) ?? 0) + 1);
      }
    }
    // flow to the resolving ioctl, while both are unwritten
    const ref = r.resolveIoctl;
    if (ref !== undefined) {
      const io = findIdx(this.ioctlIdx, ref.tid, ref.enterTs);
      if (io !== undefined && !io.begun && !io.late && !io.dead) {
        const l: FlowLink = { id: ++this.flowSeq, started: false };
        (it.links ??= []).push(l);
        (io.links ??= []).push(l);
      } else this.stats.flowsMissed++;
    }
    // a SET_MODE attempt's woken waiters
    const w = r.wakeIoctl;
    if (r.end === 'mode_switch' && w !== undefined) {
      const io = findIdx(this.ioctlIdx, w.tid, w.enterTs);
      if (io !== undefined) io.woken++;
    }
  }

  private fillFault(it: SliceItem, r: FaultRecord): void {
    it.filled = true;
    it.comm = r.comm || it.comm;
    it.name = `uffd fault (${r.kind})`;
    it.cat = 'uffd.fault';
    const s = r.faultTs;
    const st = r.stages;
    // when it was resolved, where a stage is drawn up to it or from it
    const b = st.service !== undefined || st.wake !== undefined ? r.resolvedTs : undefined;
    let end: number;
    if (r.resumeTs !== undefined) end = r.resumeTs;
    else {
      end = s;
      if (r.wakeTs !== undefined) end = Math.max(end, r.wakeTs);
      if (r.msgTs !== undefined) end = Math.max(end, r.msgTs);
      if (b !== undefined) end = Math.max(end, b);
      if (r.blocked && r.wakeTs === undefined) end = Math.max(end, r.endTs);
    }
    if (end < s) end = s;
    it.end = end;
    let stages: Stage[] | null = null;
    let prev = s;
    // queue [fault, msg read], service [msg read, B], wake [B, resume]; clamped into the slice
    for (let i = 0; i < 3; i++) {
      let a: number | undefined;
      let z: number | undefined;
      if (i === 0 && st.queue !== undefined && r.msgTs !== undefined) {
        a = s;
        z = r.msgTs;
      } else if (i === 1 && st.service !== undefined && r.msgTs !== undefined && b !== undefined) {
        a = r.msgTs;
        z = b;
      } else if (i === 2 && st.wake !== undefined && b !== undefined && r.resumeTs !== undefined) {
        a = b;
        z = r.resumeTs;
      }
      if (a === undefined || z === undefined) continue;
      const a2 = Math.min(Math.max(a, prev), end);
      const z2 = Math.min(Math.max(z, a2), end);
      (stages ??= []).push({ name: STAGE_NAMES[i], start: a2, end: z2 });
      prev = z2;
    }
    it.stages = stages;
    const ann: Ann[] = [
      ['address', hex(r.address)],
      ['uffd', uffdId(r.uffd)],
      ['kind', r.kind],
      ['error_code', r.errorCode],
      ['end_reason', r.end],
    ];
    if (r.msgFlags !== undefined) ann.push(['msg_flags', Number(r.msgFlags)]);
    if (r.nblocks > 1) ann.push(['nblocks', r.nblocks]);
    if (r.resolveIoctl !== undefined) ann.push(['resolved_by', r.resolveIoctl.name]);
    if (r.wakerTid !== undefined) ann.push(['waker_tid', r.wakerTid]);
    if (r.recovered) ann.push(['recovered', true]);
    if (r.incomplete) ann.push(['incomplete', true]);
    it.ann = ann;
  }

  // ---- reorder buffer ----

  private op(
    k: number,
    ts: number,
    rank: number,
    sub: number,
    item: SliceItem | null = null,
    uffd: UffdState | null = null,
    which = 0,
    name = '',
    ann: Ann[] | null = null,
    value = 0,
  ): Op {
    return { ts, key: 0, rank, sub, k, item, stage: null, lane: null, uffd, which, value, name, ann };
  }

  /**
   * At equal time: slice ends (rank 0) before instants and counters (rank 1)
   * before slice begins (rank 2); among ends, the slice begun last ends first
   * (sub = its begin order); otherwise insertion order.
   */
  private schedule(o: Op): void {
    const seq = ++this.opSeq;
    o.key = o.rank * KEY_RANK + (o.rank === R_END ? KEY_RANK / 2 - o.sub : seq);
    if (o.ts < this.main.lastTs) o.ts = this.main.lastTs; // counters, spans, instants only (items go late)
    this.heap.push(o);
    if (this.heap.size > this.stats.maxBuffered) this.stats.maxBuffered = this.heap.size;
  }

  private advanceMarks(): void {
    const latest = this.latest;
    const pend = this.pend;
    let h = this.pendHead;
    for (;;) {
      while (h < pend.length && (pend[h].filled || pend[h].dead || pend[h].begun)) h++;
      if (h < pend.length && pend[h].start < latest - this.holdNs) {
        this.abandon(pend[h]);
        h++;
        continue;
      }
      break;
    }
    if (h > 4096 && h * 2 > pend.length) {
      this.pend = pend.slice(h);
      h = 0;
    }
    this.pendHead = h;
    let a = latest - this.windowNs;
    if (h < this.pend.length && this.pend[h].start < a) a = this.pend[h].start;
    if (a > this.fillMark) {
      this.fillMark = a;
      if (Math.floor(a / this.rateNs) > this.finalizedBefore) this.finalizeBuckets(a);
    }
    this.flushTo(this.fillMark - this.rateNs);
  }

  /** Emits the counter samples of every faults/s interval that ends at or before `mark`. */
  private finalizeBuckets(mark: number): void {
    const bEnd = mark === Infinity ? Infinity : Math.floor(mark / this.rateNs);
    if (bEnd <= this.finalizedBefore) return;
    const keys: number[] = [];
    for (const k of this.buckets.keys()) if (k < bEnd) keys.push(k);
    keys.sort((x, y) => x - y);
    const perSec = 1e9 / this.rateNs;
    for (const b of keys) {
      this.rateZeros(b);
      const m = this.buckets.get(b)!;
      this.buckets.delete(b);
      for (const [u, n] of m) {
        this.schedule(this.op(K_CTR_SET, b * this.rateNs, R_MID, 0, null, u, CTR_RATE, '', null, n * perSec));
        u.rateLastBucket = b;
        this.rateNonzero.add(u);
      }
    }
    this.rateZeros(bEnd);
    this.finalizedBefore = bEnd;
  }

  /** A rate back to 0 after the last interval with faults, for intervals before `b`. */
  private rateZeros(b: number): void {
    for (const u of this.rateNonzero) {
      const z = u.rateLastBucket + 1;
      if (z >= b) continue;
      const m = this.buckets.get(z);
      if (m !== undefined && m.has(u)) continue;
      this.schedule(this.op(K_CTR_SET, z * this.rateNs, R_MID, 0, null, u, CTR_RATE, '', null, 0));
      this.rateNonzero.delete(u);
    }
  }

  private flushTo(mark: number): void {
    const heap = this.heap;
    for (;;) {
      const o = heap.peek();
      if (o === undefined) return;
      const over = heap.size > this.maxOps;
      if (o.ts > mark && !over) return;
      if (o.k === K_ITEM_BEGIN && !o.item!.filled && !o.item!.dead) {
        // its record / exit has not come yet: wait, up to maxHold
        if (!over && mark !== Infinity && o.ts >= this.latest - this.holdNs) return;
        this.abandon(o.item!);
        if (heap.peek() !== o) continue; // it scheduled something first (a SET_MODE instant)
      }
      if (o.ts > mark) {
        // buffer full: written early; intervals up to here are as complete as they will get
        this.stats.forcedFlushes++;
        const fm = o.ts + this.rateNs;
        if (fm > this.fillMark) {
          this.fillMark = fm;
          this.finalizeBuckets(fm);
          if (heap.peek() !== o) continue;
        }
      }
      heap.pop();
      this.run(o);
    }
  }

  /** A placeholder whose fault record / ioctl exit did not come in time. */
  private abandon(it: SliceItem): void {
    if (it.kind === 'fault') {
      it.dead = true;
      removeIdx(this.faultIdx, it.tid, it);
      this.stats.abandonedFaults++;
      return;
    }
    // an ioctl without exit: written as a zero-length slice from its entry
    this.stats.ioctlsWithoutExit++;
    it.filled = true;
    it.end = it.start;
    const e = it.ioctl;
    it.ann = e ? this.ioctlAnn(e, e.args) : [];
    it.ann.push(['exit_seen', false]);
    if (e !== null && e.name === 'UFFDIO_SET_MODE') this.setModeInstant(it, e, e.args, this.registry.lifetimeAt(e.uffd, it.start), undefined, false);
  }

  private run(o: Op): void {
    const seq = this.main;
    switch (o.k) {
      case K_ITEM_BEGIN: {
        const it = o.item!;
        if (it.dead) return;
        this.beginItem(it, o.ts);
        return;
      }
      case K_STAGE_BEGIN:
        this.beginStage(o.item!, o.ts);
        return;
      case K_END: {
        const it = o.item;
        // a SET_MODE's woken count is final here: the woken faults' records hold output back
        const ann: Ann[] | null = it !== null && it.kind === 'ioctl' && it.ioctl?.name === 'UFFDIO_SET_MODE' ? [['waiters_woken', it.woken]] : null;
        this.writeEvent(seq, o.ts, o.lane!.track, TYPE_SLICE_END, null, null, ann);
        if (o.stage !== null) {
          // the next stage, when it starts where this one ended
          const st = it!.stages!;
          if (it!.nextStage < st.length && st[it!.nextStage].start === o.ts) this.beginStage(it!, o.ts);
        } else if (it !== null) this.doneItem(it);
        return;
      }
      case K_MODE_BEGIN: {
        this.stats.modeSpans++;
        this.writeEvent(seq, o.ts, this.uffdTrack(o.uffd!), TYPE_SLICE_BEGIN, o.name, 'uffd.mode', o.ann);
        return;
      }
      case K_MODE_END:
        this.writeEvent(seq, o.ts, this.uffdTrack(o.uffd!), TYPE_SLICE_END, null, null, null);
        return;
      case K_SETMODE: {
        const it = o.item!;
        const ann = o.ann!;
        ann.push(['waiters_woken', it.woken]);
        this.stats.setModeInstants++;
        this.writeEvent(seq, o.ts, this.uffdTrack(o.uffd!), TYPE_INSTANT, o.name, 'uffd.mode', ann);
        it.setModeOp = null;
        if (it.begun && it.lane === null) this.doneItem(it);
        return;
      }
      case K_CTR_DELTA: {
        const u = o.uffd!;
        u.ctrValue[o.which] += o.value;
        this.writeCounter(seq, o.ts, u, o.which, u.ctrValue[o.which]);
        return;
      }
      case K_CTR_SET:
        this.writeCounter(seq, o.ts, o.uffd!, o.which, o.value);
        return;
      case K_INSTANT:
        this.writeEvent(seq, o.ts, o.uffd ? this.uffdTrack(o.uffd) : this.root, TYPE_INSTANT, o.name, 'uffdscope', o.ann);
        return;
    }
  }

  private endOp(ts: number, order: number, lane: Lane, item: SliceItem | null): Op {
    const o = this.op(K_END, ts, R_END, order, item);
    o.lane = lane;
    return o;
  }

  private beginItem(it: SliceItem, ts: number): void {
    const th = this.thread(it.pid, it.tid, it.comm);
    const lane = this.pickLane(th, ts, it.end);
    it.begun = true;
    if (lane === null) {
      this.stats.laneOverflow++;
      this.resolveLinksUnwritten(it);
      this.doneItem(it);
      return;
    }
    it.lane = lane;
    lane.stack.push({ end: it.end, item: it.stages ? it : null });
    let flows: number[] | null = null;
    let term: number[] | null = null;
    if (it.links !== null) {
      for (const l of it.links) {
        if (!l.started) {
          l.started = true;
          (flows ??= []).push(l.id);
        } else {
          (term ??= []).push(l.id);
          this.stats.flows++;
        }
      }
    }
    this.writeEvent(this.main, ts, lane.track, TYPE_SLICE_BEGIN, it.name, it.cat, it.ann, flows, term);
    const order = ++this.beginOrder;
    if (it.kind === 'fault') this.stats.faultSlices++;
    else this.stats.ioctlSlices++;
    if (it.end === ts && it.stages === null && it.setModeOp === null) {
      // zero length: ends now (every end at this time is written already)
      this.writeEvent(this.main, ts, lane.track, TYPE_SLICE_END, null, null, null);
      lane.stack.pop();
      this.doneItem(it);
      return;
    }
    this.schedule(this.endOp(it.end, order, lane, it));
    const stages = it.stages;
    if (stages !== null) {
      // the first stage now if it starts with the slice; later ones follow the
      // previous stage's end, or get their own begin when there is a gap
      let prevEnd = ts;
      for (let i = 0; i < stages.length; i++) {
        if (stages[i].start !== prevEnd) {
          const so = this.op(K_STAGE_BEGIN, stages[i].start, R_BEGIN, 0, it);
          this.schedule(so);
        }
        prevEnd = stages[i].end;
      }
      if (stages[0].start === ts) this.beginStage(it, ts);
    }
  }

  private beginStage(it: SliceItem, ts: number): void {
    const st = it.stages![it.nextStage++];
    const lane = it.lane!;
    const stk = lane.stack;
    while (stk.length && stk[stk.length - 1].item !== it && stk[stk.length - 1].end <= ts) stk.pop();
    stk.push({ end: st.end, item: null });
    this.writeEvent(this.main, ts, lane.track, TYPE_SLICE_BEGIN, st.name, 'uffd.stage', null);
    const eo = this.endOp(st.end, ++this.beginOrder, lane, it);
    eo.stage = st;
    this.schedule(eo);
  }

  /** A flow whose other end was never written: nothing to terminate. */
  private resolveLinksUnwritten(it: SliceItem): void {
    if (it.links === null) return;
    for (const l of it.links) if (!l.started) l.started = true;
    it.links = null;
  }

  private doneItem(it: SliceItem): void {
    if (it.setModeOp !== null) {
      it.lane = null;
      return; // the SET_MODE instant still needs the woken count
    }
    if (it.kind === 'ioctl') removeIdx(this.ioctlIdx, it.tid, it);
  }

  private pickLane(th: ThreadState, s: number, e: number): Lane | null {
    for (let i = 0; ; i++) {
      let lane = th.lanes[i];
      if (lane === undefined) {
        if (i >= MAX_LANES) return null;
        const track = this.newTrack(th.track, { name: `${this.prefix}${th.comm} ${th.tid} (overlap ${i})` });
        lane = { track, stack: [], lastEnd: -Infinity };
        th.lanes.push(lane);
      }
      const st = lane.stack;
      while (st.length && st[st.length - 1].end <= s) st.pop();
      if (st.length === 0) return lane;
      const top = st[st.length - 1];
      let limit = top.end;
      const ti = top.item;
      if (ti !== null && ti.stages !== null && ti.nextStage < ti.stages.length) limit = Math.min(limit, ti.stages[ti.nextStage].start);
      if (e <= limit) return lane;
    }
  }

  // ---- late records ----

  private emitLate(it: SliceItem): void {
    this.resolveLinksUnwritten(it);
    if (it.kind === 'ioctl') removeIdx(this.ioctlIdx, it.tid, it);
    const th = this.thread(it.pid, it.tid, it.comm);
    let lane: Lane | undefined;
    for (const l of th.lateLanes) if (l.lastEnd <= it.start) {
      lane = l;
      break;
    }
    if (lane === undefined) {
      if (th.lateLanes.length >= MAX_LATE_LANES) {
        this.stats.lateDropped++;
        return;
      }
      const n = th.lateLanes.length;
      lane = { track: this.newTrack(th.track, { name: `${this.prefix}${th.comm} ${th.tid} (late records${n ? ' ' + n : ''})` }), stack: [], lastEnd: -Infinity };
      th.lateLanes.push(lane);
    }
    let seq: Seq | undefined;
    for (const q of this.lateSeqs) if (q.lastTs <= it.start) {
      seq = q;
      break;
    }
    if (seq === undefined) {
      if (this.lateSeqs.length >= MAX_LATE_SEQS) {
        this.stats.lateDropped++;
        return;
      }
      seq = new Seq(++this.nextSeqId);
      this.lateSeqs.push(seq);
      this.stats.sequences++;
    }
    this.stats.late++;
    lane.lastEnd = it.end;
    this.writeEvent(seq, it.start, lane.track, TYPE_SLICE_BEGIN, it.name, it.cat, [...it.ann, ['late', true]]);
    if (it.stages) {
      for (const st of it.stages) {
        this.writeEvent(seq, st.start, lane.track, TYPE_SLICE_BEGIN, st.name, 'uffd.stage', null);
        this.writeEvent(seq, st.end, lane.track, TYPE_SLICE_END, null, null, null);
      }
    }
    this.writeEvent(seq, it.end, lane.track, TYPE_SLICE_END, null, null, null);
    if (it.kind === 'fault') this.stats.faultSlices++;
    else this.stats.ioctlSlices++;
    const sm = it.setModeOp;
    if (sm !== null && sm.uffd !== null) {
      it.setModeOp = null;
      if (sm.ts >= seq.lastTs) {
        sm.ann!.push(['waiters_woken', it.woken], ['late', true]);
        this.stats.setModeInstants++;
        this.writeEvent(seq, sm.ts, this.uffdTrack(sm.uffd), TYPE_INSTANT, sm.name, 'uffd.mode', sm.ann);
      }
    }
  }

  // ---- tracks ----

  private newTrack(parent: Track | null, desc: Record<string, unknown>): Track {
    const uuid = ++this.trackSeq;
    const d: Record<string, unknown> = { uuid, ...desc };
    if (parent) d.parent_uuid = parent.uuid;
    return { uuid, emitted: false, parent, desc: d };
  }

  private ensureTrack(t: Track, seq: Seq): void {
    if (t.emitted) return;
    if (t.parent) this.ensureTrack(t.parent, seq);
    t.emitted = true;
    if (t.mainComm !== undefined) (t.desc.process as Record<string, unknown>).process_name = `${this.prefix}${t.mainComm}`;
    this.sink.write({ trusted_packet_sequence_id: seq.id, track_descriptor: t.desc });
  }

  private process(pid: number, comm: string): Track {
    let t = this.processes.get(pid);
    if (t === undefined) {
      t = this.newTrack(null, { process: { pid, process_name: `${this.prefix}${comm}` } });
      this.processes.set(pid, t);
    }
    return t;
  }

  /** A fault or ioctl slice begins on its thread: indexed for its end, and
   *  its begin scheduled (or, older than what was written, marked late). */
  private openSlice(it: SliceItem, idx: Idx): void {
    this.thread(it.pid, it.tid, it.comm);
    addIdx(idx, it.tid, it);
    if (it.start < this.main.lastTs) {
      it.late = true;
      return;
    }
    this.pend.push(it);
    this.schedule(this.op(K_ITEM_BEGIN, it.start, R_BEGIN, 0, it));
  }

  private thread(pid: number, tid: number, comm: string): ThreadState {
    let th = this.threads.get(tid);
    if (th === undefined || th.pid !== pid) {
      const p = this.process(pid, comm);
      // the process is named after its main thread when that is seen in time
      if (tid === pid && !p.emitted) p.mainComm = comm;
      const track = this.newTrack(p, { thread: { pid, tid, thread_name: `${this.prefix}${comm}` } });
      th = { pid, tid, comm, track, lanes: [{ track, stack: [], lastEnd: -Infinity }], lateLanes: [] };
      this.threads.set(tid, th);
    }
    return th;
  }

  /** A uffd's tracks (null past MAX_UFFDS). */
  private uffdState(info: UffdInfo): UffdState | null {
    let u = this.uffds.get(info.key);
    if (u === undefined) {
      if (this.uffds.size >= MAX_UFFDS) return null;
      const created = info.createdTs === undefined ? '' : ` created +${formatCreated(info.createdTs, this.startTs)}s`;
      u = new UffdState(info, `uffd ${info.idHex}${created}`);
      this.uffds.set(info.key, u);
    }
    return u;
  }

  private uffdTrack(u: UffdState): Track {
    if (u.track === null) {
      const info = u.info;
      const parent = info.ownerPid !== null ? this.process(info.ownerPid, info.ownerComm ?? String(info.ownerPid)) : this.root;
      u.track = this.newTrack(parent, { name: `${this.prefix}${u.label} mode` });
    }
    return u.track;
  }

  private counterTrack(u: UffdState, which: number): Track {
    let t = u.ctr[which];
    if (t === null) {
      const what = which === CTR_RATE ? 'faults/s' : which === CTR_PENDING ? 'blocked faults' : 'async-resolved faults';
      t = this.newTrack(this.uffdTrack(u), { name: `${this.prefix}${u.label} ${what}`, counter: which === CTR_RATE ? {} : { unit: COUNTER_UNIT_COUNT } });
      u.ctr[which] = t;
    }
    return t;
  }

  // ---- packets ----

  // The packet, track event and debug annotation objects are reused: protobufjs
  // encodes synchronously in sink.write(), and fields left undefined are not
  // written. (Fewer short-lived objects: the export is allocation bound.)
  private readonly ev: Record<string, unknown> = {};
  private readonly pkt: Record<string, unknown> = {};
  private readonly das: Array<Record<string, unknown>> = [];
  private readonly daPool: Array<Record<string, unknown>> = [];
  private readonly catArr = new Map<number, number[]>();

  private resetEvent(type: number, track: number): Record<string, unknown> {
    const ev = this.ev;
    ev.type = type;
    ev.track_uuid = track;
    ev.name_iid = undefined;
    ev.category_iids = undefined;
    ev.debug_annotations = undefined;
    ev.flow_ids = undefined;
    ev.terminating_flow_ids = undefined;
    ev.counter_value = undefined;
    ev.double_counter_value = undefined;
    return ev;
  }

  private writeCounter(seq: Seq, ts: number, u: UffdState, which: number, value: number): void {
    const t = this.counterTrack(u, which);
    this.ensureTrack(t, seq);
    this.stats.counterSamples++;
    const ev = this.resetEvent(TYPE_COUNTER, t.uuid);
    if (Number.isInteger(value)) ev.counter_value = value;
    else ev.double_counter_value = value;
    this.packet(seq, ts, ev, null, false);
  }

  private writeEvent(
    seq: Seq,
    ts: number,
    track: Track,
    type: number,
    name: string | null,
    cat: string | null,
    ann: Ann[] | null,
    flows: number[] | null = null,
    term: number[] | null = null,
  ): void {
    this.ensureTrack(track, seq);
    const ev = this.resetEvent(type, track.uuid);
    let interned: PendingInterned | null = null;
    if (name !== null) {
      let iid = seq.names.get(name);
      if (iid === undefined) {
        iid = seq.names.size + 1;
        seq.names.set(name, iid);
        interned ??= {};
        (interned.event_names ??= []).push({ iid, name });
      }
      ev.name_iid = iid;
    }
    if (cat !== null) {
      let iid = seq.cats.get(cat);
      if (iid === undefined) {
        iid = seq.cats.size + 1;
        seq.cats.set(cat, iid);
        interned ??= {};
        (interned.event_categories ??= []).push({ iid, name: cat });
      }
      let arr = this.catArr.get(iid);
      if (arr === undefined) this.catArr.set(iid, (arr = [iid]));
      ev.category_iids = arr;
    }
    const n = ann === null ? 0 : ann.length;
    if (n > 0) {
      const das = this.das;
      das.length = n;
      for (let i = 0; i < n; i++) {
        const k = ann![i][0];
        const v = ann![i][1];
        let iid = seq.anns.get(k);
        if (iid === undefined) {
          iid = seq.anns.size + 1;
          seq.anns.set(k, iid);
          interned ??= {};
          (interned.debug_annotation_names ??= []).push({ iid, name: k });
        }
        let da = this.daPool[i];
        if (da === undefined) this.daPool.push((da = {}));
        da.name_iid = iid;
        da.string_value = undefined;
        da.bool_value = undefined;
        da.int_value = undefined;
        da.double_value = undefined;
        if (typeof v === 'string') da.string_value = v;
        else if (typeof v === 'boolean') da.bool_value = v;
        else if (Number.isInteger(v)) da.int_value = v;
        else da.double_value = v;
        das[i] = da;
      }
      ev.debug_annotations = das;
    }
    if (flows !== null) ev.flow_ids = flows;
    if (term !== null) ev.terminating_flow_ids = term;
    this.packet(seq, ts, ev, interned, name !== null || cat !== null || n > 0);
  }

  private packet(seq: Seq, ts: number, ev: Record<string, unknown>, interned: PendingInterned | null, needsState: boolean): void {
    if (ts < seq.lastTs) ts = seq.lastTs; // never happens by construction; keeps the sequence monotonic
    seq.lastTs = ts;
    const p = this.pkt;
    p.timestamp = ts;
    p.trusted_packet_sequence_id = seq.id;
    p.track_event = ev;
    p.first_packet_on_sequence = undefined;
    p.sequence_flags = undefined;
    p.interned_data = undefined;
    let flags = needsState ? SEQ_NEEDS_INCREMENTAL_STATE : 0;
    if (!seq.started) {
      seq.started = true;
      flags |= SEQ_INCREMENTAL_STATE_CLEARED;
      p.first_packet_on_sequence = true;
    }
    if (flags) p.sequence_flags = flags;
    if (interned !== null) p.interned_data = interned;
    this.sink.write(p);
  }
}

// ---- per-thread indexes: tid -> start ts -> item ----

type Idx = Map<number, Map<number, SliceItem>>;

function addIdx(m: Idx, tid: number, it: SliceItem): void {
  let a = m.get(tid);
  if (a === undefined) m.set(tid, (a = new Map()));
  a.set(it.start, it);
  if (a.size > 4096) {
    // bound: entries of a thread that never completed (lost exits)
    for (const k of a.keys()) {
      a.delete(k);
      break;
    }
  }
}

function findIdx(m: Idx, tid: number, start: number): SliceItem | undefined {
  return m.get(tid)?.get(start);
}

function takeIdx(m: Idx, tid: number, start: number): SliceItem | undefined {
  const a = m.get(tid);
  if (a === undefined) return undefined;
  const it = a.get(start);
  if (it !== undefined) {
    a.delete(start);
    if (a.size === 0) m.delete(tid);
  }
  return it;
}

function removeIdx(m: Idx, tid: number, it: SliceItem): void {
  const a = m.get(tid);
  if (a === undefined || a.get(it.start) !== it) return;
  a.delete(it.start);
  if (a.size === 0) m.delete(tid);
}
