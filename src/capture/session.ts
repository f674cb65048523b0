// A capture session: open, run until the command exits / the duration ends
// / a signal arrives, drain, detach. Shared by record, stat and top, so
// every command ends the same clean way.
import { LiveCapture, type CaptureOptions, type LostCounts, type CaptureInfo } from './liveCapture.js';

export type StopReason = 'command-exited' | 'duration' | 'signal' | 'stopped';

export interface SessionOptions {
  capture: CaptureOptions;
  durationS?: number;
  /** called every tickMs while running (counters snapshots, tables) */
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
}

export async function runSession(opts: SessionOptions, onBatch: (batch: Buffer, count: number) => void): Promise<SessionResult> {
  const cap = LiveCapture.open(opts.capture);
  let reason: StopReason = 'stopped';
  let signal: NodeJS.Signals | undefined;
  let stopping = false;

  const stopWith = (r: StopReason) => {
    if (stopping) {
      cap.stop(); // second request: stop now, without waiting for the command
      return;
    }
    stopping = true;
    reason = r;
    // A running command gets SIGTERM and a moment to exit (and be traced
    // doing so); the capture stops when it has exited, or after 2 s.
    if (cap.terminateCommand('SIGTERM')) setTimeout(() => cap.stop(), 2000).unref();
    else cap.stop();
  };
  const onSignal = (s: NodeJS.Signals) => {
    signal = s;
    stopWith('signal');
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, onSignal);
  const timers: NodeJS.Timeout[] = [];
  const onAbort = () => stopWith('stopped');
  opts.abort?.addEventListener('abort', onAbort);
  try {
    cap.onBatch(onBatch);
    opts.onOpen?.(cap);
    if (opts.durationS) timers.push(setTimeout(() => stopWith('duration'), opts.durationS * 1000));
    if (opts.onTick && opts.tickMs) timers.push(setInterval(() => opts.onTick!(cap), opts.tickMs));
    const commandPid = (() => {
      const p = cap.run();
      return { p, pid: cap.commandPid };
    })();
    await commandPid.p;
    if (reason === 'stopped' && cap.childExit) reason = 'command-exited';
    return {
      reason,
      signal,
      counters: cap.counters(),
      info: cap.info,
      commandExit: cap.childExit,
      commandPid: commandPid.pid,
    };
  } finally {
    for (const t of timers) clearTimeout(t);
    for (const s of signals) process.off(s, onSignal);
    opts.abort?.removeEventListener('abort', onAbort);
    cap.close();
  }
}
