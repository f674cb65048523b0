// The one way from a recording to results: read it, decode every record, feed
// the events in order to a sink (the analysis itself, or a writer that feeds
// it), end the stream at the recorder's end time, and summarize the analysis
// with the same metadata whichever command asked (report, export, check).
import type { RecordingHeader } from '../recording/format.js';
import type { UffdEvent } from '../events/types.js';
import type { Uapi } from '../events/uapi.js';
import type { FaultRecord } from '../model/faultLifecycle.js';
import { Analysis } from '../stats/pipeline.js';
import type { Summary } from '../stats/summary.js';
import { forEachRecordedEvent, recordingInputError, type RecordingRead } from '../source/recordingSource.js';
import { recordingSummaryMeta } from './summaryMeta.js';

/** Where a recording's events go, one at a time and in order. */
export interface RecordingSink {
  push(e: UffdEvent): void;
  /** the stream is over; `endTs`: when the recorder stopped (its trailer), if it said */
  end?(endTs: number | undefined): void;
  /** reading failed: undo what was written */
  abort?(): void;
}

export interface RecordingConsumer<S extends RecordingSink> {
  sink: S;
  /** the analysis the sink feeds (or is): ended and summarized by the pipeline */
  analysis?: Analysis;
}

export interface RecordingRun<S> {
  sink: S;
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
  let read: RecordingRead;
  try {
    read = forEachRecordedEvent(
      path,
      uapiOverrides,
      (e) => consumer!.sink.push(e),
      (h, u) => {
        consumer = open(h, u);
      },
    );
  } catch (e) {
    (consumer as RecordingConsumer<S> | null)?.sink.abort?.();
    throw e;
  }
  const c = consumer as unknown as RecordingConsumer<S>;
  const endTs = recordingEnd(read);
  // the analysis ends first (its last fault records), then the sink
  const a = c.analysis;
  a?.finish(endTs);
  c.sink.end?.(endTs);
  return { sink: c.sink, read, summary: a ? a.summary(recordingSummaryMeta(path, read)) : null };
}

/** The summary of a recording; `onFault` sees every fault record (check samples them). Input errors are one-line UsageErrors. */
export function analyzeRecording(file: string, uapi: Uapi | null, onFault?: (r: FaultRecord) => void): { summary: Summary; read: RecordingRead } {
  try {
    const run = runRecording(file, uapi, (_h, u) => {
      const analysis = new Analysis(u);
      if (onFault) analysis.onFault(onFault);
      return { sink: analysis, analysis };
    });
    return { summary: run.summary!, read: run.read };
  } catch (e) {
    throw recordingInputError(file, e);
  }
}
