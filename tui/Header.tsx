// Top lines: what is traced, how, how fast, what is lost; and a banner for
// anything that changes how to read the numbers (demo workload, generated
// data, replay, paused display).
import React from 'react';
import { Box } from 'ink';
import type { TopHeader } from '../src/view/topSnapshot.js';
import { formatClock, formatCount, formatSpeed, formatUptime, truncate, wordWrap } from './format.js';
import { clipRow, padRow, rowWidth, seg, spread, type Row } from './rows.js';
import { Line } from './Line.js';

export const GENERATED_BANNER = 'GENERATED DATA — simulated, not captured from a kernel';

/** What the kernel-counting engine shows, and what needs --per-fault. */
export const ENGINE_KERNEL_LINE = 'counted in the kernel: faults, latency and stages per uffd; per-fault events need --per-fault';

export function demoBanner(selection: string): string {
  const m = /scenario[\s=:]+([\w-]+)/.exec(selection);
  const scenario = m ? m[1] : 'mixed';
  return `DEMO: tracing the bundled workload (${scenario} scenario) because nothing else on this host uses userfaultfd`;
}

export interface HeaderTotals {
  uffds: number;
  faultsPerSec: number;
  pending: number;
}

export interface HeaderProps {
  header: TopHeader;
  width: number;
  /** the display is frozen with `p` (the snapshot's own flag also counts) */
  paused?: boolean;
  totals?: HeaderTotals;
}

const SOURCE_TAG: Record<TopHeader['source'], string> = {
  live: 'LIVE',
  recording: 'REPLAY',
  generated: 'GENERATED',
};

export function headerRows({ header: h, width, paused, totals }: HeaderProps): Row[] {
  const rows: Row[] = [];
  const tag = SOURCE_TAG[h.source] ?? h.source;
  const tagColor = h.source === 'live' ? 'green' : h.source === 'generated' ? 'magenta' : 'blue';
  const tagSeg = seg(tag, { bold: true, color: tagColor });
  const up: Row = [seg('up ', { dim: true }), seg(formatUptime(h.uptimeS))];
  const labelled: Row = [
    seg('uffdscope', { bold: true, color: 'cyan' }),
    seg(' '),
    tagSeg,
    seg('  kernel ', { dim: true }),
    seg(truncate(h.kernel, 24)),
    seg('  backend ', { dim: true }),
    seg(truncate(h.backend, 14)),
    seg('  tracing ', { dim: true }),
    seg(h.selection || 'host-wide'),
  ];
  // narrow terminals: the same facts without the labels
  const compact: Row = [
    seg('uffdscope', { bold: true, color: 'cyan' }),
    seg(' '),
    tagSeg,
    seg('  '),
    seg(truncate(h.kernel, 20)),
    seg(' · ', { dim: true }),
    seg(truncate(h.backend, 12)),
    seg(' · ', { dim: true }),
    seg(h.selection || 'host-wide'),
  ];
  rows.push(spread(rowWidth(labelled) + rowWidth(up) + 1 <= width ? labelled : compact, up, width));

  const lostStyle = h.lost > 0 ? ({ bold: true, color: 'white', bg: 'red' } as const) : {};
  const stats: Row = [
    seg('events ', { dim: true }),
    seg(`${formatCount(h.eventsPerSec)}/s`, { bold: true }),
    seg('  total ', { dim: true }),
    seg(formatCount(h.eventsTotal)),
    seg('  '),
    seg(h.lost > 0 ? ` LOST ${formatCount(h.lost)} ` : 'lost 0', h.lost > 0 ? lostStyle : { dim: true }),
  ];
  if (totals) {
    stats.push(
      seg('  uffds ', { dim: true }),
      seg(String(totals.uffds)),
      seg('  faults ', { dim: true }),
      seg(`${formatCount(totals.faultsPerSec)}/s`, { bold: true }),
      seg('  pending ', { dim: true }),
      seg(String(totals.pending), totals.pending > 0 ? { color: 'yellow', bold: true } : {}),
    );
  }
  const right: Row = h.metricsAddress ? [seg('metrics ', { dim: true }), seg(h.metricsAddress)] : [];
  rows.push(right.length > 0 ? spread(stats, right, width) : stats);

  if (h.engine === 'kernel') rows.push([seg(ENGINE_KERNEL_LINE, { dim: true })]);
  if (h.notice) {
    for (const l of wordWrap(h.notice, width - 2)) rows.push([seg(' ' + l, { color: 'yellow' })]);
  }
  if (h.demo) {
    for (const l of wordWrap(demoBanner(h.selection), width - 2)) {
      rows.push(padRow([seg(' ' + l, { bold: true, color: 'black', bg: 'yellow' })], width, { bg: 'yellow' }));
    }
  }
  if (h.generated || h.source === 'generated') {
    for (const l of wordWrap(GENERATED_BANNER, width - 2)) {
      rows.push(padRow([seg(' ' + l, { bold: true, color: 'white', bg: 'magenta' })], width, { bg: 'magenta' }));
    }
  }
  if (h.replay) rows.push(replayRow(h.replay, width));
  // a replay's pause is playback's, shown on its own row: the display is not frozen
  if (paused || (h.paused && !h.replay)) {
    rows.push(
      padRow(
        [seg(' PAUSED', { bold: true, color: 'black', bg: 'yellow' }), seg(h.replay ? ' — display frozen · p resumes' : ' — display frozen, capture continues · p resumes', { color: 'black', bg: 'yellow' })],
        width,
        { bg: 'yellow' },
      ),
    );
  }
  return rows.map((r) => clipRow(r, width));
}

function replayRow(r: NonNullable<TopHeader['replay']>, width: number): Row {
  const state = r.ended
    ? seg(' ENDED ', { bold: true, color: 'white', bg: 'blue' })
    : r.paused
      ? seg(' PAUSED ', { bold: true, color: 'black', bg: 'yellow' })
      : seg(' PLAYING ', { bold: true, color: 'black', bg: 'green' });
  const head: Row = [
    seg('REPLAY ', { bold: true, color: 'blue' }),
    seg(`${formatClock(r.positionS)} / ${formatClock(r.durationS)}`),
    seg('  speed ', { dim: true }),
    seg(formatSpeed(r.speed), { bold: true }),
    seg(' '),
    state,
  ];
  const hints = r.ended ? ' ← seeks back · q quits' : ' space pause · ←/→ 5s · +/- speed';
  const used = head.reduce((a, s) => a + [...s.text].length, 0);
  const barW = Math.min(30, width - used - hints.length - 4);
  const row: Row = [...head];
  if (barW >= 6) {
    const frac = r.durationS > 0 ? Math.min(1, Math.max(0, r.positionS / r.durationS)) : 0;
    const done = Math.round(frac * barW);
    row.splice(2, 0, seg(' ['), seg('='.repeat(done), { color: 'blue' }), seg('·'.repeat(barW - done), { dim: true }), seg(']'));
  }
  if (rowWidth(row) + hints.length <= width) row.push(seg(hints, { dim: true }));
  return clipRow(row, width);
}

export function Header(props: HeaderProps): React.JSX.Element {
  return (
    <Box flexDirection="column">
      {headerRows(props).map((r, i) => (
        <Line key={i} row={r} width={props.width} />
      ))}
    </Box>
  );
}
