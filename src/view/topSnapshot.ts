// What the terminal UI draws: a plain-data snapshot of the model, taken at
// a fixed frame rate. The UI never decodes and never touches the model; the
// model never waits for the UI (bpftop's split: collection apart from
// drawing). Times are nanoseconds unless a name says otherwise.

export type SourceKind = 'live' | 'recording' | 'generated';

export interface TopHeader {
  kernel: string;
  backend: string;
  source: SourceKind;
  /** a recording or scenario made by the generator, not captured: say so */
  generated: boolean;
  /** running the bundled workload because nothing else uses userfaultfd */
  demo: boolean;
  /** what is traced: "host-wide", "pid 123, 456", "command: ..." */
  selection: string;
  eventsPerSec: number;
  eventsTotal: number;
  lost: number;
  uptimeS: number;
  /** replay: position and speed */
  replay?: { positionS: number; durationS: number; speed: number; paused: boolean };
  /** display paused with `p` (capture continues) */
  paused: boolean;
  metricsAddress?: string;
}

export interface UffdRow {
  /** "0xffff8880..." */
  id: string;
  pid: number;
  comm: string;
  mode: 'sync' | 'async';
  armedMiB: number;
  faultsPerSec: number;
  faultsTotal: number;
  p50Ns: number | null;
  p99Ns: number | null;
  /** faults waiting right now */
  pending: number;
  /** "comm/pid" of the process(es) reading messages / resolving, or "" */
  handler: string;
  /** faults per second over the last seconds, oldest first */
  rateHistory: number[];
}

export interface LatencyBucket {
  /** [lowNs, highNs) */
  lowNs: number;
  highNs: number;
  count: number;
}

export interface StageSummary {
  count: number;
  p50Ns: number | null;
  p90Ns: number | null;
  p99Ns: number | null;
  maxNs: number | null;
}

export interface LatencyView {
  /** uffd id or "all" */
  selected: string;
  buckets: LatencyBucket[];
  total: StageSummary;
  queue: StageSummary;
  service: StageSummary;
  wake: StageSummary;
}

export interface ModeSpan {
  /** seconds relative to the right edge of the window (0 = now), negative = past */
  startS: number;
  endS: number;
  mode: 'sync' | 'async';
}

export interface ModeMarker {
  atS: number;
  ok: boolean;
  /** "EINVAL" ... when refused */
  errno: string | null;
  /** u64 masks; null when the struct could not be read */
  enable: bigint | null;
  disable: bigint | null;
  /** ioctl latency: the system call's duration (drain and wake-up included) */
  latencyNs: number;
  /** drain (lock to unlock) and wake-up, where a precise backend observed them */
  drainNs?: number;
  wakeupNs?: number;
  /** waiters woken by a switch to async */
  woken?: number;
}

export interface TimelineLane {
  uffd: string;
  label: string;
  spans: ModeSpan[];
  markers: ModeMarker[];
  /** faults per second, one per second of the window, oldest first */
  rate: number[];
}

export interface TimelineView {
  windowS: number;
  lanes: TimelineLane[];
}

export interface LogLine {
  ts: number;
  /** seconds since the start of the capture */
  atS: number;
  kind: 'ioctl' | 'mode' | 'error' | 'uffd' | 'proc';
  pid: number;
  comm: string;
  text: string;
}

export interface TopSnapshot {
  header: TopHeader;
  uffds: UffdRow[];
  latency: LatencyView;
  timeline: TimelineView;
  /** newest last; bounded */
  events: LogLine[];
}
