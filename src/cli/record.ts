// `uffdscope record -o FILE [--pid PID]... [--duration S] [-- CMD ARGS...]`
import { existsSync } from 'node:fs';
import { runSession, type SessionResult } from '../capture/session.js';
import { DEFAULT_RING_BYTES, bootTimeNs, type LiveCapture } from '../capture/liveCapture.js';
import { liveRecordingHeader } from '../capture/recordingHeader.js';
import { RecordingWriter } from '../recording/writer.js';
import type { Uapi } from '../events/uapi.js';
import { UsageError, EXIT } from './errors.js';

export interface RecordOptions {
  output: string;
  pid: number[];
  duration?: number;
  ringBufferMb?: number;
  ringBufferKb?: number;
  force?: boolean;
  command: string[];
  uapi: Uapi;
}

export function captureOptions(o: { pid: number[]; command: string[]; ringBufferMb?: number; ringBufferKb?: number; uapi: Uapi }) {
  const ringBytes = o.ringBufferKb ? o.ringBufferKb << 10 : o.ringBufferMb ? o.ringBufferMb << 20 : DEFAULT_RING_BYTES;
  return {
    pids: o.pid,
    command: o.command.length ? o.command : undefined,
    uapi: o.uapi,
    ringBytes,
    // Batch consumer wake-ups: the consumer polls every 50 ms anyway.
    wakeupBytes: Math.min(256 << 10, ringBytes / 4),
    pollTimeoutMs: 50,
    batchBytes: 256 << 10,
    followChildren: true,
  };
}

export async function runRecord(o: RecordOptions): Promise<SessionResult> {
  if (existsSync(o.output) && !o.force) {
    throw new UsageError(`${o.output} exists: choose another -o FILE or pass --force to overwrite`);
  }
  let writer: RecordingWriter | null = null;
  let events = 0;
  const snapshot = (cap: LiveCapture) => writer?.writeCounters({ ...cap.counters(), atBootNs: Date.now() });
  const result = await runSession(
    {
      capture: captureOptions(o),
      durationS: o.duration,
      tickMs: 1000,
      onTick: snapshot,
      onOpen: (cap) => {
        writer = RecordingWriter.create(o.output, liveRecordingHeader(cap.info, o.pid, o.command.length ? o.command : null, o.uapi), {
          overwrite: !!o.force,
        });
      },
    },
    (batch, count) => {
      events += count;
      writer!.append(batch, count);
    },
  ).catch((e) => {
    // Whatever was recorded stays readable: flush it without a trailer.
    (writer as RecordingWriter | null)?.abort();
    throw e;
  });
  const w = writer as unknown as RecordingWriter;
  w.writeCounters({ ...result.counters, final: true });
  w.close({ endedAtBootNs: bootTimeNs(), reason: result.reason, signal: result.signal ?? null, counters: result.counters, commandExit: result.commandExit });
  const c = result.counters;
  process.stderr.write(
    `uffdscope: recorded ${events} events to ${o.output} (${result.reason}); lost ${c.lostTotal}` +
      (c.lostTotal ? ' — raise --ring-buffer-mb' : '') +
      '\n',
  );
  if (result.commandExit && result.commandExit.code !== 0 && result.reason === 'command-exited') {
    process.exitCode = result.commandExit.code ?? EXIT.CAPTURE;
  }
  return result;
}
