// Trace packets: TracePackets (track descriptors, track events, counters)
// encoded with the Perfetto protos, with names, categories and annotation
// keys interned per packet sequence, buffered into the output file.

import { closeSync, openSync, writeSync } from 'node:fs';
import protobuf from 'protobufjs';
import type { RecordingHeader } from '../../src/recording/format.js';
import { newExportStats, type PerfettoExportStats } from './exportStats.js';
import {
  BUILTIN_CLOCK_BOOTTIME,
  BUILTIN_CLOCK_REALTIME,
  SEQ_INCREMENTAL_STATE_CLEARED,
  SEQ_NEEDS_INCREMENTAL_STATE,
  TYPE_COUNTER,
  loadPerfettoProto,
} from './proto.js';

export type AnnValue = string | number | boolean;
export type Ann = [string, AnnValue];

export interface Track {
  uuid: number;
  emitted: boolean;
  parent: Track | null;
  desc: Record<string, unknown>;
  /** process tracks: the main thread's name, when seen before the descriptor is written */
  mainComm?: string;
}

export class Seq {
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

/** Late sequences at most (records written after their time) */
const MAX_LATE_SEQS = 64;

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

export class PacketWriter {
  readonly stats: PerfettoExportStats = newExportStats();
  /** "[generated] " for generated input: every name says so */
  protected readonly prefix: string;
  protected readonly main: Seq;
  private readonly fd: number;
  private readonly sink: PacketSink;
  private readonly lateSeqs: Seq[] = [];
  private nextSeqId = 2;

  constructor(out: string, force: boolean, header: RecordingHeader | null) {
    this.prefix = header?.generated ? '[generated] ' : '';
    const proto = loadPerfettoProto();
    this.fd = openSync(out, force ? 'w' : 'wx', 0o600);
    this.sink = new PacketSink(this.fd, proto.TracePacket);
    this.main = new Seq(1);

    // First packet: clears incremental state of sequence 1 and ties the
    // trace clock (BOOTTIME, the recording's clock) to realtime.
    const bootNs = header?.clock.startedAtBootNs;
    const realNs = header ? header.clock.startedAtBootNs + header.clock.bootToRealtimeOffsetNs : undefined;
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
  }

  /** A late sequence whose last packet is not after `ts` (a new one if none); null past MAX_LATE_SEQS. */
  protected lateSeq(ts: number): Seq | null {
    for (const q of this.lateSeqs) if (q.lastTs <= ts) return q;
    if (this.lateSeqs.length >= MAX_LATE_SEQS) return null;
    const seq = new Seq(++this.nextSeqId);
    this.lateSeqs.push(seq);
    this.stats.sequences++;
    return seq;
  }

  /** Writes what is buffered and closes the file. */
  protected closeFile(): void {
    this.sink.flush();
    closeSync(this.fd);
    this.stats.packets = this.sink.packets;
    this.stats.bytes = this.sink.bytes;
  }

  protected ensureTrack(t: Track, seq: Seq): void {
    if (t.emitted) return;
    if (t.parent) this.ensureTrack(t.parent, seq);
    t.emitted = true;
    if (t.mainComm !== undefined) (t.desc.process as Record<string, unknown>).process_name = `${this.prefix}${t.mainComm}`;
    this.sink.write({ trusted_packet_sequence_id: seq.id, track_descriptor: t.desc });
  }

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

  protected writeCounter(seq: Seq, ts: number, t: Track, value: number): void {
    this.ensureTrack(t, seq);
    this.stats.counterSamples++;
    const ev = this.resetEvent(TYPE_COUNTER, t.uuid);
    if (Number.isInteger(value)) ev.counter_value = value;
    else ev.double_counter_value = value;
    this.packet(seq, ts, ev, null, false);
  }

  protected writeEvent(
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
