// The metadata a summary carries about where its events came from, built one
// way for recordings (report, export, check) and one way for live sessions (stat).
import type { CaptureInfo, LostCounts } from '../capture/liveCapture.js';
import type { StopReason } from '../capture/session.js';
import type { SummaryMeta } from '../stats/summary.js';
import type { RecordingRead } from '../source/recordingSource.js';

/** Lost-record figures from the recorder's last counters snapshot. */
export function lostFrom(counters: Record<string, unknown> | null): { lost: number; lostByType: Record<string, number> } {
  const lost = Number((counters as { lostTotal?: unknown } | null)?.lostTotal ?? 0) || 0;
  const byType = ((counters as { lost?: unknown } | null)?.lost ?? {}) as Record<string, number>;
  return { lost, lostByType: typeof byType === 'object' && byType ? byType : {} };
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

/** The summary metadata of a live session; `stop` once it has ended. */
export function liveSummaryMeta(
  info: Pick<CaptureInfo, 'backend' | 'hostWide' | 'blockDetection'>,
  counters: Pick<LostCounts, 'lostTotal' | 'lost'>,
  durationNs: number,
  selection: { pids: number[]; command: string[] },
  stop?: StopReason,
): SummaryMeta {
  return {
    backend: info.backend,
    lost: counters.lostTotal,
    lostByType: counters.lost,
    durationNs,
    source: {
      kind: 'live',
      selection: { pids: selection.pids, command: selection.command.length ? selection.command : null, hostWide: info.hostWide },
      stop,
      blockDetection: info.blockDetection,
    },
  };
}
