// `uffdscope export --format perfetto`: a recording -> a Perfetto trace file,
// streamed chunk by chunk (bounded memory whatever the recording's size).
import { unlinkSync } from 'node:fs';
import type { RecordingRead } from '../../src/source/recordingSource.js';
import type { Uapi } from '../../src/events/uapi.js';
import type { Summary } from '../../src/stats/summary.js';
import { Analysis } from '../../src/stats/pipeline.js';
import { runRecording } from '../../src/pipeline/recordingPipeline.js';
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
 * come (recordingInputError words them for users); the partial output is removed.
 */
export function exportPerfetto(recordingPath: string, outPath: string, uapi: Uapi | null, opts: PerfettoExportOptions = {}): PerfettoExportResult {
  let stats: PerfettoExportStats | null = null;
  const run = runRecording(recordingPath, uapi, (header, u) => {
    const analysis = new Analysis(u);
    const writer = new PerfettoWriter(outPath, { ...opts, uapi: u, header, analysis });
    return {
      analysis,
      sink: {
        push: (e) => writer.event(e),
        end: (endTs) => {
          stats = writer.close(endTs);
        },
        abort: () => {
          try {
            writer.close();
          } catch {
            // already failing
          }
          try {
            unlinkSync(outPath);
          } catch {
            // nothing to remove
          }
        },
      },
    };
  });
  return { stats: stats!, summary: run.summary!, read: run.read };
}
