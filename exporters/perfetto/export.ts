// `uffdscope export --format perfetto`: a recording -> a Perfetto trace file,
// streamed chunk by chunk (bounded memory whatever the recording's size).
import { unlinkSync } from 'node:fs';
import { forEachRecordedEvent, type RecordingRead } from '../../src/source/recordingSource.js';
import type { Uapi } from '../../src/events/uapi.js';
import type { Summary } from '../../src/stats/summary.js';
import { lostFrom } from '../../src/cli/report.js';
import { Analysis } from '../../src/stats/pipeline.js';
import { PerfettoWriter, type PerfettoExportStats, type PerfettoWriterOptions } from './writer.js';

export interface PerfettoExportResult {
  stats: PerfettoExportStats;
  summary: Summary;
  read: RecordingRead;
}

export type PerfettoExportOptions = Omit<PerfettoWriterOptions, 'uapi' | 'analysis' | 'header'>;

/**
 * Exports a recording to a Perfetto trace. `uapi` overrides (null: the
 * recording's own table). Errors reading the recording are thrown as they
 * come (see asInputError in src/cli/report.ts); the partial output is removed.
 */
export function exportPerfetto(recordingPath: string, outPath: string, uapi: Uapi | null, opts: PerfettoExportOptions = {}): PerfettoExportResult {
  let writer: PerfettoWriter | null = null;
  let analysis: Analysis | null = null;
  let read: RecordingRead;
  try {
    read = forEachRecordedEvent(
      recordingPath,
      uapi,
      (e) => {
        analysis!.push(e);
        writer!.event(e);
      },
      (header, u) => {
        analysis = new Analysis(u);
        writer = new PerfettoWriter(outPath, { ...opts, uapi: u, header, analysis });
      },
    );
  } catch (e) {
    const w = writer as PerfettoWriter | null;
    if (w !== null) {
      try {
        w.close();
      } catch {
        // already failing
      }
      try {
        unlinkSync(outPath);
      } catch {
        // nothing to remove
      }
    }
    throw e;
  }
  const w = writer as unknown as PerfettoWriter;
  const a = analysis as unknown as Analysis;
  const trailerEnd = Number(read.status.trailer?.endedAtBootNs ?? 0) || undefined;
  a.finish(trailerEnd);
  const stats = w.close(trailerEnd);
  const { lost, lostByType } = lostFrom(read.counters);
  const summary = a.summary({
    backend: read.header.backend,
    lost,
    lostByType,
    generated: read.header.generated !== null,
    source: { kind: 'recording', path: recordingPath, complete: read.status.complete, generated: read.header.generated },
  });
  return { stats, summary, read };
}
