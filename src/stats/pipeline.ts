// The analysis pipeline: decoded events in, model and statistics out. The
// CLI (live capture, recording or replay) only feeds events and asks for a
// summary; the TUI and exporters read the same objects.
//
//   push(e) -> UffdRegistry (contexts, ranges, modes, SET_MODE attempts)
//           -> FaultLifecycle -> FaultRecord -> Stats (+ registry counts)
//           -> Stats (ioctl exits, messages)

import type { UffdEvent } from '../events/types.js';
import type { Uapi } from '../events/uapi.js';
import { FaultLifecycle, type FaultListener, type FaultRecord, type LifecycleOptions } from '../model/faultLifecycle.js';
import { UffdRegistry, type RegistryOptions } from '../model/uffdRegistry.js';
import { Stats, type StatsOptions } from './stats.js';
import { buildSummary, type Summary, type SummaryMeta } from './summary.js';

export interface AnalysisOptions {
  lifecycle?: LifecycleOptions;
  registry?: RegistryOptions;
  stats?: StatsOptions;
}

/** process names kept at most (pid_max is 4 M on 64-bit) */
const MAX_COMMS = 65536;

/** counts[] order in push() */
const TYPE_NAMES = ['fault', 'block', 'wake', 'resume', 'ioctl_enter', 'ioctl_exit', 'msg', 'uffd_create', 'uffd_close', 'proc'];

export class Analysis {
  readonly registry: UffdRegistry;
  readonly lifecycle: FaultLifecycle;
  readonly stats: Stats;
  /** TYPE_NAMES, then hu (precise backends only), then anything else */
  private readonly counts = new Float64Array(TYPE_NAMES.length + 2);
  /** process names as the events gave them (a view counting in the kernel
   *  names the processes of its rows from here); bounded like pids are */
  private readonly comms = new Map<number, string>();
  private firstTs: number | undefined = undefined;
  private lastTs: number | undefined = undefined;
  private finished = false;

  constructor(uapi: Uapi, opts: AnalysisOptions = {}) {
    this.registry = new UffdRegistry(uapi, opts.registry);
    this.lifecycle = new FaultLifecycle(uapi, opts.lifecycle);
    this.stats = new Stats(opts.stats);
    const stats = this.stats;
    const registry = this.registry;
    this.lifecycle.onRecord((r: FaultRecord) => {
      stats.addFault(r);
      registry.noteRecord(r);
    });
  }

  /** A process's name, as its latest event gave it. */
  processName(pid: number): string | undefined {
    return this.comms.get(pid);
  }

  /** Calls `fn` with every fault record (after the statistics have it). */
  onFault(fn: FaultListener): () => void {
    return this.lifecycle.onRecord(fn);
  }

  push(e: UffdEvent): void {
    const ts = e.ts;
    if (e.comm && this.comms.get(e.pid) !== e.comm && this.comms.size < MAX_COMMS) this.comms.set(e.pid, e.comm);
    if (this.firstTs === undefined || ts < this.firstTs) this.firstTs = ts;
    if (this.lastTs === undefined || ts > this.lastTs) this.lastTs = ts;
    // the lifecycle first: records it ends on this event (expiry, a
    // thread's previous fault) belong to the registry's state before it
    this.lifecycle.push(e);
    this.registry.push(e);
    const c = this.counts;
    switch (e.type) {
      case 'fault':
        c[0]++;
        break;
      case 'block':
        c[1]++;
        break;
      case 'wake':
        c[2]++;
        break;
      case 'resume':
        c[3]++;
        break;
      case 'ioctl_enter':
        c[4]++;
        break;
      case 'ioctl_exit':
        c[5]++;
        this.stats.addIoctl(e);
        break;
      case 'msg':
        c[6]++;
        this.stats.addMsg(e);
        break;
      case 'uffd_create':
        c[7]++;
        break;
      case 'uffd_close':
        c[8]++;
        break;
      case 'proc':
        c[9]++;
        break;
      case 'hu':
        c[10]++;
        break;
      default:
        c[11]++;
    }
  }

  pushAll(events: Iterable<UffdEvent>): void {
    for (const e of events) this.push(e);
  }

  /** Event time moves on with no event (a live source calls this when idle). */
  advance(ts: number): void {
    this.lifecycle.advance(ts);
    this.stats.advance(ts);
  }

  /** Ends every open fault; call once when the stream is over. */
  finish(endTs?: number): void {
    if (endTs !== undefined && (this.lastTs === undefined || endTs > this.lastTs)) this.lastTs = endTs;
    this.lifecycle.finish(endTs);
    this.finished = true;
  }

  get isFinished(): boolean {
    return this.finished;
  }

  /** Events received by type name. */
  received(): Record<string, number> {
    const out: Record<string, number> = {};
    TYPE_NAMES.forEach((n, i) => (out[n] = this.counts[i]));
    if (this.counts[TYPE_NAMES.length]) out.hu = this.counts[TYPE_NAMES.length];
    if (this.counts[TYPE_NAMES.length + 1]) out.other = this.counts[TYPE_NAMES.length + 1];
    return out;
  }

  get timeRange(): { firstTs: number | undefined; lastTs: number | undefined } {
    return { firstTs: this.firstTs, lastTs: this.lastTs };
  }

  summary(meta: SummaryMeta): Summary {
    return buildSummary({
      stats: this.stats,
      registry: this.registry,
      received: this.received(),
      firstTs: this.firstTs,
      lastTs: this.lastTs,
      lifecycle: this.lifecycle.counters,
      openFaults: this.lifecycle.openFaults,
      inflightIoctls: this.lifecycle.inflightIoctls,
      processName: (pid) => this.processName(pid),
      meta,
    });
  }
}
