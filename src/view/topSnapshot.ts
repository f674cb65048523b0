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
  /** replay: position and speed; `ended`: played to the end of the recording */
  replay?: { positionS: number; durationS: number; speed: number; paused: boolean; ended: boolean };
  /** display paused with `p` (capture continues) */
  paused: boolean;
  metricsAddress?: string;
  /** who counts the faults: the kernel (rows and latency from BPF maps, no
   *  per-fault events) or every fault streamed through the model */
  engine?: 'kernel' | 'per-fault';
  /** one line the user should read (nothing to show yet, say) */
  notice?: string;
  /** userfaults of every uffd seen (rows are capped), and how many uffds */
  userfaultsTotal?: number;
  uffdsTotal?: number;
}

export interface UffdRow {
  /** "0xffff8880...": the context address (several uffds may have it over time) */
  id: string;
  /** the uffd's identity, unique: uffdKey() of address + creation time (src/model/uffdIdentity.ts) */
  key: string;
  /** seconds after the capture's start when it was created; null: it existed before */
  createdS: number | null;
  /** every fd of it was closed (shown dimmed until it leaves the view) */
  closed: boolean;
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
  /** the uffd's key (UffdRow.key) or "all" */
  selected: string;
  buckets: LatencyBucket[];
  total: StageSummary;
  queue: StageSummary;
  service: StageSummary;
  wake: StageSummary;
  /** blocked faults whose end no hook saw: counted, not in these figures (in-kernel engine) */
  endsUnseen?: number;
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
  /** context address, as UffdRow.id */
  uffd: string;
  /** one lane per uffd: UffdRow.key */
  key: string;
  createdS: number | null;
  closed: boolean;
  /** "comm/pid" of its owner */
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
