// `uffdscope report FILE [--limit N] [--hist] [--json] [--json-out FILE]`: the summary of a recording.
// The table folds repeated rows and shows at most --limit per table; the JSON is whole.
import { damageHeadline } from '../recording/damage.js';
import { formatSummaryTable } from '../stats/summaryText.js';
import { Stats } from '../stats/stats.js';
import { formatLatencyHists, recordingHists } from '../stats/histText.js';
import type { Uapi } from '../events/uapi.js';
import { analyzeRecording } from '../pipeline/recordingPipeline.js';
import { checkWritable, writeOut, type JsonTarget } from './outputFile.js';
import { warnRecording } from './recordingWarning.js';

/** Rows per table unless --limit says otherwise: a screenful of each. */
export const REPORT_LIMIT = 20;

export interface ReportOptions extends JsonTarget {
  uapi: Uapi;
  limit?: number;
  /** draw latency histograms after the table; the JSON carries them as latency_hist_log2_ns */
  hist?: boolean;
}

export async function runReport(file: string, o: ReportOptions): Promise<void> {
  checkWritable(o.file, 'summary JSON');
  // the histograms need every group's stages: a Stats of their own, fed the same fault records (only with --hist)
  const histStats = o.hist ? new Stats() : null;
  const { summary, read } = analyzeRecording(file, o.uapi, histStats ? (r) => histStats.addFault(r) : undefined);
  warnRecording(file, read.status);
  const hists = histStats ? recordingHists(histStats) : null;
  const json = JSON.stringify(hists ? { ...summary, latency_hist_log2_ns: hists } : summary, null, 2) + '\n';
  if (o.file) writeOut(o.file, json, 'summary JSON');
  if (o.stdout) {
    process.stdout.write(json);
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
  const histText = hists ? `Latency histograms (log2 buckets; each bar scaled to its histogram's largest count)\n\n${formatLatencyHists(hists)}\n` : '';
  process.stdout.write(lines.join('\n') + '\n' + formatSummaryTable(summary, { fold: true, limit: o.limit ?? REPORT_LIMIT }) + '\n' + histText);
}
