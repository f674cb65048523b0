// Builds TopSnapshots from the analysis pipeline. Events are pushed as they
// are decoded; snapshot() is called on the UI's clock (about 10 times a
// second) and returns plain data, so drawing never touches the model.

import { Analysis } from '../stats/pipeline.js';
import { RateRing } from '../stats/rate.js';
import type { LatencyHistogram } from '../stats/histogram.js';
import { StageHistograms } from '../stats/stats.js';
import type { UffdEvent } from '../events/types.js';
import { bitNames, errnoName, type Uapi } from '../events/uapi.js';
import type { UffdInfo } from '../model/uffdTypes.js';
import { createdAfterS, parseUffdKey } from '../model/uffdIdentity.js';
import { matchesFilter } from './processFilter.js';
import { isControlIoctl } from '../kernel/uffdIoctls.js';
import type { KernelStatsTracker } from '../stats/kernelStatsTracker.js';
import { emptyStages, kernelLatency, kernelRowFigures, kernelUffdKey } from './kernelFigures.js';
import { userfaultsOf } from '../stats/kernelStats.js';
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

export type HeaderInfo = Pick<TopHeader, 'kernel' | 'backend' | 'source' | 'generated' | 'demo' | 'selection' | 'metricsAddress' | 'engine' | 'notice'>;

export interface TopModelOptions {
  /** seconds of history in the timeline and sparklines */
  windowS?: number;
  /** log lines kept */
  maxLog?: number;
  /** uffd rows shown (most active first) */
  maxRows?: number;
}

/** how long a closed uffd stays in the table */
const CLOSED_SHOWN_NS = 5e9;

/** uffds with their own rate and latency figures at once (closed ones leave first) */
const MAX_TRACKED_UFFDS = 256;

/** timeline lanes drawn at most */
const MAX_LANES = 16;

/** Figures of one uffd (UffdIdentity): its fault rate and latency. */
interface UffdFigures {
  rate: RateRing;
  latency: StageHistograms;
}

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
  /** by UffdInfo.key */
  private readonly figures = new Map<string, UffdFigures>();
  private readonly eventRate = new RateRing(10);
  private readonly log: LogLine[] = [];
  private readonly windowS: number;
  private readonly maxLog: number;
  private readonly maxRows: number;
  private eventsTotal = 0;
  private firstTs: number | undefined;
  private lastTs = 0;
  /** process filter (processFilter.ts): its matches come first when rows or lanes are capped */
  filter = '';
  /** the uffd the latency view is about: a uffdKey, or a context address (its newest uffd) */
  selectedUffd: string | null = null;
  /** in-kernel statistics (top's default engine): rows, lanes and latency
   *  take their figures from here instead of from per-fault records */
  private kernel: KernelStatsTracker | null = null;

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
      // the uffd that held the address when the fault happened
      const u = this.analysis.registry.lifetimeAt(r.uffd, r.faultTs);
      if (u === undefined) return;
      let f = this.figures.get(u.key);
      if (!f) {
        if (this.figures.size >= MAX_TRACKED_UFFDS) return;
        f = { rate: new RateRing(Math.max(this.windowS, 10)), latency: new StageHistograms() };
        this.figures.set(u.key, f);
      }
      f.rate.add(r.faultTs);
      f.latency.add(r);
    });
  }

  /** Figures from the kernel's counts from now on (see `kernel`). */
  attachKernel(t: KernelStatsTracker): void {
    this.kernel = t;
  }

  /** A process's name as the streamed events gave it. */
  processName(pid: number): string | undefined {
    return this.analysis.processName(pid);
  }

  get countsInKernel(): boolean {
    return this.kernel !== null;
  }

  /** Header facts known only once the capture is open (the backend auto chose). */
  setHeader(h: Partial<HeaderInfo>): void {
    this.header = { ...this.header, ...h };
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
        // on success only control ioctls: the per-fault ones are too many
        if (e.ret >= 0 && !isControlIoctl(e.name)) return;
        const dur = ((e.ts - e.enterTs) / 1e3).toFixed(1);
        const a = e.args ?? {};
        let detail = '';
        if (e.name === 'UFFDIO_SET_MODE') detail = e.args === null ? ' enable=unread disable=unread' : ` enable=${bitNames(a.enable ?? 0n, 'UFFD_FEATURE_', this.uapi).join('|') || '0'} disable=${bitNames(a.disable ?? 0n, 'UFFD_FEATURE_', this.uapi).join('|') || '0'}`;
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
    return matchesFilter(this.filter, u.ownerComm ?? '?', u.ownerPid ?? 0);
  }

  /** Pending (waiting) faults per uffd (by key), from the lifecycle's open faults. */
  private pendingByUffd(): Map<string, number> {
    const m = new Map<string, number>();
    const registry = this.analysis.registry;
    for (const f of this.analysis.lifecycle.openFaultViews()) {
      if (f.state !== 'blocked') continue;
      const u = registry.lifetimeAt(f.uffd, f.faultTs);
      if (u !== undefined) m.set(u.key, (m.get(u.key) ?? 0) + 1);
    }
    return m;
  }

  /** A closed uffd gone from the live view: its figures are dropped. */
  private gone(u: UffdInfo, now: number): boolean {
    return u.closedTs !== undefined && u.lastTs <= u.closedTs && now - u.closedTs > CLOSED_SHOWN_NS;
  }

  /** The selected uffd: by key, or by address (its newest uffd). */
  private selected(infos: readonly UffdInfo[]): UffdInfo | undefined {
    const sel = this.selectedUffd;
    if (sel === null) return undefined;
    if (parseUffdKey(sel) !== null) return this.analysis.registry.byKey(sel);
    let found: UffdInfo | undefined;
    for (const u of infos) if (u.idHex === sel) found = u; // all() lists older uffds first
    return found;
  }

  snapshot(o: { nowTs?: number; lost: number; uptimeS: number; paused?: boolean; replay?: TopHeader['replay'] }): TopSnapshot {
    const now = o.nowTs ?? this.lastTs;
    const nowSec = Math.floor(now / 1e9);
    const start = this.firstTs ?? now;
    const registry = this.analysis.registry;
    const pending = this.pendingByUffd();
    // one row and lane per uffd (context address + creation time): a
    // context freed and reused for a new uffd is another row. Closed uffds
    // stay a while (dimmed), then leave the live view (they stay in the model).
    const all = registry.all();
    const infos: UffdInfo[] = [];
    for (const u of all) {
      if (!this.gone(u, now)) infos.push(u);
      else this.figures.delete(u.key);
    }
    const closed = (u: UffdInfo) => u.closedTs !== undefined && u.lastTs <= u.closedTs;
    const kernel = this.kernel;
    const name = (pid: number) => this.analysis.processName(pid);
    const rows: UffdRow[] = infos.map((u) => {
      if (kernel) {
        const k = kernel.get(u.id, BigInt(u.createdTs ?? 0));
        return {
          id: u.idHex,
          key: u.key,
          createdS: createdAfterS(u.createdTs ?? null, start),
          closed: closed(u),
          pid: u.ownerPid ?? k?.pid ?? 0,
          comm: u.ownerComm ?? (k ? name(k.pid) : undefined) ?? '?',
          mode: k && k.lastFaultTsNs > 0n && u.modeHistory.length === 0 ? registry.modeOf(k.ctxFeatures) : u.mode,
          armedMiB: Number(u.armedBytes) / (1 << 20),
          ...kernelRowFigures(k, kernel, nowSec, Math.min(this.windowS, 30), name),
        };
      }
      const fig = this.figures.get(u.key);
      const total = fig?.latency.get('total');
      const series = fig ? fig.rate.series(this.windowS) : [];
      // Per-second values aligned to "now": missing seconds are idle.
      const history: number[] = [];
      for (let s = nowSec - Math.min(this.windowS, 30) + 1; s <= nowSec; s++) {
        const p = series.find((x) => x.sec === s);
        history.push(p ? p.count : 0);
      }
      const handlers = [...u.handlerPids].map((p) => (p === u.ownerPid ? `${u.ownerComm ?? ''}/${p}` : `${this.analysis.processName(p) ?? '?'}/${p}`));
      return {
        id: u.idHex,
        key: u.key,
        createdS: createdAfterS(u.createdTs ?? null, start),
        closed: closed(u),
        pid: u.ownerPid ?? 0,
        comm: u.ownerComm ?? '?',
        mode: u.mode,
        armedMiB: Number(u.armedBytes) / (1 << 20),
        faultsPerSec: fig ? fig.rate.at((nowSec - 1) * 1e9) : 0,
        faultsTotal: u.faults,
        p50Ns: total && total.count ? total.percentile(50) : null,
        p99Ns: total && total.count ? total.percentile(99) : null,
        pending: pending.get(u.key) ?? 0,
        handler: handlers.join(', '),
        rateHistory: history,
      };
    });
    if (kernel) {
      // uffds the kernel counted that no streamed event named (made before
      // tracing began); one the stream named and that left the view stays out
      const known = new Set(all.map((u) => u.key));
      for (const k of kernel.all()) {
        const key = kernelUffdKey(k);
        if (known.has(key)) continue;
        rows.push({
          id: `0x${k.uffd.toString(16)}`,
          key,
          createdS: k.createdNs > 0n ? createdAfterS(Number(k.createdNs), start) : null,
          closed: false,
          pid: k.pid,
          comm: name(k.pid) ?? '?',
          mode: registry.modeOf(k.ctxFeatures),
          armedMiB: 0,
          ...kernelRowFigures(k, kernel, nowSec, Math.min(this.windowS, 30), name),
        });
      }
    }
    // the cap keeps filter matches, then uffds faulting now, then open ones,
    // then the busiest (a looping VMM makes hundreds of short-lived uffds: the
    // ones at work must not be crowded out by idle ones)
    const f = this.filter;
    const rank = (r: UffdRow) => (matchesFilter(f, r.comm, r.pid) ? 0 : 4) + (r.faultsPerSec > 0 ? 0 : 2) + (r.closed ? 1 : 0);
    rows.sort((a, b) => rank(a) - rank(b) || b.faultsTotal - a.faultsTotal);
    rows.splice(this.maxRows);

    const sel = this.selected(infos);
    let latency: LatencyView;
    if (kernel) {
      // a row only the kernel counted has no registry entry: its key names it
      const id = sel ? { ctx: sel.id, createdNs: sel.createdTs ?? null } : this.selectedUffd !== null ? parseUffdKey(this.selectedUffd) : null;
      const k = id ? kernel.get(id.ctx, BigInt(id.createdNs ?? 0)) : undefined;
      const key = sel ? sel.key : k ? kernelUffdKey(k) : null;
      const t = key !== null ? null : kernel.totals();
      latency = kernelLatency(t ? t.stages : (k?.stages ?? emptyStages()), key ?? 'all', t ? t.endsUnseen : (k?.endsUnseen ?? 0));
    } else {
      const stages: StageHistograms = sel ? (this.figures.get(sel.key)?.latency ?? new StageHistograms()) : this.analysis.stats.latency;
      latency = {
        selected: sel ? sel.key : 'all',
        buckets: stages.get('total').log2Buckets().map((b) => ({ lowNs: b.lo, highNs: b.hi, count: b.count })),
        total: stage(stages.get('total')),
        queue: stage(stages.get('queue')),
        service: stage(stages.get('service')),
        wake: stage(stages.get('wake')),
      };
    }

    const windowStart = now - this.windowS * 1e9;
    const inWindow = (u: UffdInfo) => u.modeSwitches.filter((m) => m.ts >= windowStart && m.ts <= now);
    // every uffd with a SET_MODE attempt in the window gets a lane, whatever
    // the fault mix; then filter matches, open ones and the busiest
    const laneRank = (u: UffdInfo) => (inWindow(u).length > 0 ? 0 : 4) + (this.matches(u) ? 0 : 2) + (closed(u) ? 1 : 0);
    const laneInfos = [...infos]
      .sort((a, b) => laneRank(a) - laneRank(b) || b.faults - a.faults || (a.createdTs ?? 0) - (b.createdTs ?? 0))
      .slice(0, MAX_LANES);
    const lanes: TimelineLane[] = [];
    for (const u of laneInfos) {
      const spans: ModeSpan[] = [];
      const changes = u.modeHistory;
      let mode = changes.length ? changes[0].mode : u.mode;
      let from = Math.max(windowStart, u.firstTs);
      // a closed uffd's lane ends at its close
      const until = closed(u) ? Math.min(now, u.closedTs!) : now;
      for (const c of changes) {
        if (c.ts <= from) {
          mode = c.mode;
          continue;
        }
        if (c.ts > until) break;
        if (c.mode !== mode) {
          spans.push({ startS: (from - now) / 1e9, endS: (c.ts - now) / 1e9, mode });
          from = c.ts;
          mode = c.mode;
        }
      }
      if (from < until) spans.push({ startS: (from - now) / 1e9, endS: (until - now) / 1e9, mode });
      const markers: ModeMarker[] = inWindow(u).map((m) => ({
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
      const ring = kernel ? kernel.rate(u.id, BigInt(u.createdTs ?? 0)) : this.figures.get(u.key)?.rate;
      const rate: number[] = [];
      for (let s = nowSec - this.windowS + 1; s <= nowSec; s++) rate.push(ring ? ring.at(s * 1e9) : 0);
      lanes.push({
        uffd: u.idHex,
        key: u.key,
        createdS: createdAfterS(u.createdTs ?? null, start),
        closed: closed(u),
        label: `${u.ownerComm ?? '?'}/${u.ownerPid ?? '?'}`,
        spans,
        markers,
        rate,
      });
    }

    // the views filter rows, lanes and events themselves, with this same matcher
    const events = this.log.slice();
    return {
      header: {
        ...this.header,
        eventsPerSec: this.eventRate.at((nowSec - 1) * 1e9),
        eventsTotal: this.eventsTotal,
        lost: o.lost,
        uptimeS: o.uptimeS,
        paused: !!o.paused,
        replay: o.replay,
        userfaultsTotal: kernel ? userfaultsOf(kernel.totals()) : this.analysis.lifecycle.counters.userfaults,
        uffdsTotal: kernel ? Math.max(kernel.size, all.length) : all.length,
      },
      uffds: rows,
      latency,
      timeline: { windowS: this.windowS, lanes },
      events,
    };
  }
}

