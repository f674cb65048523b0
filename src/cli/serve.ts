// `uffdscope serve [--listen 127.0.0.1:9465] [--pid PID]... [-- CMD]`: live
// capture with the metrics on http://ADDR/metrics for Prometheus (OpenMetrics
// when the scraper asks for it, the Prometheus text format otherwise).
// Binds to 127.0.0.1 unless --listen says otherwise.
import { runSession } from '../capture/session.js';
import { bootTimeNs, type LiveCapture, type HooksChoice } from '../capture/liveCapture.js';
import { LIVE_RECORD_ABI, recordDecoder } from '../source/recordDecoder.js';
import { Analysis } from '../stats/pipeline.js';
import type { Uapi } from '../events/uapi.js';
import { attachMetrics, type CaptureCounters } from '../../exporters/openmetrics.js';
import { DEFAULT_LISTEN, listenMetrics, formatListenAddress } from '../../exporters/metricsServer.js';
import { captureOptions, type BackendChoice } from '../capture/captureOptions.js';
import { KernelStatsTracker } from '../stats/kernelStatsTracker.js';
import { perFaultIoctls } from '../stats/kernelStats.js';
import { exitStatus, sessionExitStatus, UsageError } from '../exitCodes.js';
import { backend } from '../kernel/backends.js';
import { tracingLine } from './tracingLine.js';
import { keepYoungGenerationSmall } from './youngGeneration.js';

export interface ServeOptions {
  /** false: keep the normal CPU priority (--no-priority) */
  priority?: boolean;
  listen: string;
  pid: number[];
  command: string[];
  ringBufferMb?: number;
  duration?: number;
  backend?: BackendChoice;
  hooks?: HooksChoice;
  /** stream every fault instead of counting in the kernel */
  perFault?: boolean;
  /** after a traced command exits, keep serving its final values this many
   *  seconds (default: until a signal) */
  linger?: number;
  uapi: Uapi;
}

export async function runServe(o: ServeOptions): Promise<void> {
  const inKernel = !o.perFault;
  if (inKernel) keepYoungGenerationSmall();
  if (inKernel && o.backend && o.backend !== 'auto' && backend(o.backend).precise) {
    throw new UsageError(`--backend ${o.backend} adds per-fault records: give --per-fault with it, or drop --backend`);
  }
  const analysis = new Analysis(o.uapi);
  const decoder = recordDecoder(LIVE_RECORD_ABI, o.uapi, (e) => analysis.push(e));
  const tracker = new KernelStatsTracker();
  let fastIoctls: number[] = [];
  let cap: LiveCapture | null = null;
  let final: CaptureCounters | null = null;
  const counters = (): CaptureCounters | null => {
    if (cap === null) return final;
    const c = cap.counters();
    fastIoctls = c.fastIoctls;
    return { ...c, backend: cap.info.backend };
  };
  const kernel = inKernel
    ? {
        tracker,
        processName: (pid: number) => analysis.processName(pid),
        perFaultIoctls: () => perFaultIoctls(fastIoctls, o.uapi),
        // a scrape sees the map as it is now, not as of the last tick
        refresh: () => {
          if (cap !== null) tracker.update(cap.uffdStats(), bootTimeNs());
        },
      }
    : undefined;
  const metrics = attachMetrics(analysis, counters, { kernel });
  // bind first: a taken port fails before anything attaches to the kernel
  const { server, address } = await listenMetrics(o.listen || DEFAULT_LISTEN, metrics.handler);
  server.on('error', (e) => process.stderr.write(`uffdscope: metrics server: ${(e as Error).message}\n`));
  process.stderr.write(`uffdscope: serving metrics on http://${formatListenAddress(address)}/metrics (Ctrl-C to stop)\n`);
  try {
    const result = await runSession(
      {
        capture: captureOptions({ ...o, pid: o.pid, inKernel }),
        durationS: o.duration,
        tickMs: 1000,
        onOpen: (c) => {
          cap = c;
          process.stderr.write(tracingLine({ pid: o.pid, command: o.command, hostWide: c.info.hostWide }) + '\n');
          if (inKernel) tracker.update(c.uffdStats(), bootTimeNs());
        },
        onTick: (c) => {
          // idle periods: let open faults age out (1 s behind now: records still in the ring are older)
          decoder.advance(bootTimeNs());
          analysis.advance(bootTimeNs() - 1e9);
          if (inKernel) tracker.update(c.uffdStats(), bootTimeNs());
        },
      },
      (batch, count) => decoder.push(batch, count),
    );
    decoder.end();
    // the final values: what the kernel counted up to the end, every record drained
    if (inKernel) tracker.update(result.uffdStats ?? [], bootTimeNs());
    fastIoctls = result.counters.fastIoctls;
    final = { ...result.counters, backend: result.info.backend };
    cap = null;
    analysis.finish();
    if (result.reason === 'command-exited' && result.commandExit) {
      const status = exitStatus(result.commandExit);
      process.stderr.write(`uffdscope: command exited (status ${status}); serving its final values ${o.linger !== undefined ? `for ${o.linger} s` : 'until Ctrl-C'}\n`);
      await lingerUntilStopped(o.linger);
    }
    const status = sessionExitStatus(result);
    if (status !== 0) process.exitCode = status;
  } finally {
    metrics.detach();
    const closed = new Promise<void>((r) => server.close(() => r()));
    server.closeAllConnections();
    await closed;
  }
}

/** Resolves after `seconds` (undefined: never), or at SIGINT/SIGTERM/SIGHUP. */
function lingerUntilStopped(seconds: number | undefined): Promise<void> {
  return new Promise((resolve) => {
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      for (const s of signals) process.off(s, done);
      if (timer) clearTimeout(timer);
      resolve();
    };
    for (const s of signals) process.on(s, done);
    if (seconds !== undefined) timer = setTimeout(done, seconds * 1000);
  });
}
