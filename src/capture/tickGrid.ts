// Periodic output falls on multiples of its period since this process
// started, as sar and vmstat keep theirs: the first comes within one period
// of launch however long attaching took (on a busy host, most of a second),
// and the next ones a period apart.

/** ms until the next multiple of `periodMs` since this process started */
export function msToNextTick(periodMs: number, uptimeMs: number = performance.now()): number {
  return periodMs - (uptimeMs % periodMs);
}

/** Calls `tick` on the launch grid of `periodMs` until the returned stop is called. */
export function everyPeriodSinceLaunch(periodMs: number, tick: () => void, uptimeMs?: number): () => void {
  let timer: NodeJS.Timeout = setTimeout(() => {
    timer = setInterval(tick, periodMs);
    tick();
  }, msToNextTick(periodMs, uptimeMs));
  return () => clearTimeout(timer);
}
