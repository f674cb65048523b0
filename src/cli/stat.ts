// `uffdscope stat`: trace and print fault counts and latency statistics.
import { closeSync, fchmodSync, fstatSync, openSync, writeSync } from 'node:fs';
import { runSession } from '../capture/session.js';
import { bootTimeNs } from '../capture/liveCapture.js';
import { decodeRecords } from '../events/decode.js';
import { Analysis } from '../stats/pipeline.js';
import { formatModeSwitches, formatSummaryTable, type Summary } from '../stats/summary.js';
import type { Uapi } from '../events/uapi.js';
import { captureOptions, checkOutputPath, outputFileError, type BackendChoice, type HooksChoice } from './record.js';
import { EXIT, UsageError } from './errors.js';
import { formatInKernelTable, summarizeUffd, type UffdWaitStats, type UffdWaitSummary } from '../stats/inKernelStats.js';

export interface StatOptions {
  pid: number[];
  duration?: number;
  interval?: number;
  jsonOut?: string;
  ringBufferMb?: number;
  backend?: BackendChoice;
  hooks?: HooksChoice;
  /** count and histogram in the kernel instead of streaming every event */
  inKernel?: boolean;
  command: string[];
  uapi: Uapi;
}

/** Writes the summary JSON; a regular file gets mode 0600, also when it existed. */
function writeJsonOut(path: string, text: string): void {
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
    const b = Buffer.from(text);
    for (let off = 0; off < b.length; ) off += writeSync(fd, b, off);
  } catch (e) {
    throw outputFileError(path, '--json-out', e);
  } finally {
    closeSync(fd);
  }
}

/** What `stat --in-kernel` prints and writes: the kernel's per-uffd table,
 *  plus the few events still streamed (processes, uffd creation, control
 *  ioctls such as SET_MODE) in `events`. */
export interface InKernelSummary {
  schema: 'uffdscope.in-kernel/1';
  backend: string;
  duration_ns: number;
  uffds: UffdWaitSummary[];
  events: Summary['events'];
  mode_switches: Summary['mode_switches'];
  ioctls: Summary['ioctls'];
}

/** One row per uffd; the mode from its features as the registry reads them. */
function inKernelRows(stats: readonly UffdWaitStats[], analysis: Analysis): UffdWaitSummary[] {
  return stats.map((u) => summarizeUffd(u, (f) => analysis.registry.modeOf(f)));
}

export async function runStat(o: StatOptions): Promise<Summary | InKernelSummary> {
  if (o.jsonOut) checkOutputPath(o.jsonOut, '--json-out', true, true);
  if (o.inKernel && o.backend && o.backend !== 'auto' && o.backend !== 'tracepoint') {
    throw new UsageError(`--in-kernel counts in the tracepoint backend's programs; drop --backend ${o.backend} or --in-kernel`);
  }
  const analysis = new Analysis(o.uapi);
  let started = 0;
  const result = await runSession(
    {
      capture: o.inKernel
        ? { ...captureOptions({ ...o, pid: o.pid, backend: 'tracepoint' }), inKernelStats: true }
        : captureOptions({ ...o, pid: o.pid }),
      durationS: o.duration,
      tickMs: o.interval ? o.interval * 1000 : undefined,
      onOpen: () => {
        started = bootTimeNs();
      },
      onTick: (cap) => {
        let table: string;
        if (o.inKernel) {
          table = formatInKernelTable(inKernelRows(cap.uffdStats(), analysis), started);
        } else {
          const c = cap.counters();
          table = formatSummaryTable(analysis.summary({ backend: cap.info.backend, lost: c.lostTotal, lostByType: c.lost, durationNs: bootTimeNs() - started }));
        }
        process.stdout.write(`--- ${new Date().toISOString()}\n${table}\n`);
      },
    },
    (batch, count) => decodeRecords(batch, o.uapi, (e) => analysis.push(e), count),
  );
  analysis.finish();
  const c = result.counters;
  const summary = analysis.summary({
    backend: result.info.backend,
    lost: c.lostTotal,
    lostByType: c.lost,
    durationNs: bootTimeNs() - started,
    source: { kind: 'live', selection: { pids: o.pid, command: o.command.length ? o.command : null, hostWide: result.info.hostWide }, stop: result.reason, blockDetection: result.info.blockDetection },
  });
  let out: Summary | InKernelSummary = summary;
  if (o.inKernel) {
    const rows = inKernelRows(result.uffdStats ?? [], analysis);
    out = { schema: 'uffdscope.in-kernel/1', backend: summary.backend, duration_ns: summary.duration_ns, uffds: rows, events: summary.events, mode_switches: summary.mode_switches, ioctls: summary.ioctls };
    process.stdout.write(formatInKernelTable(rows, started) + '\n\n');
    process.stdout.write(formatModeSwitches(summary.mode_switches, summary.start_ns ?? 0, { woken: false }).join('\n') + '\n\n');
    const lost = summary.events.lost;
    process.stdout.write(`backend ${summary.backend}; ${summary.events.received} events streamed (processes, uffd creation, control ioctls), ${lost} lost\n`);
  } else {
    process.stdout.write(formatSummaryTable(summary) + '\n');
  }
  if (o.jsonOut) writeJsonOut(o.jsonOut, JSON.stringify(out, null, 2) + '\n');
  if (result.commandExit && result.commandExit.code !== 0 && result.reason === 'command-exited') {
    process.exitCode = result.commandExit.code ?? EXIT.CAPTURE;
  }
  return out;
}
