// `uffdscope stat`: trace and print fault counts and latency statistics.
import { closeSync, fchmodSync, fstatSync, openSync, writeSync } from 'node:fs';
import { runSession } from '../capture/session.js';
import { bootTimeNs, type HooksChoice } from '../capture/liveCapture.js';
import { LIVE_RECORD_ABI, recordDecoder } from '../source/recordDecoder.js';
import { Analysis } from '../stats/pipeline.js';
import { liveSummaryMeta } from '../pipeline/summaryMeta.js';
import type { Summary } from '../stats/summary.js';
import { formatModeSwitches, formatSummaryTable } from '../stats/summaryText.js';
import type { Uapi } from '../events/uapi.js';
import { checkOutputPath, outputFileError } from '../outputPath.js';
import { captureOptions, type BackendChoice } from '../capture/captureOptions.js';
import { sessionExitStatus, UsageError } from '../exitCodes.js';
import { formatKernelTable, perFaultIoctls, summarizeStages, summarizeUffd, userfaultsOf, type UffdKernelSummary } from '../stats/kernelStats.js';
import { KernelStatsTracker, type KernelTotals } from '../stats/kernelStatsTracker.js';
import { backend } from '../kernel/backends.js';
import { formatLatencyHists, stageHists } from '../stats/histText.js';
import { tracingLine } from './tracingLine.js';
import { jsonPieces } from './jsonPieces.js';

export interface StatOptions {
  /** false: keep the normal CPU priority (--no-priority) */
  priority?: boolean;
  pid: number[];
  duration?: number;
  interval?: number;
  jsonOut?: string;
  /** print the JSON on stdout instead of the tables (which go to stderr) */
  json?: boolean;
  ringBufferMb?: number;
  backend?: BackendChoice;
  hooks?: HooksChoice;
  /** stream every fault through the lifecycle model instead of counting
   *  in the kernel (stages per fault, incomplete faults, per-fault ioctls) */
  perFault?: boolean;
  /** print the total-latency histogram after the table (and add it to the JSON) */
  hist?: boolean;
  command: string[];
  uapi: Uapi;
}
/** Writes the summary JSON; a regular file gets mode 0600, also when it existed. */
function writeJsonOut(path: string, pieces: Iterable<string>): void {
  let fd: number;
  try {
    fd = openSync(path, 'w', 0o600);
  } catch (e) {
    throw outputFileError(path, '--json-out', e);
  }
  try {
    // 'w' keeps the mode of an existing file: summaries hold addresses.
    // (/dev/stdout and FIFOs are written as they are.)
    if (fstatSync(fd).isFile()) fchmodSync(fd, 0o600);
    for (const piece of pieces) {
      const b = Buffer.from(piece);
      for (let off = 0; off < b.length; ) off += writeSync(fd, b, off);
    }
  } catch (e) {
    throw outputFileError(path, '--json-out', e);
  } finally {
    closeSync(fd);
  }
}

/** What stat prints and writes when the kernel counts: its per-uffd
 *  table, plus the rare events still streamed (processes, uffd creation,
 *  control ioctls such as SET_MODE, failed ioctls). */
export interface KernelSummary {
  schema: 'uffdscope.in-kernel/2';
  backend: string;
  duration_ns: number;
  /** records of the rare-event stream the ring had no room for */
  lost: number;
  uffds: UffdKernelSummary[];
  totals: { uffds: number; userfaults: Record<string, number> & { total: number }; fault_entries: number; blocked: number; ends_unseen: number; latency: UffdKernelSummary['latency'] };
  /** per-fault uffd ioctls that succeeded (counted in the kernel), by name */
  per_fault_ioctls: Record<string, number>;
  events: Summary['events'];
  mode_switches: Summary['mode_switches'];
  ioctls: Summary['ioctls'];
}

function totalsSummary(t: KernelTotals): KernelSummary['totals'] {
  return { uffds: t.uffds, userfaults: { ...t.userfaults, total: userfaultsOf(t) }, fault_entries: t.entries, blocked: t.blocked, ends_unseen: t.endsUnseen, latency: summarizeStages(t.stages, 'all') };
}

/** Where stat's records and clock come from: the live session, or a test's stand-in. */
export interface StatDeps {
  session: typeof runSession;
  now: () => number;
  /** the record ABI of the session's batches */
  recordAbi: number;
}

const LIVE: StatDeps = { session: runSession, now: bootTimeNs, recordAbi: LIVE_RECORD_ABI };

export async function runStat(o: StatOptions, deps: StatDeps = LIVE): Promise<Summary | KernelSummary> {
  const { session, now } = deps;
  // --json: the JSON alone on stdout, the tables on stderr (as check does)
  const textOut = o.json ? process.stderr : process.stdout;
  if (o.jsonOut) checkOutputPath(o.jsonOut, '--json-out', true, true);
  const inKernel = !o.perFault;
  if (inKernel && o.backend && o.backend !== 'auto' && backend(o.backend).precise) {
    throw new UsageError(`--backend ${o.backend} adds per-fault records: give --per-fault with it, or drop --backend`);
  }
  const analysis = new Analysis(o.uapi);
  const decoder = recordDecoder(deps.recordAbi, o.uapi, (e) => analysis.push(e));
  const tracker = new KernelStatsTracker();
  let started = 0;
  // the tables need quantiles only; the JSON also takes the total's histogram
  const rows = (hists: 'none' | 'total'): UffdKernelSummary[] => tracker.all().map((u) => summarizeUffd(u, (f) => analysis.registry.modeOf(f), hists));
  const table = (of: UffdKernelSummary[] = rows('none')): string => formatKernelTable(of, started, (pid) => analysis.processName(pid));
  const result = await session(
    {
      capture: captureOptions({ ...o, inKernel }),
      durationS: o.duration,
      tickMs: o.interval ? o.interval * 1000 : undefined,
      onOpen: (cap) => {
        started = now();
        process.stderr.write(tracingLine({ ...o, hostWide: cap.info.hostWide }) + '\n');
      },
      onTick: (cap) => {
        decoder.advance(now());
        let text: string;
        if (inKernel) {
          tracker.update(cap.uffdStats(), now());
          text = table();
        } else {
          const c = cap.counters();
          text = formatSummaryTable(analysis.summary(liveSummaryMeta(cap.info, c, now() - started, { pids: o.pid, command: o.command })));
        }
        textOut.write(`--- ${new Date().toISOString()}\n${text}\n`);
      },
    },
    (batch, count) => decoder.push(batch, count),
  );
  decoder.end();
  analysis.finish();
  const c = result.counters;
  const summary = analysis.summary(liveSummaryMeta(result.info, c, now() - started, { pids: o.pid, command: o.command }, result.reason));
  let out: Summary | KernelSummary = summary;
  if (inKernel) {
    tracker.update(result.uffdStats ?? [], now());
    const ioctlCounts = perFaultIoctls(c.fastIoctls, o.uapi);
    out = {
      schema: 'uffdscope.in-kernel/2',
      backend: summary.backend,
      duration_ns: summary.duration_ns,
      lost: c.lostTotal,
      uffds: rows('total'),
      totals: totalsSummary(tracker.totals()),
      per_fault_ioctls: ioctlCounts,
      events: summary.events,
      mode_switches: summary.mode_switches,
      ioctls: summary.ioctls,
    };
    textOut.write(table(out.uffds) + '\n\n');
    textOut.write(formatModeSwitches(summary.mode_switches, summary.start_ns ?? 0, { woken: false }).join('\n') + '\n\n');
    const ioctlLine = Object.entries(ioctlCounts).map(([n, k]) => `${n} ${k}`).join(', ');
    textOut.write(`per-fault ioctls (counted in the kernel): ${ioctlLine || 'none'}\n`);
    const unseen = out.totals.ends_unseen;
    if (unseen > 0) textOut.write(`${unseen} blocked fault${unseen === 1 ? '' : 's'} ended unseen (a hook was skipped on a busy CPU): counted, not in the latency figures\n`);
    textOut.write(`backend ${summary.backend}; ${summary.events.received} events streamed (processes, uffd creation, control ioctls, failed ioctls), ${c.lostTotal} lost\n`);
  } else {
    textOut.write(formatSummaryTable(summary) + '\n');
  }
  // --hist: drawn by report's printer, and put in the JSON as report puts its own
  const hists = o.hist ? stageHists({ total: inKernel ? tracker.totals().stages.total : analysis.stats.latency.get('total') }) : null;
  if (hists) textOut.write(formatLatencyHists(hists) + '\n');
  const doc = (hists ? { ...out, latency_hist_log2_ns: hists } : out) as unknown as Record<string, unknown>;
  const json = function* (): Generator<string> {
    yield* jsonPieces(doc, 'uffds');
    yield '\n';
  };
  if (o.jsonOut) writeJsonOut(o.jsonOut, json());
  if (o.json) for (const piece of json()) process.stdout.write(piece);
  const status = sessionExitStatus(result);
  if (status !== 0) process.exitCode = status;
  return out;
}
