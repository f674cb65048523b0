// Prometheus / OpenMetrics exposition of a live Analysis (`uffdscope serve`,
// and `top --metrics ADDR`). The metrics live in one registry of their own
// (never prom-client's global default one), rendered per scrape in the format
// the scraper asked for; no scrape changes the metric objects.
//
// Cardinality is bounded: no address, tid or uffd-id labels; process labels
// (comm + pid of a uffd's owner) are capped at `maxProcesses` distinct pairs
// and the rest folded into comm="other", pid="other"; ioctl names and errno
// values are capped the same way.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { toolVersion } from '../src/capture/recordingHeader.js';
import { OPENMETRICS_CONTENT_TYPE, renderOpenMetrics } from './openmetricsFormat.js';
import { FAULT_KINDS, type FaultRecord } from '../src/model/faultLifecycle.js';
import type { Analysis } from '../src/stats/pipeline.js';
import type { KernelStatsTracker } from '../src/stats/kernelStatsTracker.js';
import { pendingOf, userfaultsOf } from '../src/stats/kernelStats.js';
import { KernelLatencyMetric } from './kernelLatencyMetric.js';

/** What the capture reports about records it could not deliver. */
export interface CaptureCounters {
  lostTotal: number;
  lost?: Record<string, number>;
  /** the capture backend in use (fentry, kprobe, tracepoint), for uffdscope_build_info */
  backend?: string;
}

export interface MetricsOptions {
  /** distinct (comm, pid) label pairs before folding into "other". Default 50. */
  maxProcesses?: number;
  /** distinct ioctl names / errno values before folding into "other". Default 32. */
  maxLabelValues?: number;
  /** metric name prefix. Default "uffdscope_". */
  prefix?: string;
  /** the kernel counts the faults (the default of serve and top): userfaults,
   *  their latency and per-fault ioctls come from here, not from fault records */
  kernel?: KernelMetricsFeed;
}

export interface KernelMetricsFeed {
  tracker: KernelStatsTracker;
  /** process name of a pid, from the streamed events */
  processName(pid: number): string | undefined;
  /** per-fault ioctls that succeeded, by name (counted in the kernel) */
  perFaultIoctls(): Record<string, number>;
  /** reads the kernel's counts now, before a scrape is answered */
  refresh?(): void;
}

/** One exposition format of the metrics: its content type and a scrape's body. */
export interface Exposition {
  readonly contentType: string;
  metrics(): Promise<string>;
}

export interface AttachedMetrics {
  /** the metrics in the OpenMetrics format (application/openmetrics-text; version=1.0.0) */
  registry: Exposition;
  /** the registry holding the metrics, rendered in the Prometheus text format (text/plain; version=0.0.4) */
  textRegistry: Registry;
  /** HTTP handler: GET /metrics (content negotiated on Accept), 404 elsewhere */
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** stops listening to the analysis */
  detach: () => void;
}

/** Latency buckets in seconds: 1, 2, 5 steps from 1 µs to 10 s (log-spaced). */
export const LATENCY_BUCKETS_S: readonly number[] = (() => {
  const out: number[] = [];
  for (let e = -6; e <= 1; e++) {
    for (const m of [1, 2, 5]) {
      const v = Number((m * 10 ** e).toPrecision(1));
      if (v <= 10) out.push(v);
    }
  }
  return out;
})();

/** Caps the distinct values a label takes; later values fold into "other". */
export class LabelCap {
  private readonly seen = new Set<string>();
  folded = 0;
  constructor(readonly max: number) {}

  value(v: string): string {
    if (this.seen.has(v)) return v;
    if (this.seen.size < this.max) {
      this.seen.add(v);
      return v;
    }
    this.folded++;
    return 'other';
  }

  get size(): number {
    return this.seen.size;
  }
}

const STAGE_LABELS: Array<['total' | 'queue' | 'service' | 'wake', string]> = [
  ['total', 'total'],
  ['queue', 'queue'],
  ['service', 'service'],
  ['wake', 'wake'],
];

/** The exporter's own process: CPU time, resident memory, start time (the standard process_* names, prefixed). */
function ownProcessMetrics(p: string, registers: Registry[]): void {
  let lastCpuUs = 0;
  new Counter({
    name: `${p}process_cpu_seconds_total`,
    help: 'CPU time (user + system) of this uffdscope process',
    registers,
    collect() {
      const u = process.cpuUsage();
      const us = u.user + u.system;
      this.inc((us - lastCpuUs) / 1e6);
      lastCpuUs = us;
    },
  });
  new Gauge({
    name: `${p}process_resident_memory_bytes`,
    help: 'Resident memory of this uffdscope process',
    registers,
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  const start = new Gauge({ name: `${p}process_start_time_seconds`, help: 'Start time of this uffdscope process, seconds since the Unix epoch', registers });
  start.set(Math.round(performance.timeOrigin) / 1000);
}

export function attachMetrics(analysis: Analysis, countersFn: () => CaptureCounters | null, opts: MetricsOptions = {}): AttachedMetrics {
  const p = opts.prefix ?? 'uffdscope_';
  // one set of metric objects in one registry: two registries sharing them
  // double-count nothing, but prom-client's OpenMetrics rendering renames them
  const textRegistry = new Registry();
  const registers = [textRegistry];
  const registry: Exposition = { contentType: OPENMETRICS_CONTENT_TYPE, metrics: () => renderOpenMetrics(textRegistry) };
  const procCap = new LabelCap(opts.maxProcesses ?? 50);
  const ioctlCap = new LabelCap(opts.maxLabelValues ?? 32);
  const errnoCap = new LabelCap(opts.maxLabelValues ?? 32);
  const lostCap = new LabelCap(opts.maxLabelValues ?? 32);
  const foldCaps: Array<[string, LabelCap]> = [
    ['process', procCap],
    ['ioctl', ioctlCap],
    ['errno', errnoCap],
  ];
  const lastFolded = new Map(foldCaps.map(([label]) => [label, 0]));

  // counting in the kernel: counters grow by what it counted since the last scrape
  const lastKind = new Map<string, number>();
  const lastProc = new Map<string, number>();
  const kernelByKind = function (this: Counter<'kind'>) {
    const t = kernel!.tracker.totals().userfaults;
    for (const k of FAULT_KINDS) {
      const d = t[k] - (lastKind.get(k) ?? 0);
      if (d > 0) this.inc({ kind: k }, d);
      lastKind.set(k, Math.max(t[k], lastKind.get(k) ?? 0));
    }
  };
  const kernelByProcess = function (this: Counter<'comm' | 'pid'>) {
    const byOwner = new Map<string, number>();
    for (const u of kernel!.tracker.all()) {
      const k = `${kernel!.processName(u.pid) ?? 'unknown'}\0${u.pid}`;
      byOwner.set(k, (byOwner.get(k) ?? 0) + userfaultsOf(u));
    }
    for (const [k, n] of byOwner) {
      const d = n - (lastProc.get(k) ?? 0);
      if (d <= 0) continue;
      lastProc.set(k, n);
      const [comm, pid] = k.split('\0');
      this.inc(procCap.value(k) === 'other' ? { comm: 'other', pid: 'other' } : { comm, pid }, d);
    }
  };
  const kernel = opts.kernel;
  const byKind = new Counter({ name: `${p}userfaults_total`, help: 'Userfaults (faults that blocked, were resolved through uffd, or were resolved async) by kind', labelNames: ['kind'], registers, collect: kernel ? kernelByKind : undefined });
  for (const k of FAULT_KINDS) byKind.inc({ kind: k }, 0);
  const byProcess = new Counter({
    name: `${p}process_userfaults_total`,
    help: 'Userfaults by the process owning the uffd (comm, pid); past the cap folded into comm="other", pid="other"',
    labelNames: ['comm', 'pid'],
    registers,
    collect: kernel ? kernelByProcess : undefined,
  });
  const latencyName = `${p}fault_latency_seconds`;
  const latencyHelp = 'Userfault latency by stage: total (fault to running again), queue (to message read), service (to resolved), wake (to running again)';
  let latency: Histogram | null = null;
  if (kernel) {
    const m = new KernelLatencyMetric(latencyName, latencyHelp, LATENCY_BUCKETS_S, () => kernel.tracker.totals().stages);
    textRegistry.registerMetric(m as unknown as Histogram);
  } else {
    latency = new Histogram({ name: latencyName, help: latencyHelp, labelNames: ['stage'], buckets: [...LATENCY_BUCKETS_S], registers });
    for (const [, s] of STAGE_LABELS) latency.zero({ stage: s });
  }

  if (kernel) {
    let lastUnseen = 0;
    new Counter({
      name: `${p}fault_ends_unseen_total`,
      help: 'Blocked userfaults whose return to a CPU no hook saw (a hook was skipped): counted, not in fault_latency_seconds',
      registers,
      collect() {
        const n = kernel.tracker.totals().endsUnseen;
        this.inc(Math.max(0, n - lastUnseen));
        lastUnseen = n;
      },
    });
  }

  // the rest are read from the analysis (or the capture) when scraped
  let lastIoctl = new Map<string, number>();
  let lastErr = new Map<string, number>();
  const ioctls = new Counter({
    name: `${p}ioctls_total`,
    help: 'uffd ioctls completed, by ioctl',
    labelNames: ['ioctl'],
    registers,
    collect() {
      const next = new Map<string, number>();
      for (const [name, s] of analysis.stats.ioctls) next.set(name, s.count);
      // counting in the kernel, a per-fault ioctl streams only when it fails
      for (const [name, n] of Object.entries(kernel?.perFaultIoctls() ?? {})) next.set(name, (next.get(name) ?? 0) + n);
      for (const [name, n] of next) {
        const d = n - (lastIoctl.get(name) ?? 0);
        if (d > 0) this.inc({ ioctl: ioctlCap.value(name) }, d);
      }
      lastIoctl = next;
    },
  });
  const ioctlErrors = new Counter({
    name: `${p}ioctl_errors_total`,
    help: 'uffd ioctls that failed, by ioctl and errno',
    labelNames: ['ioctl', 'errno'],
    registers,
    collect() {
      const next = new Map<string, number>();
      for (const [name, s] of analysis.stats.ioctls) {
        for (const [errno, n] of Object.entries(s.errnos)) {
          const key = `${name}\0${errno}`;
          next.set(key, n);
          const d = n - (lastErr.get(key) ?? 0);
          if (d > 0) this.inc({ ioctl: ioctlCap.value(name), errno: errnoCap.value(errno) }, d);
        }
      }
      lastErr = next;
    },
  });
  let lastSwitchOk = 0;
  let lastSwitchErr = new Map<string, number>();
  const modeSwitches = new Counter({
    name: `${p}mode_switch_attempts_total`,
    help: 'UFFDIO_SET_MODE attempts by result (ok, or the errno)',
    labelNames: ['result'],
    registers,
    collect() {
      const s = analysis.stats.ioctls.get('UFFDIO_SET_MODE');
      this.inc({ result: 'ok' }, 0);
      if (s === undefined) return;
      const ok = s.count - s.errors;
      if (ok > lastSwitchOk) this.inc({ result: 'ok' }, ok - lastSwitchOk);
      lastSwitchOk = ok;
      const next = new Map<string, number>();
      for (const [errno, n] of Object.entries(s.errnos)) {
        next.set(errno, n);
        const d = n - (lastSwitchErr.get(errno) ?? 0);
        if (d > 0) this.inc({ result: errnoCap.value(errno) }, d);
      }
      lastSwitchErr = next;
    },
  });
  let lastLost = 0;
  let lastLostBy = new Map<string, number>();
  const lost = new Counter({
    name: `${p}lost_records_total`,
    help: 'Records the kernel side could not deliver (ring buffer full), by event type',
    labelNames: ['type'],
    registers,
    collect() {
      const c = countersFn();
      if (c === null) return;
      const by = c.lost ?? {};
      let sum = 0;
      const next = new Map<string, number>();
      for (const [t, n] of Object.entries(by)) {
        sum += n;
        next.set(t, n);
        const d = n - (lastLostBy.get(t) ?? 0);
        if (d > 0) this.inc({ type: lostCap.value(t) }, d);
        else this.inc({ type: lostCap.value(t) }, 0);
      }
      lastLostBy = next;
      // a total without a per-type breakdown
      const rest = c.lostTotal - sum - lastLost;
      if (rest > 0) {
        this.inc({ type: 'unknown' }, rest);
        lastLost += rest;
      }
    },
  });
  let lastRecv = new Map<string, number>();
  const received = new Counter({
    name: `${p}events_received_total`,
    help: 'Decoded events received, by event type',
    labelNames: ['type'],
    registers,
    collect() {
      const next = new Map<string, number>();
      for (const [t, n] of Object.entries(analysis.received())) {
        next.set(t, n);
        this.inc({ type: t }, Math.max(0, n - (lastRecv.get(t) ?? 0)));
      }
      lastRecv = next;
    },
  });
  const openFaults = new Gauge({
    name: `${p}open_faults`,
    help: 'Faults in progress (entered, not yet ended) in the model',
    registers,
    collect() {
      if (kernel) this.set(kernel.tracker.all().reduce((a, u) => a + pendingOf(u), 0));
      else this.set(analysis.lifecycle.openFaults);
    },
  });
  const uffds = new Gauge({
    name: `${p}uffds`,
    help: 'userfaultfd contexts tracked',
    registers,
    collect() {
      this.set(Math.max(analysis.registry.size, kernel?.tracker.size ?? 0));
    },
  });
  const folded = new Counter({
    name: `${p}label_values_folded_total`,
    help: 'Observations whose label value was folded into "other" (cardinality cap), by label',
    labelNames: ['label'],
    registers,
    collect() {
      for (const [label, cap] of foldCaps) {
        this.inc({ label }, cap.folded - lastFolded.get(label)!);
        lastFolded.set(label, cap.folded);
      }
    },
  });
  const buildInfo = new Gauge({
    name: `${p}build_info`,
    help: 'Always 1: the uffdscope version, the Node.js version and the capture backend (unknown before the capture opens)',
    labelNames: ['version', 'nodejs_version', 'backend'],
    registers,
    collect() {
      this.reset();
      this.set({ version: toolVersion, nodejs_version: process.versions.node, backend: countersFn()?.backend ?? 'unknown' }, 1);
    },
  });
  void [ioctls, ioctlErrors, modeSwitches, lost, received, openFaults, uffds, folded, buildInfo];
  ownProcessMetrics(p, registers);

  const onRecord = (r: FaultRecord) => {
    if (!r.userfault) return;
    byKind.inc({ kind: r.kind });
    const info = analysis.registry.get(r.uffd);
    let comm = 'unknown';
    let pid = 'unknown';
    if (info !== undefined && info.ownerPid !== null) {
      const v = procCap.value(`${info.ownerComm ?? ''}\0${info.ownerPid}`);
      if (v === 'other') comm = pid = 'other';
      else {
        comm = info.ownerComm ?? '';
        pid = String(info.ownerPid);
      }
    }
    byProcess.inc({ comm, pid });
    const st = r.stages;
    for (const [k, s] of STAGE_LABELS) {
      const v = st[k];
      if (v !== undefined) latency?.observe({ stage: s }, v / 1e9);
    }
  };
  const detach = kernel ? () => {} : analysis.onFault(onRecord);

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    if (url === '/') {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' }).end('uffdscope metrics: GET /metrics\n');
      return;
    }
    if (url !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found: GET /metrics\n');
      return;
    }
    opts.kernel?.refresh?.();
    const om = /application\/openmetrics-text/i.test(String(req.headers.accept ?? ''));
    const reg: Exposition = om ? registry : textRegistry;
    reg.metrics().then(
      (body) => {
        res.writeHead(200, { 'Content-Type': reg.contentType });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (e: unknown) => {
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`error: ${(e as Error)?.message ?? e}\n`);
      },
    );
  };

  return { registry, textRegistry, handler, detach };
}
