// A capture session: open, run until the command exits / the duration ends
// / a signal arrives, drain, detach. Shared by record, stat and top, so
// every command ends the same clean way.
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';
import { raiseCapturePriority } from './priority.js';
import { everyPeriodSinceLaunch } from './tickGrid.js';
import { COMMAND_GRACE_MS } from './processGroup.js';
import { LiveCapture, CaptureError, type CaptureOptions, type LostCounts, type CaptureInfo } from './liveCapture.js';
import type { RawUffdStats } from '../native/addon.js';

export type StopReason = 'command-exited' | 'duration' | 'signal' | 'stopped';

export interface SessionOptions {
  capture: CaptureOptions;
  durationS?: number;
  /** called every tickMs while running (counters snapshots, tables), on multiples of tickMs since launch (tickGrid.ts) */
  tickMs?: number;
  onTick?: (cap: LiveCapture) => void;
  /** called once the capture is attached, before the command starts */
  onOpen?: (cap: LiveCapture) => void;
  /** stops the session like a signal would (e.g. the UI's quit key) */
  abort?: AbortSignal;
}

export interface SessionResult {
  reason: StopReason;
  signal?: NodeJS.Signals;
  counters: LostCounts;
  info: CaptureInfo;
  commandExit: { code: number | null; signal: NodeJS.Signals | null } | null;
  commandPid?: number;
  /** with capture.inKernelStats: the kernel's statistics at the end, per uffd */
  uffdStats?: RawUffdStats[];
}

/** Why `cmd` cannot be exec'ed (the way `sh -c 'exec "$@"'` looks it up), or null. */
export function commandProblem(cmd: string): string | null {
  if (cmd === '') return 'empty command';
  const paths = cmd.includes('/') ? [cmd] : (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':').map((d) => join(d || '.', cmd));
  let found: string | null = null;
  for (const p of paths) {
    try {
      if (!statSync(p).isFile()) continue;
      found = p;
      accessSync(p, constants.X_OK);
      return null;
    } catch {
      /* next */
    }
  }
  if (found) return `${found} is not executable`;
  return cmd.includes('/') ? 'no such file' : 'not found in PATH';
}

export async function runSession(opts: SessionOptions, onBatch: (batch: Buffer, count: number) => void): Promise<SessionResult> {
  const cmd = opts.capture.command;
  if (cmd && cmd.length) {
    // before tracing: a command that cannot start is bad input, not a capture
    const why = commandProblem(cmd[0]);
    if (why) throw new CaptureError(`cannot run ${cmd[0]}: ${why}`, 2);
  }
  if (opts.capture.raisePriority !== false) raiseCapturePriority();
  const cap = LiveCapture.open(opts.capture);
  let reason: StopReason = 'stopped';
  let signal: NodeJS.Signals | undefined;
  let stopping = false;

  let commandEnded: Promise<void> | null = null;
  const stopWith = (r: StopReason) => {
    if (stopping) {
      // second request: stop now, without waiting for the command
      cap.killCommand();
      cap.stop();
      return;
    }
    stopping = true;
    reason = r;
    // A running command's group gets SIGTERM, and SIGKILL after the grace
    // period; the capture stops when the command has exited (traced doing
    // so), or a second after the SIGKILL at the latest.
    if (cap.commandRunning) {
      commandEnded = cap.endCommand();
      setTimeout(() => cap.stop(), COMMAND_GRACE_MS + 1000).unref();
    } else cap.stop();
  };
  const onSignal = (s: NodeJS.Signals) => {
    signal = s;
    stopWith('signal');
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, onSignal);
  const timers: NodeJS.Timeout[] = [];
  let stopTicks = (): void => {};
  const onAbort = () => stopWith('stopped');
  opts.abort?.addEventListener('abort', onAbort);
  // However this process ends (an exception in a view, process.exit), the
  // command's group does not outlive it; the kernel detaches the programs.
  const onExit = () => cap.endCommandSync();
  process.once('exit', onExit);
  // A consumer that throws (a full disk under the writer, a decoder error)
  // ends the session with that error: thrown from the native batch callback
  // it would be swallowed by N-API, and the capture would go on silently
  // delivering nowhere.
  let failure: { error: unknown } | null = null;
  const fail = (e: unknown) => {
    if (failure === null) failure = { error: e };
    stopWith('stopped');
  };
  try {
    cap.onBatch((batch, count) => {
      if (failure !== null) return;
      try {
        onBatch(batch, count);
      } catch (e) {
        fail(e);
      }
    });
    opts.onOpen?.(cap);
    if (opts.durationS) timers.push(setTimeout(() => stopWith('duration'), opts.durationS * 1000));
    if (opts.onTick && opts.tickMs) {
      stopTicks = everyPeriodSinceLaunch(opts.tickMs, () => {
        if (failure !== null) return;
        try {
          opts.onTick!(cap);
        } catch (e) {
          fail(e);
        }
      });
    }
    const commandPid = (() => {
      const p = cap.run();
      return { p, pid: cap.commandPid };
    })();
    await commandPid.p;
    if (failure !== null) throw (failure as { error: unknown }).error;
    if (reason === 'stopped' && cap.childExit) reason = 'command-exited';
    return {
      reason,
      signal,
      counters: cap.counters(),
      uffdStats: opts.capture.inKernelStats ? cap.uffdStats() : undefined,
      info: cap.info,
      commandExit: cap.childExit,
      commandPid: commandPid.pid,
    };
  } finally {
    for (const t of timers) clearTimeout(t);
    stopTicks();
    // nothing of the command is left behind: what it left running in its
    // group (it exited by itself) is stopped the same way
    await commandEnded;
    await cap.endCommand();
    for (const s of signals) process.off(s, onSignal);
    opts.abort?.removeEventListener('abort', onAbort);
    process.off('exit', onExit);
    cap.close();
  }
}
