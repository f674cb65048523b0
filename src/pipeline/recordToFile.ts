// A live capture into a recording file: the core of `uffdscope record` and of
// check's traced runs. Says nothing and sets no exit code; callers do.
import { runSession, type SessionResult } from '../capture/session.js';
import { bootTimeNs, type LiveCapture } from '../capture/liveCapture.js';
import { captureOptions, type CaptureChoice } from '../capture/captureOptions.js';
import { liveRecordingHeader } from '../capture/recordingHeader.js';
import { RecordingWriter } from '../recording/writer.js';
import { EXIT } from '../exitCodes.js';
import { checkOutputPath, outputFileError } from '../outputPath.js';

export interface RecordToFileOptions extends CaptureChoice {
  output: string;
  duration?: number;
  force?: boolean;
}

export interface RecordToFileResult {
  session: SessionResult;
  /** records written */
  events: number;
}

export async function recordToFile(o: RecordToFileOptions, onOpen?: (cap: LiveCapture) => void): Promise<RecordToFileResult> {
  checkOutputPath(o.output, '-o', !!o.force);
  let writer: RecordingWriter | null = null;
  let events = 0;
  // A write that fails while capturing (disk full...) ends the session with
  // one line naming the file; what was written before stays readable.
  const written = (f: () => void) => {
    try {
      f();
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw Object.assign(new Error(`-o ${o.output}: writing the recording failed (${err.code ?? err.message}); it holds what was written before`), {
        exitCode: EXIT.CAPTURE,
      });
    }
  };
  const snapshot = (cap: LiveCapture) => written(() => writer?.writeCounters({ ...cap.counters(), atBootNs: Date.now() }));
  const result = await runSession(
    {
      capture: captureOptions(o),
      durationS: o.duration,
      tickMs: 1000,
      onTick: snapshot,
      onOpen: (cap) => {
        onOpen?.(cap);
        try {
          writer = RecordingWriter.create(o.output, liveRecordingHeader(cap.info, o.pid, o.command.length ? o.command : null, o.uapi), {
            overwrite: !!o.force,
          });
        } catch (e) {
          throw outputFileError(o.output, '-o', e);
        }
      },
    },
    (batch, count) => {
      events += count;
      written(() => writer!.append(batch, count));
    },
  ).catch((e) => {
    // Whatever was recorded stays readable: flush it without a trailer.
    (writer as RecordingWriter | null)?.abort();
    throw e;
  });
  const w = writer as unknown as RecordingWriter;
  written(() => {
    try {
      w.writeCounters({ ...result.counters, final: true });
      w.close({ endedAtBootNs: bootTimeNs(), reason: result.reason, signal: result.signal ?? null, counters: result.counters, commandExit: result.commandExit });
    } catch (e) {
      w.abort();
      throw e;
    }
  });
  return { session: result, events };
}

/** What a finished recording holds, in one line (without the program's prefix). */
export function recordedLine(output: string, r: RecordToFileResult): string {
  const lost = r.session.counters.lostTotal;
  return `recorded ${r.events} events to ${output} (${r.session.reason}); lost ${lost}` + (lost ? ' — raise --ring-buffer-mb' : '');
}
