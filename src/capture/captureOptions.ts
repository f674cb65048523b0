// The capture configuration every live command starts from: ring size,
// consumer wake-ups, batching, and which engine counts the faults.
import { DEFAULT_RING_BYTES, type BackendName, type CaptureOptions, type HooksChoice } from './liveCapture.js';
import type { Uapi } from '../events/uapi.js';

export type BackendChoice = 'auto' | BackendName;

export interface CaptureChoice {
  pid: number[];
  command: string[];
  ringBufferMb?: number;
  ringBufferKb?: number;
  backend?: BackendChoice;
  hooks?: HooksChoice;
  uapi: Uapi;
  /** count and histogram faults in the kernel; stream only rare events */
  inKernel?: boolean;
  /** false: keep the normal CPU priority (--no-priority) */
  priority?: boolean;
}

export function captureOptions(o: CaptureChoice): CaptureOptions {
  const ringBytes = o.ringBufferKb ? o.ringBufferKb << 10 : o.ringBufferMb ? o.ringBufferMb << 20 : DEFAULT_RING_BYTES;
  return {
    pids: o.pid,
    command: o.command.length ? o.command : undefined,
    uapi: o.uapi,
    ringBytes,
    // Per fault: batch the consumer's wake-ups (it also looks every 50 ms).
    // In-kernel, the stream is rare events only: each wakes the consumer,
    // so the views show it at once.
    wakeupBytes: o.inKernel ? 0 : Math.min(256 << 10, ringBytes / 4),
    pollTimeoutMs: 50,
    batchBytes: 256 << 10,
    followChildren: true,
    backend: o.inKernel ? 'tracepoint' : o.backend ?? 'auto',
    hooks: o.hooks ?? 'auto',
    inKernelStats: !!o.inKernel,
    raisePriority: o.priority !== false,
  };
}
