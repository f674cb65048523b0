// Streaming Perfetto trace writer: decoded events and the analysis's results in, a
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
// How it is ordered and kept within bounds: scheduler.ts; tracks: tracks.ts;
// packets: packets.ts.

import { uffdId, type IoctlArgs, type IoctlEvent, type UffdCreateEvent, type UffdEvent } from '../../src/events/types.js';
import { bitNames, errnoName, type Uapi } from '../../src/events/uapi.js';
import type { FaultRecord } from '../../src/model/faultTypes.js';
import type { UffdRegistry } from '../../src/model/uffdRegistry.js';
import type { RegistryResult, SetModeAttempt, UffdInfo } from '../../src/model/uffdTypes.js';
import { onResults, type AnalysisResult } from '../../src/model/analysisResults.js';
import type { FaultLifecycle } from '../../src/model/faultLifecycle.js';
import type { RecordingHeader } from '../../src/recording/format.js';
import { ARG_KINDS } from '../../src/kernel/uffdIoctls.js';
import type { Ann, AnnValue } from './packets.js';
import type { PerfettoExportStats } from './exportStats.js';
import { K_CTR_DELTA, K_INSTANT, K_ITEM_BEGIN, K_MODE_BEGIN, K_MODE_END, K_SETMODE, R_BEGIN, R_MID, SliceItem, addIdx, findIdx, takeIdx, type FlowLink, type Stage } from './items.js';
import { CTR_ASYNC, CTR_PENDING } from './tracks.js';
import { ReorderScheduler, type ReorderOptions } from './scheduler.js';

export type { PerfettoExportStats };

export interface PerfettoWriterOptions extends ReorderOptions {
  uapi: Uapi;
  /** the analysis whose results the trace draws (the writer only listens to it) */
  analysis: { lifecycle: FaultLifecycle; registry: UffdRegistry };
  /** the recording header: generated marker, clock snapshot (boot -> realtime) */
  header?: RecordingHeader | null;
}

const STAGE_NAMES = ['queue', 'service', 'wake'];

function hex(v: bigint | number): string {
  return `0x${v.toString(16)}`;
}

function bigToAnn(v: bigint): AnnValue {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}

/**
 * Streams a Perfetto trace of an analysis to `out`. Push each decoded event
 * into the analysis, then give it to event(): the writer draws the event and
 * the results the analysis reported for it. Finish the analysis, then close().
 */
export class PerfettoWriter extends ReorderScheduler {
  private readonly uapi: Uapi;
  private readonly registry: UffdRegistry;
  /** results of the events not drawn yet, in the order the analysis reported them */
  private results: AnalysisResult[] = [];
  /** the latest ioctl exit the analysis reported */
  private completed: Extract<RegistryResult, { type: 'ioctl_completed' }> | null = null;
  private readonly generated: RecordingHeader['generated'];
  private flowSeq = 0;
  private started = false;
  private closed = false;

  constructor(out: string, opts: PerfettoWriterOptions) {
    super(out, opts.header ?? null, opts);
    this.uapi = opts.uapi;
    this.registry = opts.analysis.registry;
    this.generated = opts.header?.generated ?? null;
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
    this.drain();
    this.closeFile();
    this.closed = true;
    return this.stats;
  }

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
      this.countFault(u, r.faultTs);
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

  /** An ioctl without exit: written as a zero-length slice from its entry. */
  protected abandonIoctl(it: SliceItem): void {
    it.filled = true;
    it.end = it.start;
    const e = it.ioctl;
    it.ann = e ? this.ioctlAnn(e, e.args) : [];
    it.ann.push(['exit_seen', false]);
    if (e !== null && e.name === 'UFFDIO_SET_MODE') this.setModeInstant(it, e, e.args, this.registry.lifetimeAt(e.uffd, it.start), undefined, false);
  }
}
