// `uffdscope report FILE [--json] [--json-out FILE]`: the summary of a recording.
import { forEachRecordedEvent, type RecordingRead } from '../source/recordingSource.js';
import { RecordingFormatError } from '../recording/format.js';
import type { RecordingStatus } from '../recording/reader.js';
import { damageHeadline, damageWarning } from '../recording/damage.js';
import { DecodeError } from '../events/decode.js';
import { Analysis } from '../stats/pipeline.js';
import type { FaultRecord } from '../model/faultLifecycle.js';
import { formatSummaryTable, type Summary } from '../stats/summary.js';
import type { Uapi } from '../events/uapi.js';
import { UsageError } from './errors.js';
import { checkWritable, writeOut, type JsonTarget } from './outputFile.js';

/** Lost-record figures from the recorder's last counters snapshot. */
export function lostFrom(counters: Record<string, unknown> | null): { lost: number; lostByType: Record<string, number> } {
  const lost = Number((counters as { lostTotal?: unknown } | null)?.lostTotal ?? 0) || 0;
  const byType = ((counters as { lost?: unknown } | null)?.lost ?? {}) as Record<string, number>;
  return { lost, lostByType: typeof byType === 'object' && byType ? byType : {} };
}

/** The summary of a recording; `onFault` sees every fault record (check samples them). */
export function analyzeRecording(file: string, uapi: Uapi | null, onFault?: (r: FaultRecord) => void): { summary: Summary; read: RecordingRead } {
  let analysis: Analysis | null = null;
  let read: RecordingRead;
  try {
    read = forEachRecordedEvent(
      file,
      uapi,
      (e) => analysis!.push(e),
      (_h, u) => {
        analysis = new Analysis(u);
        if (onFault) analysis.onFault(onFault);
      },
    );
  } catch (e) {
    throw asInputError(file, e);
  }
  const a = analysis as unknown as Analysis;
  const trailerEnd = Number(read.status.trailer?.endedAtBootNs ?? 0) || undefined;
  a.finish(trailerEnd);
  const { lost, lostByType } = lostFrom(read.counters);
  const summary = a.summary({
    backend: read.header.backend,
    lost,
    lostByType,
    generated: read.header.generated !== null,
    source: {
      kind: 'recording',
      path: file,
      complete: read.status.complete,
      damage: read.status.damage,
      kernel: read.header.kernel.release,
      createdAt: read.header.createdAt,
      selection: read.header.selection,
      generated: read.header.generated,
      undecodableRecords: read.decode.unknown,
    },
  });
  return { summary, read };
}

export function asInputError(file: string, e: unknown): Error {
  if (e instanceof RecordingFormatError) return new UsageError(e.message);
  if (e instanceof DecodeError) return new UsageError(`${file}: damaged records (${e.message}); the file was written by a broken or newer writer`);
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return new UsageError(`${file}: no such file (give the path of a recording made with \`uffdscope record\`)`);
  if (code === 'EACCES' || code === 'EPERM') return new UsageError(`${file}: permission denied (recordings are mode 0600: read it as its owner or with sudo)`);
  if (code === 'EISDIR') return new UsageError(`${file}: is a directory, not a recording`);
  return e as Error;
}

/** Warns on stderr, whatever the output format, when a recording is damaged or unfinished. */
export function warnRecording(file: string, status: RecordingStatus, write = (s: string) => void process.stderr.write(s)): void {
  for (const line of damageWarning(file, status)) write(`uffdscope: ${line}\n`);
}

export async function runReport(file: string, o: JsonTarget & { uapi: Uapi }): Promise<void> {
  checkWritable(o.file, 'summary JSON');
  const { summary, read } = analyzeRecording(file, o.uapi);
  warnRecording(file, read.status);
  if (o.file) writeOut(o.file, JSON.stringify(summary, null, 2) + '\n', 'summary JSON');
  if (o.stdout) {
    process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
    return;
  }
  const h = read.header;
  const lines: string[] = [];
  if (h.generated) lines.push(`GENERATED DATA: simulated by ${h.generated.generator} (scenario ${h.generated.scenario}, seed ${h.generated.seed}), not captured from a kernel`);
  const hooks = typeof h.extra?.hooks === 'string' ? ` (${h.extra.hooks} hooks)` : '';
  lines.push(`recording  ${file}: ${h.kernel.release}, backend ${h.backend}${hooks}, made ${h.createdAt}`);
  if (read.status.damage.length) {
    lines.push(`DAMAGED    ${damageHeadline(read.status.damage)} (listed on stderr); everything else is below`);
  }
  if (!read.status.complete) {
    lines.push(`CUT SHORT  ${read.status.damage.length ? 'no readable trailer' : 'no trailer: the recorder did not finish (killed?)'}; everything it wrote is below`);
  }
  process.stdout.write(lines.join('\n') + '\n' + formatSummaryTable(summary) + '\n');
}
