// `uffdscope top`: the live terminal UI. Host-wide by default; with --demo
// it runs the bundled workload (mixed scenario, looping) and says so on
// screen. It never starts a workload unless asked. The kernel counts the
// faults (rows, latency, rates read its map every half second); with
// --per-fault every fault streams through the lifecycle model instead.
import os from 'node:os';
import { existsSync } from 'node:fs';
import { runSession } from '../capture/session.js';
import { everyPeriodSinceLaunch } from '../capture/tickGrid.js';
import { bootTimeNs, type HooksChoice } from '../capture/liveCapture.js';
import { findUffdHolders } from '../capture/uffdUsers.js';
import { DemoWorkload } from '../capture/demoWorkload.js';
import { KernelStatsTracker } from '../stats/kernelStatsTracker.js';
import { perFaultIoctls } from '../stats/kernelStats.js';
import { captureOptions, type BackendChoice } from '../capture/captureOptions.js';
import { LIVE_RECORD_ABI, recordDecoder } from '../source/recordDecoder.js';
import { TopModel } from '../view/topModel.js';
import { SnapshotPublisher } from '../view/snapshotPublisher.js';
import { workloadBinary } from '../paths.js';
import type { Uapi } from '../events/uapi.js';
import { EXIT, UsageError, exitStatus, sessionExitStatus } from '../exitCodes.js';
import { attachMetrics } from '../../exporters/openmetrics.js';
import { listenMetrics } from '../../exporters/metricsServer.js';
import { backend } from '../kernel/backends.js';
import { tracingLine } from './tracingLine.js';
import { keepYoungGenerationSmall } from './youngGeneration.js';

export interface TopOptions {
  /** false: keep the normal CPU priority (--no-priority) */
  priority?: boolean;
  pid: number[];
  demo?: boolean;
  duration?: number;
  ringBufferMb?: number;
  backend?: BackendChoice;
  hooks?: HooksChoice;
  /** also serve OpenMetrics on this address (loopback unless told otherwise) */
  metrics?: string;
  /** plain-text table period when stdout is not a terminal */
  interval?: number;
  /** stream every fault instead of counting in the kernel */
  perFault?: boolean;
  command: string[];
  uapi: Uapi;
}

export const DEMO_COMMAND = (): string[] => [workloadBinary, '--scenario', 'mixed', '--loops', '0', '--pages', '256', '--handler-delay-us', '20', '--quiet'];

export async function runTop(o: TopOptions): Promise<void> {
  let command = o.command;
  let demo = !!o.demo;
  let pids = o.pid;
  if (demo && !command.length) {
    if (!existsSync(workloadBinary)) {
      throw Object.assign(new Error(`the bundled workload is not built (${workloadBinary}): run scripts/setup.sh`), { exitCode: EXIT.ENVIRONMENT });
    }
    command = DEMO_COMMAND();
    pids = [];
  }
  const selection = command.length
    ? demo
      ? 'bundled workload (mixed, looping)'
      : `command: ${command.join(' ')}`
    : pids.length
      ? `pid ${pids.join(', ')}`
      : 'host-wide';
  const model = new TopModel(o.uapi, {
    kernel: os.release(),
    backend: o.backend ?? 'auto',
    source: 'live',
    generated: false,
    demo,
    selection,
  });
  const decoder = recordDecoder(LIVE_RECORD_ABI, o.uapi, (e) => model.push(e));
  const tty = Boolean(process.stdout.isTTY) && Boolean(process.stdin.isTTY);
  const inKernel = !o.perFault;
  if (inKernel) keepYoungGenerationSmall();
  if (inKernel && o.backend && o.backend !== 'auto' && backend(o.backend).precise) {
    throw new UsageError(`--backend ${o.backend} adds per-fault records: give --per-fault with it, or drop --backend`);
  }
  const tracker = new KernelStatsTracker();
  if (inKernel) model.attachKernel(tracker);
  model.setHeader({ engine: inKernel ? 'kernel' : 'per-fault' });
  // host-wide with nothing to show: say so, and offer the demo (`D`, in a terminal)
  let offeredDemo: DemoWorkload | null = null;
  if (!command.length && !pids.length && findUffdHolders().length === 0) {
    const tui = Boolean(process.stdout.isTTY) && Boolean(process.stdin.isTTY);
    if (tui && existsSync(workloadBinary)) offeredDemo = new DemoWorkload(DEMO_COMMAND());
    model.setHeader({
      notice: `nothing on this host uses userfaultfd yet: this view fills when something does (${offeredDemo ? 'D starts the bundled demo workload; ' : ''}uffdscope top --demo shows it)`,
    });
  }
  const startDemo = offeredDemo
    ? () => {
        if (offeredDemo!.running) return;
        offeredDemo!.start();
        model.setHeader({ notice: 'demo: the bundled workload (mixed, looping), started by D; it stops when top exits', demo: true });
      }
    : undefined;
  let liveCap: { counters(): ReturnType<import('../capture/liveCapture.js').LiveCapture['counters']> } | null = null;
  let metricsServer: import('node:http').Server | null = null;
  let detachMetrics: (() => void) | null = null;
  if (o.metrics) {
    // Bind before attaching anything: a taken port fails first, in one line.
    let fastIoctls: number[] = [];
    const counters = () => {
      const c = liveCap?.counters() ?? null;
      if (c) fastIoctls = c.fastIoctls;
      return c;
    };
    const kernel = inKernel ? { tracker, processName: (pid: number) => model.processName(pid), perFaultIoctls: () => perFaultIoctls(fastIoctls, o.uapi) } : undefined;
    const metrics = attachMetrics(model.analysis, counters, { kernel });
    const { server, address } = await listenMetrics(o.metrics, metrics.handler);
    metricsServer = server;
    detachMetrics = metrics.detach;
    model.setHeader({ metricsAddress: `http://${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}/metrics` });
  }
  const abort = new AbortController();
  const closeUi = new AbortController();
  let publisher: SnapshotPublisher | null = null;
  let ui: Promise<void> | null = null;
  let stopPlain: (() => void) | null = null;
  // boot-time "now" from the monotonic clock, calibrated once.
  const bootOffset = bootTimeNs() - Number(process.hrtime.bigint());
  const startedNs = bootTimeNs();
  // Ink draws only a final frame when CI is set (is-in-ci, read once at
  // import): an interactive terminal is not CI, whatever the environment.
  if (process.stdout.isTTY && process.stdin.isTTY) {
    delete process.env.CI;
    delete process.env.CONTINUOUS_INTEGRATION;
  }
  // Ink and React only for a terminal: the plain tables need neither
  const { runTui } = tty ? await import('../../tui/run.js') : { runTui: null };
  const { runPlain } = await import('../../tui/plainTable.js');
  let captureOpen = true;
  let lastLost = 0;

  const result = await runSession(
    {
      capture: { ...captureOptions({ pid: pids, command, ringBufferMb: o.ringBufferMb, backend: o.backend, hooks: o.hooks, uapi: o.uapi, inKernel, priority: o.priority }), commandStdio: demo ? 'ignore' : 'inherit' },
      durationS: o.duration,
      abort: abort.signal,
      // the kernel's counts, twice a second (a frame is 100 ms; rates are per second)
      tickMs: 500,
      onTick: (cap) => {
        decoder.advance(bootTimeNs());
        if (inKernel) tracker.update(cap.uffdStats(), bootTimeNs());
      },
      onOpen: (cap) => {
        model.setHeader({ backend: cap.info.backend });
        liveCap = cap;
        if (inKernel) tracker.update(cap.uffdStats(), bootTimeNs());
        publisher = new SnapshotPublisher(
          () => model,
          {
            now: () => Number(process.hrtime.bigint()) + bootOffset,
            lost: () => (captureOpen ? (lastLost = cap.counters().lostTotal) : lastLost),
            uptimeS: () => (bootTimeNs() - startedNs) / 1e9,
          },
          undefined,
          { startDemo },
        );
        if (tty) {
          publisher.start();
          ui = runTui!(publisher, { signal: closeUi.signal }).finally(() => abort.abort());
        } else {
          // plain tables: a snapshot when one is printed, not ten a second
          const pub = publisher;
          process.stderr.write(tracingLine({ pid: pids, command, hostWide: cap.info.hostWide }) + '\n');
          // the kernel's counts as of this table, not of the last 500 ms tick
          const current = () => {
            if (inKernel) tracker.update(cap.uffdStats(), bootTimeNs());
            pub.refresh();
            return pub.current();
          };
          stopPlain = runPlain({ current }, (tick) => everyPeriodSinceLaunch((o.interval ?? 2) * 1000, tick), (t) => process.stdout.write(t));
        }
      },
    },
    (batch, count) => decoder.push(batch, count),
  );
  // no periodic table reads a capture that is closed
  (stopPlain as (() => void) | null)?.();
  await offeredDemo?.stop();
  decoder.end();
  captureOpen = false;
  liveCap = null;
  if (inKernel) tracker.update(result.uffdStats ?? [], bootTimeNs());
  detachMetrics?.();
  metricsServer?.closeAllConnections();
  metricsServer?.close();
  lastLost = result.counters.lostTotal;
  const pub = publisher as SnapshotPublisher | null;
  pub?.stop();
  if (result.reason === 'command-exited' && result.commandExit) {
    // its final state, said as such; the metrics server is gone with the capture
    model.setHeader({ notice: `command exited (status ${exitStatus(result.commandExit)}): final state, q quits`, metricsAddress: undefined });
  }
  pub?.refresh();
  if (!tty && pub) {
    const { renderPlain } = await import('../../tui/plainTable.js');
    process.stdout.write(renderPlain(pub.current()) + '\n');
  }
  // The UI stays up to read the final figures after a traced command ended;
  // a signal (a closed terminal sends SIGHUP) or the duration closes it.
  if (result.reason !== 'command-exited') closeUi.abort();
  if (ui) await ui;
  const status = sessionExitStatus(result);
  if (status !== EXIT.OK) process.exitCode = status;
  if (result.counters.lostTotal) process.stderr.write(`uffdscope: ${result.counters.lostTotal} records lost (raise --ring-buffer-mb)\n`);
}
