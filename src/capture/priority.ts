// On a busy host the loader (verifier, attach) and the ring consumer compete
// with every guest for CPU: raising their priority brings the first frame
// within a couple of seconds. Linux nice values are per thread; threads made
// after this call (the consumer) inherit it.
import os from 'node:os';

/** The nice value live commands run at unless told --no-priority. */
export const CAPTURE_NICE = -10;

/** The nice value before raiseCapturePriority(): what a traced command runs at. */
let before: number | null = null;

/** Lowers this thread's nice value to CAPTURE_NICE (never raises it); the
 *  nice value in effect, or null when it could not be changed. */
export function raiseCapturePriority(): number | null {
  try {
    const now = os.getPriority(0);
    if (now <= CAPTURE_NICE) return now;
    before ??= now;
    os.setPriority(0, CAPTURE_NICE);
    return os.getPriority(0);
  } catch {
    return null;
  }
}

/** Gives a process started by the capture the nice value it would have had:
 *  the traced command must not run at the tracer's priority. */
export function restoreNormalPriority(pid: number): void {
  if (before === null) return;
  try {
    os.setPriority(pid, before);
  } catch {
    // it exited already
  }
}
