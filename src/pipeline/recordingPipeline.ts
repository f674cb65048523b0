// The one way from a recording to results: read it, decode every record,
// feed each event to the analysis and then to a sink (which draws the event
// and the analysis's results for it), end both at the recorder's end time, and
// summarize the analysis with the same metadata whichever command asked
// (report, export, check).
import type { RecordingHeader } from '../recording/format.js';
import type { UffdEvent } from '../events/types.js';
import type { Uapi } from '../events/uapi.js';
import type { FaultRecord } from '../model/faultLifecycle.js';
import { Analysis } from '../stats/pipeline.js';
import type { Summary } from '../stats/summary.js';
import { forEachRecordedEvent, recordingInputError, type RecordingRead } from '../source/recordingSource.js';
import { recordingSummaryMeta } from './summaryMeta.js';

/** Where a recording's events go after the analysis, one at a time and in order. */
export interface RecordingSink {
  push(e: UffdEvent): void;
  /** the stream is over (the analysis has finished); `endTs`: when the recorder stopped (its trailer), if it said */
  end?(endTs: number | undefined): void;
  /** reading failed: undo what was written */
  abort?(): void;
}

/** What a run feeds: an analysis, a sink, or both (the analysis first). */
export interface RecordingConsumer<S extends RecordingSink> {
  analysis?: Analysis;
  sink?: S;
}

export interface RecordingRun<S> {
  sink: S | undefined;
  read: RecordingRead;
  /** null when the consumer has no analysis */
  summary: Summary | null;
}

/** When the recorder stopped, from its trailer (undefined: it wrote none). */
export function recordingEnd(read: Pick<RecordingRead, 'status'>): number | undefined {
  return Number(read.status.trailer?.endedAtBootNs ?? 0) || undefined;
}

/**
 * Runs a recording through the consumer `open` builds once its header has
 * been read (so a wrong input leaves an output file alone). Errors reading
 * it are thrown as they come, after the sink's abort().
 */
export function runRecording<S extends RecordingSink>(
  path: string,
  uapiOverrides: Uapi | null,
  open: (header: RecordingHeader, uapi: Uapi) => RecordingConsumer<S>,
): RecordingRun<S> {
  let consumer: RecordingConsumer<S> | null = null;
  let visit: (e: UffdEvent) => void = () => {};
  let read: RecordingRead;
  try {
    read = forEachRecordedEvent(
      path,
      uapiOverrides,
      (e) => visit(e),
      (h, u) => {
        const c = open(h, u);
        consumer = c;
        const { analysis: a, sink: s } = c;
        if (a && s) {
          visit = (e) => {
            a.push(e);
            s.push(e);
          };
        } else if (a) {
          visit = (e) => a.push(e);
        } else if (s) {
          visit = (e) => s.push(e);
        }
      },
    );
  } catch (e) {
    (consumer as RecordingConsumer<S> | null)?.sink?.abort?.();
    throw e;
  }
  const { analysis, sink } = consumer as unknown as RecordingConsumer<S>;
  const endTs = recordingEnd(read);
  // the analysis ends first (its last results), then the sink
  analysis?.finish(endTs);
  sink?.end?.(endTs);
  return { sink, read, summary: analysis ? analysis.summary(recordingSummaryMeta(path, read)) : null };
}

/** The summary of a recording; `onFault` sees every fault record (check samples them). Input errors are one-line UsageErrors. */
export function analyzeRecording(file: string, uapi: Uapi | null, onFault?: (r: FaultRecord) => void): { summary: Summary; read: RecordingRead } {
  try {
    const run = runRecording(file, uapi, (_h, u) => {
      const analysis = new Analysis(u);
      if (onFault) analysis.onFault(onFault);
      return { analysis };
    });
    return { summary: run.summary!, read: run.read };
  } catch (e) {
    throw recordingInputError(file, e);
  }
}
