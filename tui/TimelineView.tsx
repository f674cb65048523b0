// One lane per uffd (context address + creation time: a reused address is
// another lane, with its own label and rate) over the last windowS seconds:
// its sync/async mode as a bar, every UFFDIO_SET_MODE attempt as a marker (▲ ok, ✗ refused), and its
// fault rate under it; a legend lists the markers with their ioctl latency
// (drain and wake-up apart where the backend observed them) and how many
// waiters a switch woke.
import React from 'react';
import { Box } from 'ink';
import type { ModeMarker, ModeSpan, TimelineLane, TimelineView as TimelineData, UffdRow } from '../src/view/topSnapshot.js';
import { fit, fitLabel, formatAgo, formatCount, formatNs, matchesFilter, shortUffd, sparkline } from './format.js';
import { cellsToRow, clipRow, seg, spread, type Row, type Seg } from './rows.js';
import { createdLabel } from './OverviewView.js';
import { Line } from './Line.js';

export const SYNC_CHAR = '─';
export const ASYNC_CHAR = '█';
export const OK_MARK = '▲';
export const REFUSED_MARK = '✗';

export interface TimelineViewProps {
  timeline: TimelineData;
  /** lanes to draw (visibleLanes) */
  lanes: readonly TimelineLane[];
  /** first lane shown (↑/↓ scroll) */
  scroll: number;
  width: number;
  height: number;
}

/** Lanes whose uffd belongs to a process matching the filter (or whose label matches). */
export function visibleLanes(t: TimelineData, uffds: readonly UffdRow[], filter: string): TimelineLane[] {
  if (!filter.trim()) return [...t.lanes];
  const ok = new Set(uffds.filter((r) => matchesFilter(filter, r.comm, r.pid)).map((r) => r.key));
  const terms = filter
    .toLowerCase()
    .split(/[\s,]+/)
    .filter((x) => x);
  return t.lanes.filter((l) => ok.has(l.key) || terms.some((x) => l.label.toLowerCase().includes(x)));
}

/** Column of a time (s, <= 0) in a chart `cols` wide covering `windowS`; null when outside. */
export function columnOf(atS: number, windowS: number, cols: number): number | null {
  if (!(windowS > 0) || cols <= 0 || atS < -windowS - 1e-9 || atS > 1e-9) return null;
  return Math.min(cols - 1, Math.max(0, Math.floor(((atS + windowS) / windowS) * cols)));
}

export function modeAt(spans: readonly ModeSpan[], t: number): 'sync' | 'async' | null {
  for (const s of spans) if (s.startS <= t && t < s.endS) return s.mode;
  // the newest span includes "now"
  const lastSpan = spans[spans.length - 1];
  if (lastSpan && t >= lastSpan.startS && t <= lastSpan.endS) return lastSpan.mode;
  return null;
}

/** The mode bar: one cell per column, sampled at the column's middle. */
export function modeBar(spans: readonly ModeSpan[], windowS: number, cols: number): Row {
  const cells: Seg[] = [];
  for (let c = 0; c < cols; c++) {
    const t = -windowS + ((c + 0.5) * windowS) / cols;
    const m = modeAt(spans, t);
    if (m === 'async') cells.push(seg(ASYNC_CHAR, { color: 'magenta' }));
    else if (m === 'sync') cells.push(seg(SYNC_CHAR, { color: 'cyan', dim: true }));
    else cells.push(seg(' '));
  }
  return cellsToRow(cells);
}

/** The marker row: ▲ (green) for a switch that took, ✗ + errno (red) for a refused one. */
export function markerRow(markers: readonly ModeMarker[], windowS: number, cols: number): Row {
  const cells: Seg[] = Array.from({ length: cols }, () => seg(' '));
  const taken = new Array<boolean>(cols).fill(false);
  const ordered = [...markers].sort((a, b) => Number(b.ok) - Number(a.ok)); // refused drawn last (wins)
  const placed: Array<{ col: number; m: ModeMarker }> = [];
  for (const m of ordered) {
    const col = columnOf(m.atS, windowS, cols);
    if (col === null) continue;
    cells[col] = m.ok ? seg(OK_MARK, { color: 'green', bold: true }) : seg(REFUSED_MARK, { color: 'red', bold: true });
    taken[col] = true;
    placed.push({ col, m });
  }
  // errno after each refused marker, into free cells only
  for (const { col, m } of placed) {
    if (m.ok || !m.errno) continue;
    const text = [...m.errno];
    let c = col + 1;
    for (const ch of text) {
      if (c >= cols || taken[c]) break;
      cells[c] = seg(ch, { color: 'red' });
      taken[c] = true;
      c++;
    }
  }
  return cellsToRow(cells);
}

const mask = (v: bigint | null) => (v === null ? 'unread' : `0x${v.toString(16)}`);

/** What a marker did: "→ async", "→ sync", or the raw feature masks. */
export function markerEffect(m: ModeMarker, spans: readonly ModeSpan[]): string {
  if (!m.ok) return `${m.errno ?? 'refused'} enable ${mask(m.enable)} disable ${mask(m.disable)}`;
  const after = modeAt(spans, m.atS + 1e-3);
  if (after) return `→ ${after}`;
  return `enable ${mask(m.enable)} disable ${mask(m.disable)}`;
}

/** The marker's timing, named as everywhere: drain and wake-up where observed, else the ioctl latency. */
export function markerTiming(m: ModeMarker): Array<[string, string]> {
  if (m.drainNs === undefined) return [['ioctl', formatNs(m.latencyNs)]];
  const out: Array<[string, string]> = [['drain', formatNs(m.drainNs)]];
  if (m.wakeupNs !== undefined) out.push(['wake-up', formatNs(m.wakeupNs)]);
  return out;
}

function axisRow(windowS: number, cols: number): string {
  const cells = new Array<string>(cols).fill(' ');
  const put = (text: string, at: number) => {
    const start = Math.max(0, Math.min(cols - text.length, at));
    for (let i = 0; i < text.length && start + i < cols; i++) cells[start + i] = text[i]!;
  };
  const label = (s: number) => (s === 0 ? 'now' : `-${Number.isInteger(s) ? s : s.toFixed(1)}s`);
  put(label(windowS), 0);
  if (cols >= 40) {
    put(label(windowS / 2), Math.floor(cols / 2) - 2);
    put(label((windowS * 3) / 4), Math.floor(cols / 4) - 2);
    put(label(windowS / 4), Math.floor((cols * 3) / 4) - 2);
  } else if (cols >= 20) {
    put(label(windowS / 2), Math.floor(cols / 2) - 2);
  }
  put('now', cols - 3);
  return cells.join('');
}

/** How many lanes (3 lines each) fit, leaving room for the axis, legend and a few markers. */
export function laneCapacity(lanes: readonly TimelineLane[], height: number): number {
  const markers = lanes.reduce((a, l) => a + l.markers.length, 0);
  return Math.max(1, Math.floor((height - 2 - Math.min(markers, 3)) / 3));
}

export function maxLaneScroll(lanes: readonly TimelineLane[], height: number): number {
  return Math.max(0, lanes.length - laneCapacity(lanes, height));
}

/** "13.1k/s max", or "13.1k/s" where that does not fit. */
function rateLabel(max: number, width: number): string {
  const r = `${formatCount(max)}/s`;
  return r.length + 4 <= width ? `${r} max` : r;
}

export function timelineRows(p: TimelineViewProps): Row[] {
  const { timeline: t, lanes, width, height } = p;
  const labelW = width >= 110 ? 24 : width >= 90 ? 20 : 18;
  const cols = Math.max(10, width - labelW - 1);
  const rows: Row[] = [];
  const gutter = (text: string, style: Omit<Seg, 'text'> = {}) => seg(fit(text, labelW) + ' ', style);

  rows.push([gutter(`window ${t.windowS}s`, { dim: true }), seg(axisRow(t.windowS, cols), { dim: true })]);
  if (lanes.length === 0) {
    rows.push([seg('  no uffd in the window' + (t.lanes.length ? ' matches the filter' : ''), { dim: true })]);
    return rows.slice(0, height).map((r) => clipRow(r, width));
  }

  const allMarkers = lanes.flatMap((l) => l.markers.map((m) => ({ lane: l, m })));
  const fitLanes = laneCapacity(lanes, height);
  const scroll = Math.max(0, Math.min(p.scroll, maxLaneScroll(lanes, height)));
  const shownLanes = lanes.slice(scroll, scroll + fitLanes);

  for (const lane of shownLanes) {
    // a closed uffd's lane is dimmed; its mode bar ends at the close
    const nowMode = lane.closed ? null : modeAt(lane.spans, 0);
    const maxRate = lane.rate.reduce((a, v) => Math.max(a, v), 0);
    const dim = lane.closed ? { dim: true } : {};
    rows.push([gutter(fitLabel(lane.label, labelW), { bold: !lane.closed, ...dim }), ...markerRow(lane.markers, t.windowS, cols)]);
    // which uffd: address tail and creation time (what tells a reused address's uffds apart)
    const created = lane.createdS === null ? 'pre' : `+${createdLabel(lane.createdS)}`;
    const idW = Math.max(4, labelW - created.length - 1);
    rows.push([gutter(`${fit(shortUffd(lane.uffd, idW), idW)} ${created}`, { dim: true }), ...modeBar(lane.spans, t.windowS, cols)]);
    rows.push([
      seg(fit(lane.closed ? 'closed' : (nowMode ?? '-'), 6) + ' ', lane.closed ? { dim: true } : nowMode === 'async' ? { color: 'magenta', bold: true } : { color: 'cyan' }),
      seg(fit(rateLabel(maxRate, labelW - 7), labelW - 7) + ' ', { dim: true }),
      seg(sparkline(lane.rate, cols, { fit: 'resample', max: maxRate }), { color: 'green', ...dim }),
    ]);
  }

  // legend
  const more = lanes.length > shownLanes.length ? `lanes ${scroll + 1}-${scroll + shownLanes.length} of ${lanes.length} ↑↓` : '';
  rows.push(
    spread(
      [
        seg(OK_MARK, { color: 'green', bold: true }),
        seg(' switched  '),
        seg(REFUSED_MARK, { color: 'red', bold: true }),
        seg(' refused  '),
        seg(SYNC_CHAR, { color: 'cyan' }),
        seg(' sync  '),
        seg(ASYNC_CHAR, { color: 'magenta' }),
        seg(' async  '),
        seg('▁▃▆', { color: 'green' }),
        seg(' faults/s'),
      ],
      more ? [seg(more, { dim: true })] : [],
      width,
    ),
  );

  const shownMarkers = allMarkers
    .filter(({ lane }) => shownLanes.includes(lane))
    .sort((a, b) => b.m.atS - a.m.atS);
  const room = height - rows.length;
  const list = shownMarkers.length > room ? shownMarkers.slice(0, Math.max(0, room - 1)) : shownMarkers;
  const createdOf = (l: TimelineLane) => (l.createdS === null ? 'pre' : `+${createdLabel(l.createdS)}`);
  const createdW = list.reduce((a, { lane }) => Math.max(a, createdOf(lane).length), 3);
  for (const { lane, m } of list) {
    const r: Row = [
      m.ok ? seg(OK_MARK, { color: 'green', bold: true }) : seg(REFUSED_MARK, { color: 'red', bold: true }),
      seg(' ' + fit(formatAgo(m.atS), 7, 'right') + '  '),
      seg(fit(fitLabel(lane.label, Math.min(18, labelW)), Math.min(18, labelW)) + ' '),
      seg(fit(createdOf(lane), createdW) + ' ', { dim: true }),
      seg(markerEffect(m, lane.spans), m.ok ? { color: 'green' } : { color: 'red' }),
      ...markerTiming(m).flatMap(([k, v]) => [seg(`  ${k} `, { dim: true }), seg(v, { bold: true })]),
    ];
    if (m.woken !== undefined) r.push(seg('  woke ', { dim: true }), seg(String(m.woken), { bold: true }));
    rows.push(clipRow(r, width));
  }
  if (list.length < shownMarkers.length && room > 0) {
    rows.push([seg(`  +${shownMarkers.length - list.length} older mode switches`, { dim: true })]);
  }
  return rows.slice(0, height).map((r) => clipRow(r, width));
}

export function TimelineView(props: TimelineViewProps): React.JSX.Element {
  return (
    <Box flexDirection="column">
      {timelineRows(props).map((r, i) => (
        <Line key={i} row={r} width={props.width} />
      ))}
    </Box>
  );
}
