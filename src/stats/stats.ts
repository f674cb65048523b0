// Aggregates over fault records, ioctl exits and messages: counts, latency
// distributions (HDR histograms: total and per stage, overall, per uffd, per
// process, per fault kind), a per-second fault rate over a bounded window,
// and ioctl counts/errors/durations by name. Memory is bounded: per-uffd and
// per-process groups are capped (the rest pool into an "other" group).

import type { IoctlEvent, MsgEvent } from '../events/types.js';
import { errnoName } from '../events/uapi.js';
import { FAULT_ENDS, FAULT_KINDS, type FaultEnd, type FaultKind, type FaultRecord } from '../model/faultLifecycle.js';
import { LatencyHistogram } from './histogram.js';
import { RateRing } from './rate.js';

export type Stage = 'total' | 'queue' | 'service' | 'wake';
export const STAGES: readonly Stage[] = ['total', 'queue', 'service', 'wake'];

/** Histograms of one group; a stage's histogram exists once it has a value. */
export class StageHistograms {
  total: LatencyHistogram | null = null;
  queue: LatencyHistogram | null = null;
  service: LatencyHistogram | null = null;
  wake: LatencyHistogram | null = null;

  add(r: FaultRecord): void {
    const s = r.stages;
    if (s.total !== undefined) (this.total ??= new LatencyHistogram()).record(s.total);
    if (s.queue !== undefined) (this.queue ??= new LatencyHistogram()).record(s.queue);
    if (s.service !== undefined) (this.service ??= new LatencyHistogram()).record(s.service);
    if (s.wake !== undefined) (this.wake ??= new LatencyHistogram()).record(s.wake);
  }

  /** The stage's histogram, or an empty one. */
  get(stage: Stage): LatencyHistogram {
    return this[stage] ?? EMPTY;
  }

  merge(o: StageHistograms): void {
    for (const st of STAGES) {
      const h = o[st];
      if (h !== null) (this[st] ??= new LatencyHistogram()).merge(h);
    }
  }
}

const EMPTY = new LatencyHistogram();

export interface GroupStats {
  /** fault entries (all records) */
  entries: number;
  /** userfaults (record.userfault) */
  faults: number;
  blocked: number;
  byKind: Record<FaultKind, number>;
  latency: StageHistograms;
  /** latest comm seen (per-process groups) */
  comm: string;
}

export interface IoctlStats {
  name: string;
  count: number;
  errors: number;
  /** errno name -> count */
  errnos: Record<string, number>;
  /** exit - enter, ns */
  duration: LatencyHistogram;
}

export interface MessageCounts {
  pagefault: { missing: number; wp: number; minor: number; rwp: number };
  fork: number;
  remap: number;
  remove: number;
  unmap: number;
  other: number;
}

export interface FaultCounts {
  /** every fault record (every fault entry in an armed VMA, ended) */
  entries: number;
  /** records with userfault = true */
  userfaults: number;
  blocked: number;
  /** userfaults by kind */
  byKind: Record<FaultKind, number>;
  /** records by end reason */
  ends: Record<FaultEnd, number>;
  /** userfaults by end reason */
  userfaultEnds: Record<FaultEnd, number>;
  recovered: number;
  incomplete: number;
  /** faults that waited more than once (re-waits after spurious wake-ups) */
  rewaits: number;
}

export interface StatsOptions {
  /** seconds of per-second fault rate kept. Default 300. */
  rateSeconds?: number;
  /** cap on per-uffd and on per-process groups (each). Default 64. */
  maxGroups?: number;
}

function zeroKinds(): Record<FaultKind, number> {
  const o = {} as Record<FaultKind, number>;
  for (const k of FAULT_KINDS) o[k] = 0;
  return o;
}

function zeroEnds(): Record<FaultEnd, number> {
  const o = {} as Record<FaultEnd, number>;
  for (const k of FAULT_ENDS) o[k] = 0;
  return o;
}

function countIn(g: GroupStats, r: FaultRecord): void {
  g.faults++;
  g.byKind[r.kind]++;
  if (r.blocked) g.blocked++;
}

function newGroup(comm = ''): GroupStats {
  return { entries: 0, faults: 0, blocked: 0, byKind: zeroKinds(), latency: new StageHistograms(), comm };
}

export class Stats {
  readonly faults: FaultCounts = {
    entries: 0,
    userfaults: 0,
    blocked: 0,
    byKind: zeroKinds(),
    ends: zeroEnds(),
    userfaultEnds: zeroEnds(),
    recovered: 0,
    incomplete: 0,
    rewaits: 0,
  };
  /** all userfaults: total and per stage */
  readonly latency = new StageHistograms();
  /** per kind of userfault */
  readonly byKind = new Map<FaultKind, GroupStats>();
  readonly byUffd = new Map<bigint, GroupStats>();
  readonly byPid = new Map<number, GroupStats>();
  /** groups beyond the cap */
  readonly otherUffds = newGroup('(other)');
  readonly otherPids = newGroup('(other)');
  /** userfaults per second (by fault entry time) */
  readonly faultRate: RateRing;
  /** fault entries per second */
  readonly entryRate: RateRing;
  readonly ioctls = new Map<string, IoctlStats>();
  readonly messages: MessageCounts = { pagefault: { missing: 0, wp: 0, minor: 0, rwp: 0 }, fork: 0, remap: 0, remove: 0, unmap: 0, other: 0 };

  private readonly maxGroups: number;
  private lastUffd: bigint | null = null;
  private lastUffdGroup: GroupStats | null = null;

  constructor(opts: StatsOptions = {}) {
    this.faultRate = new RateRing(opts.rateSeconds ?? 300);
    this.entryRate = new RateRing(opts.rateSeconds ?? 300);
    this.maxGroups = opts.maxGroups ?? 64;
    for (const k of FAULT_KINDS) this.byKind.set(k, newGroup());
  }

  addFault(r: FaultRecord): void {
    const c = this.faults;
    c.entries++;
    c.ends[r.end]++;
    if (r.recovered) c.recovered++;
    if (r.incomplete) c.incomplete++;
    this.entryRate.add(r.faultTs);
    const gu = this.uffdGroup(r.uffd);
    const gp = this.pidGroup(r.pid, r.comm);
    gu.entries++;
    gp.entries++;
    if (!r.userfault) return;
    c.userfaults++;
    c.userfaultEnds[r.end]++;
    c.byKind[r.kind]++;
    if (r.blocked) c.blocked++;
    if (r.nblocks > 1) c.rewaits++;
    this.faultRate.add(r.faultTs);
    const gk = this.byKind.get(r.kind)!;
    countIn(gk, r);
    countIn(gu, r);
    countIn(gp, r);
    const s = r.stages;
    if (s.total === undefined && s.queue === undefined && s.service === undefined && s.wake === undefined) return;
    this.latency.add(r);
    gk.latency.add(r);
    gu.latency.add(r);
    gp.latency.add(r);
  }

  /** Counts an ioctl exit (enters are ignored). */
  addIoctl(e: IoctlEvent): void {
    if (e.type !== 'ioctl_exit') return;
    let s = this.ioctls.get(e.name);
    if (s === undefined) {
      s = { name: e.name, count: 0, errors: 0, errnos: {}, duration: new LatencyHistogram() };
      this.ioctls.set(e.name, s);
    }
    s.count++;
    if (e.ret < 0) {
      s.errors++;
      const n = errnoName(e.ret) ?? String(e.ret);
      s.errnos[n] = (s.errnos[n] ?? 0) + 1;
    }
    if (!e.untimed) s.duration.record(e.ts - e.enterTs);
  }

  addMsg(e: MsgEvent): void {
    const m = this.messages;
    if (e.pagefault !== undefined) {
      m.pagefault[e.pagefault.kind]++;
      return;
    }
    switch (e.eventName) {
      case 'fork':
        m.fork++;
        break;
      case 'remap':
        m.remap++;
        break;
      case 'remove':
        m.remove++;
        break;
      case 'unmap':
        m.unmap++;
        break;
      default:
        m.other++;
    }
  }

  /** Moves the rate windows forward with no event. */
  advance(ts: number): void {
    this.faultRate.advance(ts);
    this.entryRate.advance(ts);
  }

  private uffdGroup(id: bigint): GroupStats {
    if (this.lastUffd === id && this.lastUffdGroup !== null) return this.lastUffdGroup;
    let g = this.byUffd.get(id);
    if (g === undefined) {
      if (this.byUffd.size >= this.maxGroups) return this.otherUffds;
      g = newGroup();
      this.byUffd.set(id, g);
    }
    this.lastUffd = id;
    this.lastUffdGroup = g;
    return g;
  }

  private pidGroup(pid: number, comm: string): GroupStats {
    let g = this.byPid.get(pid);
    if (g === undefined) {
      if (this.byPid.size >= this.maxGroups) return this.otherPids;
      g = newGroup(comm);
      this.byPid.set(pid, g);
    } else if (comm !== '' && g.comm !== comm) g.comm = comm;
    return g;
  }
}
