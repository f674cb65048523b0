// Reads a Perfetto trace written by PerfettoWriter back with the same protos
// and checks its structure the way trace processor relies on it:
//   - every track an event names was described (TrackDescriptor) before it;
//   - per (sequence, track) SLICE_BEGIN / SLICE_END balance and nest;
//   - timestamps never go back on a sequence;
//   - interned iids are defined (on the packet's sequence, since its last
//     SEQ_INCREMENTAL_STATE_CLEARED) before use; packets flagged
//     SEQ_NEEDS_INCREMENTAL_STATE come after a clear;
//   - every flow id starts once and terminates once, later or at the same
//     time, one end on a fault slice and the other on an ioctl slice;
//   - stage slices (queue / service / wake) sit inside a fault slice.
// Used by the tests; also handy on a trace someone reports as broken.
import { closeSync, openSync, readSync } from 'node:fs';
import { loadPerfettoProto, TYPE_COUNTER, TYPE_INSTANT, TYPE_SLICE_BEGIN, TYPE_SLICE_END } from './proto.js';

export interface DecodedSlice {
  seq: number;
  track: number;
  name: string;
  category: string;
  start: number;
  end: number;
  depth: number;
  parent: DecodedSlice | null;
  args: Record<string, string | number | boolean>;
  flowIds: number[];
  terminatingFlowIds: number[];
}

export interface DecodedInstant {
  seq: number;
  track: number;
  ts: number;
  name: string;
  args: Record<string, string | number | boolean>;
}

export interface DecodedTrack {
  uuid: number;
  parent: number | null;
  name: string | null;
  pid?: number;
  tid?: number;
  processName?: string;
  threadName?: string;
  counter: boolean;
}

export interface PerfettoValidation {
  errors: string[];
  packets: number;
  sequences: number[];
  tracks: Map<number, DecodedTrack>;
  slices: DecodedSlice[];
  instants: DecodedInstant[];
  counters: Map<number, Array<{ ts: number; value: number }>>;
  flows: number;
  clockSnapshot: boolean;
}

interface SeqState {
  valid: boolean;
  lastTs: number;
  names: Map<number, string>;
  cats: Map<number, string>;
  anns: Map<number, string>;
}

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Iterates the Trace.packet fields of a trace file without loading it whole. */
function* packetsOf(path: string): Generator<Uint8Array> {
  const fd = openSync(path, 'r');
  try {
    let buf = Buffer.alloc(0);
    const chunk = Buffer.alloc(1 << 20);
    let eof = false;
    for (;;) {
      // tag + varint length
      let pos = 0;
      while (!eof && buf.length < 16) {
        const n = readSync(fd, chunk, 0, chunk.length, null);
        if (n === 0) eof = true;
        else buf = Buffer.concat([buf, chunk.subarray(0, n)]);
      }
      if (buf.length === 0) return;
      if (buf[0] !== 0x0a) throw new Error(`not a Trace.packet field (tag 0x${buf[0].toString(16)})`);
      pos = 1;
      let len = 0;
      let shift = 0;
      for (;;) {
        if (pos >= buf.length) throw new Error('truncated length');
        const b = buf[pos++];
        len += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if ((b & 0x80) === 0) break;
      }
      while (!eof && buf.length < pos + len) {
        const n = readSync(fd, chunk, 0, chunk.length, null);
        if (n === 0) eof = true;
        else buf = Buffer.concat([buf, chunk.subarray(0, n)]);
      }
      if (buf.length < pos + len) throw new Error('truncated packet');
      yield buf.subarray(pos, pos + len);
      buf = buf.subarray(pos + len);
    }
  } finally {
    closeSync(fd);
  }
}

export function validatePerfettoTrace(path: string, opts: { maxErrors?: number } = {}): PerfettoValidation {
  const { TracePacket } = loadPerfettoProto();
  const maxErrors = opts.maxErrors ?? 50;
  const errors: string[] = [];
  const err = (m: string) => {
    if (errors.length < maxErrors) errors.push(m);
  };
  const seqs = new Map<number, SeqState>();
  const tracks = new Map<number, DecodedTrack>();
  const stacks = new Map<string, DecodedSlice[]>();
  const slices: DecodedSlice[] = [];
  const instants: DecodedInstant[] = [];
  const counters = new Map<number, Array<{ ts: number; value: number }>>();
  const flowStart = new Map<number, Array<{ slice: DecodedSlice }>>();
  const flowEnd = new Map<number, Array<{ slice: DecodedSlice }>>();
  let packets = 0;
  let clockSnapshot = false;

  for (const bytes of packetsOf(path)) {
    packets++;
    const p = TracePacket.toObject(TracePacket.decode(bytes), { longs: Number, enums: Number, defaults: false }) as Obj;
    const sid: number = p.trusted_packet_sequence_id ?? 0;
    let s = seqs.get(sid);
    if (s === undefined) {
      s = { valid: false, lastTs: -Infinity, names: new Map(), cats: new Map(), anns: new Map() };
      seqs.set(sid, s);
    }
    const flags: number = p.sequence_flags ?? 0;
    if (flags & 1 || p.incremental_state_cleared) {
      s.valid = true;
      s.names.clear();
      s.cats.clear();
      s.anns.clear();
    }
    if (flags & 2 && !s.valid) err(`packet ${packets}: needs incremental state but sequence ${sid} was never cleared`);
    const idata: Obj | undefined = p.interned_data;
    if (idata) {
      const add = (m: Map<number, string>, list: Obj[] | undefined, what: string) => {
        for (const x of list ?? []) {
          const old = m.get(x.iid);
          if (old !== undefined && old !== x.name) err(`packet ${packets}: ${what} iid ${x.iid} redefined ("${old}" -> "${x.name}")`);
          m.set(x.iid, x.name);
        }
      };
      add(s.names, idata.event_names, 'event name');
      add(s.cats, idata.event_categories, 'category');
      add(s.anns, idata.debug_annotation_names, 'annotation name');
    }
    if (p.clock_snapshot) clockSnapshot = true;
    if (p.timestamp !== undefined) {
      if (p.timestamp < s.lastTs) err(`packet ${packets}: timestamp ${p.timestamp} before ${s.lastTs} on sequence ${sid}`);
      s.lastTs = Math.max(s.lastTs, p.timestamp);
    }
    const td: Obj | undefined = p.track_descriptor;
    if (td) {
      const uuid: number = td.uuid;
      if (td.parent_uuid !== undefined && !tracks.has(td.parent_uuid)) err(`track ${uuid}: parent ${td.parent_uuid} not described before it`);
      tracks.set(uuid, {
        uuid,
        parent: td.parent_uuid ?? null,
        name: td.name ?? null,
        pid: td.process?.pid ?? td.thread?.pid,
        tid: td.thread?.tid,
        processName: td.process?.process_name,
        threadName: td.thread?.thread_name,
        counter: td.counter !== undefined,
      });
    }
    const te: Obj | undefined = p.track_event;
    if (!te) continue;
    const ts: number = p.timestamp;
    if (ts === undefined) err(`packet ${packets}: track event without timestamp`);
    const track: number = te.track_uuid ?? 0;
    if (!tracks.has(track)) err(`packet ${packets}: track ${track} used before its descriptor`);
    let name = te.name ?? '';
    if (te.name_iid !== undefined) {
      const n = s.names.get(te.name_iid);
      if (n === undefined) err(`packet ${packets}: event name iid ${te.name_iid} not defined on sequence ${sid}`);
      name = n ?? '';
    }
    let category = (te.categories ?? []).join(',');
    for (const c of te.category_iids ?? []) {
      const n = s.cats.get(c);
      if (n === undefined) err(`packet ${packets}: category iid ${c} not defined on sequence ${sid}`);
      category = category ? `${category},${n}` : (n ?? '');
    }
    const args: Record<string, string | number | boolean> = {};
    for (const da of (te.debug_annotations ?? []) as Obj[]) {
      let an: string | undefined = da.name;
      if (da.name_iid !== undefined) {
        an = s.anns.get(da.name_iid);
        if (an === undefined) err(`packet ${packets}: annotation name iid ${da.name_iid} not defined on sequence ${sid}`);
      }
      const v = da.string_value ?? da.int_value ?? da.uint_value ?? da.double_value ?? da.bool_value;
      args[an ?? '?'] = v;
    }
    const key = `${sid}/${track}`;
    const type: number = te.type;
    if (type === TYPE_SLICE_BEGIN) {
      let st = stacks.get(key);
      if (st === undefined) stacks.set(key, (st = []));
      const parent = st.length ? st[st.length - 1] : null;
      const sl: DecodedSlice = {
        seq: sid,
        track,
        name,
        category,
        start: ts,
        end: NaN,
        depth: st.length,
        parent,
        args,
        flowIds: te.flow_ids ?? [],
        terminatingFlowIds: te.terminating_flow_ids ?? [],
      };
      st.push(sl);
      slices.push(sl);
      for (const f of sl.flowIds) {
        const a = flowStart.get(f) ?? [];
        a.push({ slice: sl });
        flowStart.set(f, a);
      }
      for (const f of sl.terminatingFlowIds) {
        const a = flowEnd.get(f) ?? [];
        a.push({ slice: sl });
        flowEnd.set(f, a);
      }
    } else if (type === TYPE_SLICE_END) {
      const st = stacks.get(key);
      const sl = st?.pop();
      if (sl === undefined) err(`packet ${packets}: SLICE_END on track ${track} (sequence ${sid}) with no open slice`);
      else {
        sl.end = ts;
        Object.assign(sl.args, args);
        if (sl.parent && ts > sl.parent.end) err(`slice "${sl.name}" ends after its parent`);
      }
    } else if (type === TYPE_INSTANT) {
      instants.push({ seq: sid, track, ts, name, args });
    } else if (type === TYPE_COUNTER) {
      const t = tracks.get(track);
      if (t && !t.counter) err(`packet ${packets}: counter value on non-counter track ${track}`);
      const a = counters.get(track) ?? [];
      a.push({ ts, value: te.counter_value ?? te.double_counter_value ?? 0 });
      counters.set(track, a);
    } else err(`packet ${packets}: track event of type ${type}`);
  }
  for (const [key, st] of stacks) if (st.length) err(`track ${key}: ${st.length} slice(s) never ended (first: "${st[0].name}")`);

  // stages inside fault slices
  for (const sl of slices) {
    if (sl.category !== 'uffd.stage') continue;
    const p = sl.parent;
    if (p === null || !p.name.startsWith('uffd fault')) err(`stage slice "${sl.name}" at ${sl.start} is not inside a fault slice`);
    else if (sl.start < p.start || sl.end > p.end) err(`stage slice "${sl.name}" at ${sl.start} outside its fault slice`);
  }
  // flows: one start, one end, fault <-> ioctl, in time order
  let flows = 0;
  const isFault = (s: DecodedSlice) => s.category === 'uffd.fault';
  const isIoctl = (s: DecodedSlice) => s.category === 'uffd.ioctl';
  for (const [id, starts] of flowStart) {
    const ends = flowEnd.get(id) ?? [];
    if (starts.length !== 1 || ends.length !== 1) {
      err(`flow ${id}: ${starts.length} start(s), ${ends.length} terminating end(s)`);
      continue;
    }
    const a = starts[0].slice;
    const b = ends[0].slice;
    if (!((isFault(a) && isIoctl(b)) || (isIoctl(a) && isFault(b)))) err(`flow ${id}: from "${a.name}" to "${b.name}" (want a fault and an ioctl)`);
    if (b.start < a.start) err(`flow ${id}: terminates (${b.start}) before it starts (${a.start})`);
    flows++;
  }
  for (const id of flowEnd.keys()) if (!flowStart.has(id)) err(`flow ${id}: terminates but never starts`);

  return { errors, packets, sequences: [...seqs.keys()].filter((k) => k !== 0), tracks, slices, instants, counters, flows, clockSnapshot };
}
