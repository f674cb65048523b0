// The one way from a recording to results: read it, decode every record, feed
// the events in order to a sink (the analysis itself, or a writer that feeds
// it), end the stream at the recorder's end time, and summarize the analysis
// with the same metadata whichever command asked (report, export, check).
import type { RecordingHeader } from '../recording/format.js';
import type { UffdEvent } from '../events/types.js';
import type { Uapi } from '../events/uapi.js';
import type { FaultRecord } from '../model/faultLifecycle.js';
import { Analysis } from '../stats/pipeline.js';
import type { Summary, SummaryMeta } from '../stats/summary.js';
import { forEachRecordedEvent, recordingInputError, type RecordingRead } from '../source/recordingSource.js';

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

/** Lost-record figures from the recorder's last counters snapshot. */
export function lostFrom(counters: Record<string, unknown> | null): { lost: number; lostByType: Record<string, number> } {
  const lost = Number((counters as { lostTotal?: unknown } | null)?.lostTotal ?? 0) || 0;
  const byType = ((counters as { lost?: unknown } | null)?.lost ?? {}) as Record<string, number>;
  return { lost, lostByType: typeof byType === 'object' && byType ? byType : {} };
}

/** When the recorder stopped, from its trailer (undefined: it wrote none). */
export function recordingEnd(read: Pick<RecordingRead, 'status'>): number | undefined {
  return Number(read.status.trailer?.endedAtBootNs ?? 0) || undefined;
}

/** The summary metadata of a recording: the same for every command that summarizes one. */
export function recordingSummaryMeta(path: string, read: RecordingRead): SummaryMeta {
  const h = read.header;
  return {
    backend: h.backend,
    ...lostFrom(read.counters),
    generated: h.generated !== null,
    source: {
      kind: 'recording',
      path,
      complete: read.status.complete,
      damage: read.status.damage,
      kernel: h.kernel.release,
      createdAt: h.createdAt,
      selection: h.selection,
      generated: h.generated,
      undecodableRecords: read.decode.unknown,
    },
  };
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
  c.sink.end?.(endTs);
  const a = c.analysis;
  if (a && !a.isFinished) a.finish(endTs);
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
