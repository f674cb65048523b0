// The end-of-run summary: one JSON document with fixed key names (schema
// uffdscope.summary/1; keys are only ever added, never renamed); its text
// form is summaryText.ts. Feature and mode masks are u64: hex strings here,
// never JSON numbers (which lose bits at 53 and above).
//
// Counting rule: `faults.total` and the per-kind counts are USERFAULTS (faults
// that blocked, or were resolved through uffd, plus async ones), not every
// fault in an armed VMA; every fault entry is in `faults.entries`.

import { EVENT_TYPES, uffdId } from '../events/types.js';
import { FAULT_ENDS, type FaultEnd, type FaultKind, type LifecycleCounters } from '../model/faultLifecycle.js';
import type { UffdRegistry } from '../model/uffdRegistry.js';
import { uffdKey } from '../model/uffdIdentity.js';
import type { LatencyHistogram } from './histogram.js';
import { STAGES, type Stats, type StageHistograms } from './stats.js';

export const SUMMARY_SCHEMA = 'uffdscope.summary/1';

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** added: exact mean */
  mean: number;
}

export interface IoctlSummary {
  count: number;
  errors: number;
  /** null when no call of it was timed (the in-kernel engine times no per-fault ioctl) */
  p50_ns: number | null;
  p99_ns: number | null;
  max_ns: number | null;
  errnos: Record<string, number>;
}

export interface ModeSwitchSummary {
  ts_ns: number;
  uffd: string;
  /** added: creation time of that uffd (null: before tracing); with `uffd`, which uffd it was */
  uffd_created_ns: number | null;
  pid: number;
  /** u64 masks as hex strings; null when the struct could not be read */
  enable: string | null;
  disable: string | null;
  /** ioctl return value: 0 or -errno; null while in flight (exit not seen) */
  result: number | null;
  /** ioctl latency: the system call's exit - entry (drain and wake-up included) */
  latency_ns: number | null;
  /** added: drain (userfaultfd_set_mode() entry to mmap_write_unlock()), where a precise backend observed it; successful calls only */
  drain_ns: number | null;
  /** added: wake-up (drain end to userfaultfd_set_mode()'s return), when enable has RWP_ASYNC and the drain was observed */
  wakeup_ns: number | null;
  /** added */
  errno: string | null;
  tid: number;
  comm: string;
  mode_before: string;
  mode_after: string | null;
  /** blocked faults this switch woke */
  woken: number;
  /** what the kernel's rules predict (src/model/setModeRules.ts), why, and whether the result agreed;
   *  'unknown' (and kernel_agrees null) when an input the rules need was not observed */
  expected: 'ok' | 'EINVAL' | 'unknown' | null;
  /** added: the deciding rule (docs/set-mode.md) */
  rule: string | null;
  why: string | null;
  kernel_agrees: boolean | null;
}

export interface UffdSummary {
  /** context address: several uffds may share it over time (`key` is unique) */
  id: string;
  /** added: uffdKey, "<id>@<created_ns or ->" (src/model/uffdIdentity.ts) */
  key: string;
  pid: number | null;
  comm: string | null;
  /** features negotiated at UFFDIO_API (ctx->features after it); ctx->features as last seen when the API call was not traced */
  features: string;
  mode: 'sync' | 'async';
  /** userfaults */
  faults: number;
  /** added */
  features_source: 'api' | 'ctx';
  requested_features: string | null;
  /** what UFFDIO_API reported as available on this kernel */
  available_features: string | null;
  /** earlier contexts at the same address (kernel reuse of freed memory) */
  generation: number;
  ctx_features: string;
  owner_source: string | null;
  created_ns: number | null;
  closed_ns: number | null;
  pids: number[];
  handler_pids: number[];
  /** added: the handler processes with their names (null: no event of that process named it) */
  handlers: Array<{ pid: number; comm: string | null }>;
  armed_bytes: number;
  ranges: Array<{ start: string; end: string; mode: string }>;
  fault_entries: number;
  faults_by_kind: Record<string, number>;
  messages: number;
  ioctls: number;
  mode_changes: Array<{ ts_ns: number; mode: string; cause: string }>;
}

export interface ProcessSummary {
  pid: number;
  comm: string;
  faults: number;
  entries: number;
  blocked: number;
  by_kind: Record<FaultKind, number>;
  latency_ns: { fault: LatencySummary };
}

export interface Summary {
  schema: typeof SUMMARY_SCHEMA;
  backend: string;
  duration_ns: number;
  events: {
    received: number;
    lost: number;
    /** added */
    by_type: Record<string, number>;
    lost_by_type: Record<string, number>;
  };
  faults: {
    total: number;
    missing: number;
    wp: number;
    minor: number;
    rwp: number;
    async: number;
    /** added */
    unknown: number;
    /** every fault entry in an armed VMA */
    entries: number;
    blocked: number;
    /** faults that waited more than once */
    rewaits: number;
    /** all fault records by how they ended */
    ended: Record<FaultEnd, number>;
    /** userfaults by how they ended */
    userfaults_ended: Record<FaultEnd, number>;
    recovered: number;
    incomplete: number;
  };
  messages: {
    pagefault: { missing: number; wp: number; minor: number; rwp: number };
    fork: number;
    remap: number;
    remove: number;
    unmap: number;
    /** added */
    other: number;
    pagefault_matched: number;
    pagefault_unmatched: number;
  };
  latency_ns: {
    fault: LatencySummary;
    queue: LatencySummary;
    service: LatencySummary;
    wake: LatencySummary;
  };
  ioctls: Record<string, IoctlSummary>;
  mode_switches: ModeSwitchSummary[];
  uffds: UffdSummary[];
  /** added */
  generated: boolean;
  start_ns: number | null;
  latency_ns_by_kind: Partial<Record<FaultKind, { fault: LatencySummary; queue: LatencySummary; service: LatencySummary; wake: LatencySummary }>>;
  processes: ProcessSummary[];
  /** added: the latency histograms of the fault and of its stages,
   *  non-empty buckets only, as [value_ns, count] (value: the bucket's
   *  highest value, 3 significant digits); lets `check` run per-fault tests
   *  on summaries (stages: added later, absent in older summaries) */
  latency_hist_ns?: { fault: Array<[number, number]>; queue?: Array<[number, number]>; service?: Array<[number, number]>; wake?: Array<[number, number]> };
  fault_rate: { window_s: number; peak_per_s: number; per_s: Array<{ sec: number; count: number }> };
  model: {
    open_faults: number;
    inflight_ioctls: number;
    late_events: number;
    ioctl_exits_without_enter: number;
    ioctls_dropped: number;
    orphan_msgs_dropped: number;
    mode_switches_dropped: number;
    uffds_dropped: number;
    histogram_clamped: number;
  };
  source?: Record<string, unknown>;
}

export interface SummaryMeta {
  backend: string;
  /** default: last - first event time */
  durationNs?: number;
  /** records lost (by the kernel side / ring buffer) */
  lost?: number;
  /** lost records by event type name */
  lostByType?: Record<string, number>;
  /** true when the stream was generated, not captured */
  generated?: boolean;
  source?: Record<string, unknown>;
}

export interface SummaryInput {
  stats: Stats;
  registry: UffdRegistry;
  /** events received by type */
  received: Record<string, number>;
  firstTs?: number;
  lastTs?: number;
  lifecycle?: LifecycleCounters;
  openFaults?: number;
  inflightIoctls?: number;
  /** a process's name by pid (the analysis's latest); else the owners' and faulting processes' names are used */
  processName?: (pid: number) => string | undefined;
  meta: SummaryMeta;
}

function lat(h: LatencyHistogram): LatencySummary {
  const s = h.snapshot();
  return { count: s.count, p50: s.p50, p90: s.p90, p99: s.p99, max: s.max, mean: Math.round(h.mean) };
}

function stagesOf(s: StageHistograms) {
  return { fault: lat(s.get('total')), queue: lat(s.get('queue')), service: lat(s.get('service')), wake: lat(s.get('wake')) };
}

function hex(n: number | bigint): string {
  return `0x${n.toString(16)}`;
}

function hexOrNull(v: bigint | undefined | null): string | null {
  return v === undefined || v === null ? null : hex(v);
}

export function buildSummary(input: SummaryInput): Summary {
  const { stats, registry, meta } = input;
  const f = stats.faults;
  const byType: Record<string, number> = {};
  let received = 0;
  for (const t of EVENT_TYPES) byType[t] = 0;
  for (const [k, v] of Object.entries(input.received)) {
    byType[k] = v;
    received += v;
  }
  const lostByType = { ...(meta.lostByType ?? {}) };
  const lost = meta.lost ?? Object.values(lostByType).reduce((a, b) => a + b, 0);
  const first = input.firstTs;
  const last = input.lastTs;
  const duration = meta.durationNs ?? (first !== undefined && last !== undefined ? last - first : 0);

  const ioctls: Record<string, IoctlSummary> = {};
  for (const name of [...stats.ioctls.keys()].sort()) {
    const s = stats.ioctls.get(name)!;
    ioctls[name] = {
      count: s.count,
      errors: s.errors,
      p50_ns: s.duration.count ? s.duration.percentile(50) : null,
      p99_ns: s.duration.count ? s.duration.percentile(99) : null,
      max_ns: s.duration.count ? s.duration.max : null,
      errnos: { ...s.errnos },
    };
  }

  const modeSwitches: ModeSwitchSummary[] = registry.modeSwitches().map((a) => ({
    ts_ns: a.ts,
    uffd: uffdId(a.uffd),
    uffd_created_ns: a.uffdCreatedNs,
    pid: a.pid,
    enable: hexOrNull(a.enable),
    disable: hexOrNull(a.disable),
    result: a.ret ?? null,
    latency_ns: a.latencyNs ?? null,
    drain_ns: a.drainNs ?? null,
    wakeup_ns: a.wakeupNs ?? null,
    errno: a.errno,
    tid: a.tid,
    comm: a.comm,
    mode_before: a.modeBefore,
    mode_after: a.modeAfter ?? null,
    woken: a.woken,
    expected: a.verdict?.expected ?? null,
    rule: a.verdict?.rule ?? null,
    why: a.verdict?.reason ?? null,
    kernel_agrees: a.verdict?.agrees ?? null,
  }));

  const known = new Map<number, string>();
  // owners' names last: the creating thread's name is the process's more often than a faulting thread's
  for (const [pid, g] of stats.byPid) if (g.comm) known.set(pid, g.comm);
  for (const u of registry.all()) if (u.ownerPid !== null && u.ownerComm) known.set(u.ownerPid, u.ownerComm);
  const nameOf = (pid: number): string | null => known.get(pid) ?? input.processName?.(pid) ?? null;

  const uffds: UffdSummary[] = registry
    .all()
    .sort((a, b) => a.firstTs - b.firstTs)
    .map((u) => ({
      id: u.idHex,
      key: uffdKey({ ctx: u.id, createdNs: u.createdTs ?? null }),
      pid: u.ownerPid,
      comm: u.ownerComm,
      features: hex(u.features ?? BigInt(u.ctxFeatures)),
      mode: u.mode,
      faults: u.faults,
      features_source: u.features !== undefined ? 'api' : 'ctx',
      requested_features: hexOrNull(u.requestedFeatures),
      available_features: hexOrNull(u.availableFeatures),
      generation: u.generation,
      ctx_features: hex(u.ctxFeatures),
      owner_source: u.ownerSource,
      created_ns: u.createdTs ?? null,
      closed_ns: u.closedTs ?? null,
      pids: [...u.pids].sort((a, b) => a - b),
      handler_pids: [...u.handlerPids].sort((a, b) => a - b),
      handlers: [...u.handlerPids].sort((a, b) => a - b).map((pid) => ({ pid, comm: nameOf(pid) })),
      armed_bytes: Number(u.armedBytes),
      ranges: u.ranges.slice(0, 64).map((r) => ({ start: `0x${r.start.toString(16)}`, end: `0x${r.end.toString(16)}`, mode: hex(r.mode) })),
      fault_entries: u.faultEntries,
      faults_by_kind: { ...u.faultsByKind },
      messages: u.messages,
      ioctls: u.ioctls,
      mode_changes: u.modeHistory.slice(0, 256).map((m) => ({ ts_ns: m.ts, mode: m.mode, cause: m.cause })),
    }));

  const byKind: Summary['latency_ns_by_kind'] = {};
  for (const [k, g] of stats.byKind) if (g.faults > 0) byKind[k] = stagesOf(g.latency);

  const processes: ProcessSummary[] = [...stats.byPid.entries()]
    .map(([pid, g]) => ({
      pid,
      comm: g.comm,
      faults: g.faults,
      entries: g.entries,
      blocked: g.blocked,
      by_kind: { ...g.byKind },
      latency_ns: { fault: lat(g.latency.get('total')) },
    }))
    .sort((a, b) => b.faults - a.faults || a.pid - b.pid);
  if (stats.otherPids.entries > 0) {
    const g = stats.otherPids;
    processes.push({ pid: -1, comm: g.comm, faults: g.faults, entries: g.entries, blocked: g.blocked, by_kind: { ...g.byKind }, latency_ns: { fault: lat(g.latency.get('total')) } });
  }

  const lc = input.lifecycle;
  let clamped = 0;
  for (const st of STAGES) clamped += stats.latency.get(st).clamped;
  const ended = {} as Record<FaultEnd, number>;
  const ufEnded = {} as Record<FaultEnd, number>;
  for (const k of FAULT_ENDS) {
    ended[k] = f.ends[k];
    ufEnded[k] = f.userfaultEnds[k];
  }
  const pfMatched = lc?.msgsMatched ?? 0;
  const pfTotal = stats.messages.pagefault.missing + stats.messages.pagefault.wp + stats.messages.pagefault.minor + stats.messages.pagefault.rwp;

  const summary: Summary = {
    schema: SUMMARY_SCHEMA,
    backend: meta.backend,
    duration_ns: duration,
    events: { received, lost, by_type: byType, lost_by_type: lostByType },
    faults: {
      total: f.userfaults,
      missing: f.byKind.missing,
      wp: f.byKind.wp,
      minor: f.byKind.minor,
      rwp: f.byKind.rwp,
      async: f.byKind.async,
      unknown: f.byKind.unknown,
      entries: f.entries,
      blocked: f.blocked,
      rewaits: f.rewaits,
      ended,
      userfaults_ended: ufEnded,
      recovered: f.recovered,
      incomplete: f.incomplete,
    },
    messages: {
      pagefault: { ...stats.messages.pagefault },
      fork: stats.messages.fork,
      remap: stats.messages.remap,
      remove: stats.messages.remove,
      unmap: stats.messages.unmap,
      other: stats.messages.other,
      pagefault_matched: pfMatched,
      pagefault_unmatched: Math.max(0, pfTotal - pfMatched),
    },
    latency_ns: stagesOf(stats.latency),
    ioctls,
    mode_switches: modeSwitches,
    uffds,
    generated: meta.generated ?? false,
    start_ns: first ?? null,
    latency_ns_by_kind: byKind,
    processes,
    latency_hist_ns: {
      fault: stats.latency.get('total').buckets(),
      queue: stats.latency.get('queue').buckets(),
      service: stats.latency.get('service').buckets(),
      wake: stats.latency.get('wake').buckets(),
    },
    fault_rate: { window_s: stats.faultRate.seconds, peak_per_s: stats.faultRate.peak(), per_s: stats.faultRate.series(60) },
    model: {
      open_faults: input.openFaults ?? 0,
      inflight_ioctls: input.inflightIoctls ?? 0,
      late_events: lc?.lateEvents ?? 0,
      ioctl_exits_without_enter: lc?.ioctlExitsWithoutEnter ?? 0,
      ioctls_dropped: lc?.ioctlsDropped ?? 0,
      orphan_msgs_dropped: lc?.orphanMsgsDropped ?? 0,
      mode_switches_dropped: registry.modeSwitchesDropped,
      uffds_dropped: registry.uffdsDropped,
      histogram_clamped: clamped,
    },
  };
  if (meta.source !== undefined) summary.source = meta.source;
  return summary;
}
