// The trace's tracks: a process and thread track per thread seen, lanes for
// slices that would not nest on one track, and per uffd a mode track with
// its counter tracks. Descriptors are written on first use (packets.ts).

import type { RecordingHeader } from '../../src/recording/format.js';
import type { UffdInfo } from '../../src/model/uffdTypes.js';
import { formatCreated } from '../../src/model/uffdIdentity.js';
import { PacketWriter, type Seq, type Track } from './packets.js';
import { COUNTER_UNIT_COUNT } from './proto.js';

/** UffdState counters */
export const CTR_RATE = 0;
export const CTR_PENDING = 1;
export const CTR_ASYNC = 2;

const MAX_LANES = 32;
const MAX_LATE_LANES = 16;
const MAX_UFFDS = 4096;

/** What lane picking reads of a slice on a lane (a SliceItem, items.ts, which
 *  imports this file): its stages, and the next one not begun yet. */
export interface StagedSlice {
  readonly stages: ReadonlyArray<{ readonly start: number }> | null;
  readonly nextStage: number;
}

interface StackEntry {
  end: number;
  /** the fault item whose stages may still begin under it */
  item: StagedSlice | null;
}

export interface Lane {
  track: Track;
  stack: StackEntry[];
  /** late lanes: end of the last slice written */
  lastEnd: number;
}

export interface ThreadState {
  pid: number;
  tid: number;
  comm: string;
  track: Track;
  lanes: Lane[];
  lateLanes: Lane[];
}

/** One uffd (a context address in one lifetime: UffdIdentity) and its tracks. */
export class UffdState {
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

export class TrackWriter extends PacketWriter {
  protected readonly root: Track;
  private trackSeq = 0;
  private readonly processes = new Map<number, Track>();
  private readonly threads = new Map<number, ThreadState>();
  /** by UffdInfo.key */
  protected readonly uffds = new Map<string, UffdState>();
  /** first event time: uffd creation times are named relative to it */
  protected startTs = 0;

  constructor(out: string, force: boolean, header: RecordingHeader | null) {
    super(out, force, header);
    this.root = this.newTrack(null, { name: `${this.prefix}uffdscope` });
  }

  private newTrack(parent: Track | null, desc: Record<string, unknown>): Track {
    const uuid = ++this.trackSeq;
    const d: Record<string, unknown> = { uuid, ...desc };
    if (parent) d.parent_uuid = parent.uuid;
    return { uuid, emitted: false, parent, desc: d };
  }

  private process(pid: number, comm: string): Track {
    let t = this.processes.get(pid);
    if (t === undefined) {
      t = this.newTrack(null, { process: { pid, process_name: `${this.prefix}${comm}` } });
      this.processes.set(pid, t);
    }
    return t;
  }

  protected thread(pid: number, tid: number, comm: string): ThreadState {
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

  protected pickLane(th: ThreadState, s: number, e: number): Lane | null {
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

  /** A late lane of the thread free from `start` (a new one if none); null past MAX_LATE_LANES. */
  protected lateLane(th: ThreadState, start: number): Lane | null {
    for (const l of th.lateLanes) if (l.lastEnd <= start) return l;
    if (th.lateLanes.length >= MAX_LATE_LANES) return null;
    const n = th.lateLanes.length;
    const lane = { track: this.newTrack(th.track, { name: `${this.prefix}${th.comm} ${th.tid} (late records${n ? ' ' + n : ''})` }), stack: [], lastEnd: -Infinity };
    th.lateLanes.push(lane);
    return lane;
  }

  /** A uffd's tracks (null past MAX_UFFDS). */
  protected uffdState(info: UffdInfo): UffdState | null {
    let u = this.uffds.get(info.key);
    if (u === undefined) {
      if (this.uffds.size >= MAX_UFFDS) return null;
      const created = info.createdTs === undefined ? '' : ` created +${formatCreated(info.createdTs, this.startTs)}s`;
      u = new UffdState(info, `uffd ${info.idHex}${created}`);
      this.uffds.set(info.key, u);
    }
    return u;
  }

  protected uffdTrack(u: UffdState): Track {
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

  protected writeCounterOf(seq: Seq, ts: number, u: UffdState, which: number, value: number): void {
    this.writeCounter(seq, ts, this.counterTrack(u, which), value);
  }
}
