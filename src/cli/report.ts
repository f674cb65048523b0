// `uffdscope report FILE [--limit N] [--json] [--json-out FILE]`: the summary of a recording.
// The table folds repeated rows and shows at most --limit per table; the JSON is whole.
import { damageHeadline } from '../recording/damage.js';
import { formatSummaryTable } from '../stats/summary.js';
import type { Uapi } from '../events/uapi.js';
import { analyzeRecording } from '../pipeline/recordingPipeline.js';
import { checkWritable, writeOut, type JsonTarget } from './outputFile.js';
import { warnRecording } from './recordingWarning.js';

/** Rows per table unless --limit says otherwise: a screenful of each. */
export const REPORT_LIMIT = 20;

export async function runReport(file: string, o: JsonTarget & { uapi: Uapi; limit?: number }): Promise<void> {
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
  process.stdout.write(lines.join('\n') + '\n' + formatSummaryTable(summary, { fold: true, limit: o.limit ?? REPORT_LIMIT }) + '\n');
}
