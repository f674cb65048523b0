// `stat --json-out` counted in the kernel writes uffdscope.in-kernel/2, not
// uffdscope.summary/1: this reads the part check compares (userfaults by kind,
// stage latencies, the total-latency histogram, ioctls, SET_MODE attempts)
// into the summary form. There are no latencies per fault kind: the kernel
// keeps them per uffd, so only the `all` group (or the one kind) is compared.
import { SUMMARY_SCHEMA, type LatencySummary, type Summary } from '../stats/summary.js';
import { FAULT_KINDS } from '../model/faultLifecycle.js';

export const KERNEL_SUMMARY_SCHEMA = 'uffdscope.in-kernel/2';

type KernelStage = { count: number; mean_ns: number | null; p50_ns: number | null; p90_ns: number | null; p99_ns: number | null; max_ns: number | null; hist_ns?: Array<[number, number]> };

/** The fields of uffdscope.in-kernel/2 read here (src/cli/stat.ts writes it). */
export interface KernelSummaryDoc {
  schema: typeof KERNEL_SUMMARY_SCHEMA;
  backend: string;
  duration_ns: number;
  totals: { userfaults: Record<string, number>; latency: Record<'total' | 'queue' | 'service' | 'wake', KernelStage> };
  events: Summary['events'];
  mode_switches: Summary['mode_switches'];
  ioctls: Summary['ioctls'];
}

const stage = { type: 'object', required: ['count', 'p50_ns', 'p90_ns', 'p99_ns', 'max_ns'] };
const histStage = { ...stage, properties: { hist_ns: { type: 'array', items: { type: 'array', minItems: 2, maxItems: 2, items: { type: 'number', minimum: 0 } } } } };
/** The part of uffdscope.in-kernel/2 check relies on. */
export const KERNEL_SUMMARY_SUBSET_SCHEMA = {
  type: 'object',
  required: ['schema', 'duration_ns', 'totals', 'ioctls', 'mode_switches'],
  properties: {
    duration_ns: { type: 'number', minimum: 0 },
    totals: {
      type: 'object',
      required: ['userfaults', 'latency'],
      properties: {
        userfaults: { type: 'object', additionalProperties: { type: 'number', minimum: 0 } },
        latency: {
          type: 'object',
          required: ['total', 'queue', 'service', 'wake'],
          properties: {
            total: histStage,
            queue: histStage,
            service: histStage,
            wake: histStage,
          },
        },
      },
    },
    ioctls: { type: 'object' },
    mode_switches: { type: 'array' },
  },
};

function lat(s: KernelStage): LatencySummary {
  return { count: s.count, p50: s.p50_ns ?? 0, p90: s.p90_ns ?? 0, p99: s.p99_ns ?? 0, max: s.max_ns ?? 0, mean: Math.round(s.mean_ns ?? 0) };
}

/** The summary check compares, from a validated in-kernel document. */
export function fromKernelSummary(d: KernelSummaryDoc): Summary {
  const u = d.totals.userfaults;
  const l = d.totals.latency;
  const latency = { fault: lat(l.total), queue: lat(l.queue), service: lat(l.service), wake: lat(l.wake) };
  const kinds = FAULT_KINDS.filter((k) => (u[k] ?? 0) > 0);
  const faults = Object.fromEntries(FAULT_KINDS.map((k) => [k, u[k] ?? 0]));
  return {
    schema: SUMMARY_SCHEMA,
    backend: d.backend,
    duration_ns: d.duration_ns,
    events: d.events,
    faults: { ...faults, total: u.total ?? kinds.reduce((a, k) => a + u[k], 0) },
    latency_ns: latency,
    // one kind: its latencies are the totals
    latency_ns_by_kind: kinds.length === 1 ? { [kinds[0]]: latency } : {},
    latency_hist_ns: l.total.hist_ns
      ? { fault: l.total.hist_ns, ...Object.fromEntries((['queue', 'service', 'wake'] as const).filter((st) => l[st].hist_ns).map((st) => [st, l[st].hist_ns])) }
      : undefined,
    ioctls: d.ioctls,
    mode_switches: d.mode_switches,
    generated: false,
    source: { kind: 'in-kernel summary' },
  } as unknown as Summary;
}
