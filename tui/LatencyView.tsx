// Fault latency: a log2 histogram in the style of bpftrace's hist() and the
// breakdown of each fault into queue, service and wake stages.
import React from 'react';
import { Box } from 'ink';
import type { LatencyBucket, LatencyView as LatencyData, StageSummary, UffdRow } from '../src/view/topSnapshot.js';
import { bar, fit, fitColumns, formatCount, formatNs, formatNsBound, procLabel, shortUffd, type ColumnSpec } from './format.js';
import { clipRow, padRow, rowWidth, seg, type Row } from './rows.js';
import { parseUffdKey } from '../src/model/uffdIdentity.js';
import { createdLabel } from './OverviewView.js';
import { Line } from './Line.js';

export interface LatencyViewProps {
  latency: LatencyData;
  /** to name the selected uffd's process */
  uffds: readonly UffdRow[];
  /** what the user asked for with Enter (null = all), when the source is still catching up */
  requested?: string | null;
  /** false when the source cannot select a uffd (the view stays on `latency.selected`) */
  canSelect?: boolean;
  width: number;
  height: number;
}

export function bucketLabel(b: LatencyBucket): string {
  return `[${formatNsBound(b.lowNs)}, ${formatNsBound(b.highNs)})`;
}

/**
 * bpftrace-style histogram rows, at most `maxLines`. Empty buckets at either
 * end are left out; when the rest still does not fit, the busiest run of
 * buckets is drawn and the faults outside it are summed on one line each side.
 */
export function histogramRows(buckets: readonly LatencyBucket[], width: number, maxLines: number): Row[] {
  if (maxLines <= 0) return [];
  const sorted = [...buckets].sort((a, b) => a.lowNs - b.lowNs);
  let first = sorted.findIndex((b) => b.count > 0);
  if (first < 0) return [[seg('  no fault has a measured latency yet', { dim: true })]];
  let last = sorted.length - 1;
  while (last > first && sorted[last]!.count === 0) last--;
  let lo = first;
  let hi = last;
  let below = 0;
  let above = 0;
  const summarize = maxLines >= 3;
  if (hi - lo + 1 > maxLines) {
    const n = summarize ? maxLines - 2 : maxLines;
    let best = lo;
    let bestSum = -1;
    for (let s = lo; s + n - 1 <= hi; s++) {
      let sum = 0;
      for (let j = s; j < s + n; j++) sum += sorted[j]!.count;
      if (sum > bestSum) {
        bestSum = sum;
        best = s;
      }
    }
    for (let j = lo; j < best; j++) below += sorted[j]!.count;
    for (let j = best + n; j <= hi; j++) above += sorted[j]!.count;
    lo = best;
    hi = best + n - 1;
  }
  const shown = sorted.slice(lo, hi + 1);
  const labels = shown.map(bucketLabel);
  const labelW = Math.max(...labels.map((l) => [...l].length));
  const counts = shown.map((b) => String(b.count));
  const countW = Math.max(...counts.map((c) => c.length));
  const barW = Math.max(4, width - labelW - countW - 6);
  const max = Math.max(...shown.map((b) => b.count));
  const rows: Row[] = [];
  const total = buckets.reduce((a, b) => a + b.count, 0);
  if (below > 0 && summarize) {
    rows.push([seg(fit(`< ${formatNsBound(shown[0]!.lowNs)}`, labelW), { dim: true }), seg(`  ${below} faults in faster buckets (${pct(below, total)})`, { dim: true })]);
  }
  shown.forEach((b, i) => {
    rows.push(
      clipRow(
        [
          seg(fit(labels[i]!, labelW)),
          seg('  '),
          seg(fit(counts[i]!, countW, 'right'), { bold: b.count > 0 }),
          seg(' |'),
          seg(bar(b.count, max, barW), { color: 'cyan' }),
          seg('|'),
        ],
        width,
      ),
    );
  });
  if (above > 0 && summarize) {
    rows.push([seg(fit(`>= ${formatNsBound(shown[shown.length - 1]!.highNs)}`, labelW), { dim: true }), seg(`  ${above} faults in slower buckets (${pct(above, total)})`, { color: 'yellow' })]);
  }
  return rows.slice(0, maxLines);
}

function pct(n: number, total: number): string {
  if (!(total > 0)) return '-';
  const p = (n / total) * 100;
  return p >= 10 ? `${Math.round(p)}%` : `${p.toFixed(1)}%`;
}

export const STAGES = ['total', 'queue', 'service', 'wake'] as const;
export type StageName = (typeof STAGES)[number];

export const STAGE_MEANING: Record<StageName, string> = {
  total: 'fault entry → thread running again',
  queue: 'fault → handler reads the message',
  service: 'message read → resolving ioctl done',
  wake: 'resolving ioctl → thread on a CPU',
};

/** Share of the total p50 that a stage's p50 is (null when unknown). */
export function stageShare(stage: StageSummary, total: StageSummary): number | null {
  if (stage.p50Ns === null || total.p50Ns === null || !(total.p50Ns > 0)) return null;
  return stage.p50Ns / total.p50Ns;
}

interface StageCol extends ColumnSpec {
  title: string;
  right: boolean;
}

const STAGE_COLS: StageCol[] = [
  { title: 'STAGE', right: false, min: 7, dropPriority: 9 },
  { title: 'COUNT', right: true, min: 7, dropPriority: 8 },
  { title: 'P50', right: true, min: 6, dropPriority: 9 },
  { title: 'P90', right: true, min: 6, dropPriority: 5 },
  { title: 'P99', right: true, min: 6, dropPriority: 8 },
  { title: 'MAX', right: true, min: 6, dropPriority: 6 },
  { title: '%P50', right: true, min: 4, dropPriority: 7 },
  { title: '', right: false, min: 8, max: 30, grow: 1, dropPriority: 1 },
  { title: 'MEANING', right: false, min: 34, max: 40, grow: 1, dropPriority: 0 },
];

export function stageRows(l: LatencyData, width: number): Row[] {
  const widths = fitColumns(STAGE_COLS, width);
  const rows: Row[] = [];
  const cell = (i: number, text: string, style = {}) => {
    const w = widths[i]!;
    return w > 0 ? [seg(fit(text, w, STAGE_COLS[i]!.right ? 'right' : 'left'), style), seg(' ')] : [];
  };
  rows.push(padRow(STAGE_COLS.flatMap((c, i) => cell(i, c.title, { bold: true })), width));
  for (const name of STAGES) {
    const s = l[name];
    const share = stageShare(s, l.total);
    const shareText = share === null ? '-' : `${Math.round(share * 100)}%`;
    const stageColor = name === 'total' ? 'white' : name === 'queue' ? 'yellow' : name === 'service' ? 'cyan' : 'green';
    rows.push(
      clipRow(
        [
          ...cell(0, name, { bold: name === 'total', color: stageColor }),
          ...cell(1, formatCount(s.count)),
          ...cell(2, formatNs(s.p50Ns), { bold: true }),
          ...cell(3, formatNs(s.p90Ns)),
          ...cell(4, formatNs(s.p99Ns)),
          ...cell(5, formatNs(s.maxNs)),
          ...cell(6, shareText),
          ...cell(7, share === null ? '' : '■'.repeat(Math.min(widths[7]!, Math.round(Math.min(1, share) * widths[7]!))), { color: stageColor }),
          ...cell(8, STAGE_MEANING[name], { dim: true }),
        ],
        width,
      ),
    );
  }
  return rows;
}

/** A uffd (by key) as "…8810badd800 +0.016s": address tail and when it was created ("pre": before tracing). */
export function uffdLabel(key: string, uffds: readonly UffdRow[]): string {
  const u = uffds.find((r) => r.key === key);
  if (u !== undefined) return `${shortUffd(u.id, 12)} ${u.createdS === null ? 'pre' : '+' + createdLabel(u.createdS)}`;
  const id = parseUffdKey(key);
  return shortUffd(id === null ? key : '0x' + id.ctx.toString(16), 12);
}

export function latencyRows(p: LatencyViewProps): Row[] {
  const { latency: l, width, height } = p;
  const rows: Row[] = [];
  const sel = l.selected;
  const what: Row = [];
  if (sel === 'all') {
    what.push(seg('all uffds', { bold: true, color: 'cyan' }));
  } else {
    const u = p.uffds.find((r) => r.key === sel);
    what.push(seg(`uffd ${uffdLabel(sel, p.uffds)}`, { bold: true, color: 'cyan' }));
    if (u) what.push(seg(' ' + procLabel(u.comm, u.pid, 24)));
  }
  what.push(seg(`  ${formatCount(l.total.count)} faults`, { dim: true }));
  if (p.canSelect === false && p.requested && p.requested !== sel) {
    what.push(seg('  (this source cannot select a uffd)', { color: 'yellow' }));
  } else if (p.requested !== undefined && (p.requested ?? 'all') !== sel) {
    what.push(seg(`  (switching to ${p.requested ? uffdLabel(p.requested, p.uffds) : 'all'}…)`, { color: 'yellow' }));
  }
  const long: Row = [seg('Fault latency', { bold: true }), seg(' (fault entry → running again)  ', { dim: true }), ...what];
  const title: Row = rowWidth(long) <= width ? long : [seg('Fault latency', { bold: true }), seg('  '), ...what];
  rows.push(clipRow(title, width));

  const stages = stageRows(l, width);
  const histLines = Math.max(1, height - 2 - stages.length - 1);
  const hist = histogramRows(l.buckets, width, histLines);
  rows.push(...hist);
  while (rows.length < 1 + histLines) rows.push([]);
  rows.push([]);
  rows.push(...stages);
  rows.push([seg(sel === 'all' ? 'Enter in Overview: one uffd' : 'a: back to all uffds', { dim: true }), seg(' · %P50 = stage p50 / total p50 · ? explains', { dim: true })]);
  return rows.slice(0, height).map((r) => clipRow(r, width));
}

export function LatencyView(props: LatencyViewProps): React.JSX.Element {
  return (
    <Box flexDirection="column">
      {latencyRows(props).map((r, i) => (
        <Line key={i} row={r} width={props.width} />
      ))}
    </Box>
  );
}
