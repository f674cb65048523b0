// Builds TopSnapshots from the analysis pipeline. Events are pushed as they
// are decoded; snapshot() is called on the UI's clock (about 10 times a
// second) and returns plain data, so drawing never touches the model.

import { Analysis } from '../stats/pipeline.js';
import { RateRing } from '../stats/rate.js';
import type { LatencyHistogram } from '../stats/histogram.js';
import type { StageHistograms } from '../stats/stats.js';
import type { UffdEvent } from '../events/types.js';
import { bitNames, errnoName, type Uapi } from '../events/uapi.js';
import type { UffdInfo } from '../model/uffdRegistry.js';
import type {
  LatencyView,
  LogLine,
  ModeMarker,
  ModeSpan,
  StageSummary,
  TimelineLane,
  TopHeader,
  TopSnapshot,
  UffdRow,
} from './topSnapshot.js';

export type HeaderInfo = Pick<TopHeader, 'kernel' | 'backend' | 'source' | 'generated' | 'demo' | 'selection' | 'metricsAddress'>;

export interface TopModelOptions {
  /** seconds of history in the timeline and sparklines */
  windowS?: number;
  /** log lines kept */
  maxLog?: number;
  /** uffd rows shown (most active first) */
  maxRows?: number;
}

/** ioctls shown in the event log on success (the resolving ones are too many). */
const LOGGED_OK = new Set(['UFFDIO_API', 'UFFDIO_REGISTER', 'UFFDIO_UNREGISTER', 'UFFDIO_SET_MODE']);

/** how long a closed uffd stays in the table */
const CLOSED_SHOWN_NS = 5e9;

function stage(h: LatencyHistogram): StageSummary {
  if (!h.count) return { count: 0, p50Ns: null, p90Ns: null, p99Ns: null, maxNs: null };
  const s = h.snapshot();
  return { count: s.count, p50Ns: s.p50, p90Ns: s.p90, p99Ns: s.p99, maxNs: s.max };
}

function hex(v: bigint | number): string {
  return `0x${v.toString(16)}`;
}

export class TopModel {
  readonly analysis: Analysis;
  private readonly uffdRates = new Map<bigint, RateRing>();
  private readonly eventRate = new RateRing(10);
  private readonly log: LogLine[] = [];
  private readonly windowS: number;
  private readonly maxLog: number;
  private readonly maxRows: number;
  private eventsTotal = 0;
  private firstTs: number | undefined;
  private lastTs = 0;
  filter = '';
  selectedUffd: string | null = null;

  constructor(
    private readonly uapi: Uapi,
    private header: HeaderInfo,
    opts: TopModelOptions = {},
  ) {
    this.analysis = new Analysis(uapi);
    this.windowS = opts.windowS ?? 60;
    this.maxLog = opts.maxLog ?? 500;
    this.maxRows = opts.maxRows ?? 64;
    this.analysis.onFault((r) => {
      if (!r.userfault) return;
      let ring = this.uffdRates.get(r.uffd);
      if (!ring) {
        if (this.uffdRates.size >= 4096) return;
        ring = new RateRing(Math.max(this.windowS, 10));
        this.uffdRates.set(r.uffd, ring);
      }
      ring.add(r.faultTs);
    });
  }

  /** Header facts known only once the capture is open (the backend auto chose). */
  setHeader(h: Partial<HeaderInfo>): void {
    this.header = { ...this.header, ...h };
  }

  get startTs(): number | undefined {
    return this.firstTs;
  }

  get eventTime(): number {
    return this.lastTs;
  }

  push(e: UffdEvent): void {
    if (this.firstTs === undefined) this.firstTs = e.ts;
    if (e.ts > this.lastTs) this.lastTs = e.ts;
    this.eventsTotal++;
    this.eventRate.add(e.ts);
    this.analysis.push(e);
    this.logEvent(e);
  }

  /** Event time moves on with nothing happening (live sources, when idle). */
  advance(ts: number): void {
    if (ts <= this.lastTs) return;
    this.lastTs = ts;
    this.analysis.advance(ts);
    this.eventRate.advance(ts);
  }

  private logEvent(e: UffdEvent): void {
    let kind: LogLine['kind'] | null = null;
    let text = '';
    switch (e.type) {
      case 'ioctl_exit': {
        if (e.ret >= 0 && !LOGGED_OK.has(e.name)) return;
        const dur = ((e.ts - e.enterTs) / 1e3).toFixed(1);
        const a = e.args ?? {};
        let detail = '';
        if (e.name === 'UFFDIO_SET_MODE') detail = ` enable=${bitNames(a.enable ?? 0n, 'UFFD_FEATURE_', this.uapi).join('|') || '0'} disable=${bitNames(a.disable ?? 0n, 'UFFD_FEATURE_', this.uapi).join('|') || '0'}`;
        else if (e.name === 'UFFDIO_API') detail = ` features=${hex(a.features ?? 0n)}`;
        else if ('start' in a) detail = ` ${hex(a.start)}+${a.len}`;
        else if ('dst' in a) detail = ` ${hex(a.dst)}+${a.len}`;
        const res = e.ret < 0 ? `-> ${e.ret} ${errnoName(e.ret)}` : '-> ok';
        kind = e.name === 'UFFDIO_SET_MODE' ? 'mode' : e.ret < 0 ? 'error' : 'ioctl';
        text = `${e.name}${detail} ${res} (${dur} µs) uffd ${hex(e.uffd)}`;
        break;
      }
      case 'uffd_create':
        kind = e.ret < 0 ? 'error' : 'uffd';
        text = e.ret < 0 ? `uffd creation failed (${e.source}): ${e.ret} ${errnoName(e.ret)}` : `uffd ${hex(e.uffd)} created via ${e.source}, fd ${e.ret}`;
        break;
      case 'uffd_close':
        kind = 'uffd';
        text = `close fd ${e.fd} of uffd ${hex(e.uffd)}`;
        break;
      case 'proc':
        kind = 'proc';
        text = e.kind === 'fork' ? `fork -> pid ${e.otherPid}` : e.kind === 'exec' ? `exec ${e.comm}` : `exit (code ${e.otherPid})`;
        break;
      default:
        return;
    }
    this.log.push({ ts: e.ts, atS: (e.ts - (this.firstTs ?? e.ts)) / 1e9, kind, pid: e.pid, comm: e.comm, text });
    if (this.log.length > this.maxLog) this.log.splice(0, this.log.length - this.maxLog);
  }

  private matches(u: UffdInfo): boolean {
    const f = this.filter.trim().toLowerCase();
    if (!f) return true;
    if (u.ownerComm?.toLowerCase().includes(f)) return true;
    if (String(u.ownerPid) === f) return true;
    for (const p of u.pids) if (String(p) === f) return true;
    return false;
  }

  /** Pending (waiting) faults per uffd, from the lifecycle's open faults. */
  private pendingByUffd(): Map<bigint, number> {
    const m = new Map<bigint, number>();
    for (const f of this.analysis.lifecycle.openFaultViews()) {
      if (f.state === 'blocked') m.set(f.uffd, (m.get(f.uffd) ?? 0) + 1);
    }
    return m;
  }

  snapshot(o: { nowTs?: number; lost: number; uptimeS: number; paused?: boolean; replay?: TopHeader['replay'] }): TopSnapshot {
    const now = o.nowTs ?? this.lastTs;
    const nowSec = Math.floor(now / 1e9);
    const stats = this.analysis.stats;
    const registry = this.analysis.registry;
    const pending = this.pendingByUffd();
    // uffds closed a while ago leave the live view (they stay in the model).
    const infos = registry.all().filter((u) => this.matches(u) && !(u.closedTs !== undefined && u.lastTs <= u.closedTs && now - u.closedTs > CLOSED_SHOWN_NS));
    // A context address freed and reused (a VMM or the looping demo that
    // creates uffds again and again) is one registry entry per lifetime, but
    // latency and rates are kept per address: one row per address, showing
    // its newest lifetime and the faults of all of them, so no row repeats
    // another's figures.
    const faultsById = new Map<bigint, number>();
    const newest = new Map<bigint, UffdInfo>();
    for (const u of infos) {
      faultsById.set(u.id, (faultsById.get(u.id) ?? 0) + u.faults);
      newest.set(u.id, u); // all() lists retired lifetimes first
    }
    const rows: UffdRow[] = [...newest.values()].map((u) => {
      const g = stats.byUffd.get(u.id);
      const total = g?.latency.get('total');
      const ring = this.uffdRates.get(u.id);
      const series = ring ? ring.series(this.windowS) : [];
      // Per-second values aligned to "now": missing seconds are idle.
      const history: number[] = [];
      for (let s = nowSec - Math.min(this.windowS, 30) + 1; s <= nowSec; s++) {
        const p = series.find((x) => x.sec === s);
        history.push(p ? p.count : 0);
      }
      const handlers = [...u.handlerPids].map((p) => (p === u.ownerPid ? `${u.ownerComm ?? ''}/${p}` : `pid ${p}`));
      return {
        id: u.idHex,
        pid: u.ownerPid ?? 0,
        comm: u.ownerComm ?? '?',
        mode: u.mode,
        armedMiB: Number(u.armedBytes) / (1 << 20),
        faultsPerSec: ring ? ring.at((nowSec - 1) * 1e9) : 0,
        faultsTotal: faultsById.get(u.id) ?? u.faults,
        p50Ns: total && total.count ? total.percentile(50) : null,
        p99Ns: total && total.count ? total.percentile(99) : null,
        pending: pending.get(u.id) ?? 0,
        handler: handlers.join(', '),
        rateHistory: history,
      };
    });
    rows.sort((a, b) => b.faultsTotal - a.faultsTotal);
    rows.splice(this.maxRows);

    const sel = this.selectedUffd ? infos.find((u) => u.idHex === this.selectedUffd) : undefined;
    const stages: StageHistograms = sel ? stats.byUffd.get(sel.id)?.latency ?? stats.latency : stats.latency;
    const latency: LatencyView = {
      selected: sel ? sel.idHex : 'all',
      buckets: stages.get('total').log2Buckets().map((b) => ({ lowNs: b.lo, highNs: b.hi, count: b.count })),
      total: stage(stages.get('total')),
      queue: stage(stages.get('queue')),
      service: stage(stages.get('service')),
      wake: stage(stages.get('wake')),
    };

    const lanes: TimelineLane[] = [];
    const windowStart = now - this.windowS * 1e9;
    for (const u of infos.sort((a, b) => b.faults - a.faults).slice(0, 16)) {
      const spans: ModeSpan[] = [];
      const changes = u.modeHistory;
      let mode = changes.length ? changes[0].mode : u.mode;
      let from = Math.max(windowStart, u.firstTs);
      for (const c of changes) {
        if (c.ts <= from) {
          mode = c.mode;
          continue;
        }
        if (c.ts > now) break;
        if (c.mode !== mode) {
          spans.push({ startS: (from - now) / 1e9, endS: (c.ts - now) / 1e9, mode });
          from = c.ts;
          mode = c.mode;
        }
      }
      if (from < now) spans.push({ startS: (from - now) / 1e9, endS: 0, mode });
      const markers: ModeMarker[] = u.modeSwitches
        .filter((m) => m.ts >= windowStart && m.ts <= now)
        .map((m) => ({
          atS: (m.ts - now) / 1e9,
          ok: m.ret === 0,
          errno: m.errno,
          enable: m.enable,
          disable: m.disable,
          latencyNs: m.latencyNs ?? 0,
          drainNs: m.drainNs,
          wakeupNs: m.wakeupNs,
          woken: m.woken,
        }));
      const ring = this.uffdRates.get(u.id);
      const rate: number[] = [];
      for (let s = nowSec - this.windowS + 1; s <= nowSec; s++) rate.push(ring ? ring.at(s * 1e9) : 0);
      lanes.push({ uffd: u.idHex, label: `${u.ownerComm ?? '?'}/${u.ownerPid ?? '?'}`, spans, markers, rate });
    }

    const f = this.filter.trim().toLowerCase();
    const events = f ? this.log.filter((l) => l.comm.toLowerCase().includes(f) || String(l.pid) === f) : this.log.slice();
    return {
      header: {
        ...this.header,
        eventsPerSec: this.eventRate.at((nowSec - 1) * 1e9),
        eventsTotal: this.eventsTotal,
        lost: o.lost,
        uptimeS: o.uptimeS,
        paused: !!o.paused,
        replay: o.replay,
      },
      uffds: rows,
      latency,
      timeline: { windowS: this.windowS, lanes },
      events,
    };
  }
}

