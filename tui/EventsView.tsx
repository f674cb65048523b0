// The event log: ioctls, mode switches, errors, uffd and process lifecycle,
// newest at the bottom. A bounded window (no <Static>: the whole screen is
// redrawn in place), follows the tail until scrolled back with ↑/PgUp. The
// bottom line shown is the selected one: a pane under the log shows it in full.
import React from 'react';
import { Box } from 'ink';
import type { LogLine } from '../src/view/topSnapshot.js';
import { fit, formatAt, matchesFilter, procLabel, wordWrap } from './format.js';
import { clipRow, padRow, seg, spread, type Color, type Row } from './rows.js';
import { Line } from './Line.js';

/** Where a scrolled-back log stays put while new lines arrive (null = follow the tail). */
export interface EventAnchor {
  ts: number;
  pid: number;
  text: string;
}

export function filterEvents(events: readonly LogLine[], filter: string): LogLine[] {
  if (!filter.trim()) return [...events];
  return events.filter((e) => matchesFilter(filter, e.comm, e.pid));
}

/** Index of the bottom line shown for an anchor. */
export function anchorIndex(events: readonly LogLine[], anchor: EventAnchor | null): number {
  if (events.length === 0) return -1;
  if (!anchor) return events.length - 1;
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!;
    if (e.ts === anchor.ts && e.pid === anchor.pid && e.text === anchor.text) return i;
  }
  // scrolled out of the bounded buffer or replaced: the last line at or before it
  for (let i = events.length - 1; i >= 0; i--) if (events[i]!.ts <= anchor.ts) return i;
  return Math.min(events.length - 1, 0);
}

/** The anchor after scrolling by `delta` lines (negative = back in time). */
export function scrollAnchor(events: readonly LogLine[], anchor: EventAnchor | null, delta: number, page: number): EventAnchor | null {
  if (events.length === 0) return null;
  const bottom = anchorIndex(events, anchor);
  const minBottom = Math.min(events.length - 1, Math.max(0, page - 1));
  const next = Math.max(minBottom, Math.min(events.length - 1, bottom + delta));
  if (next >= events.length - 1) return null;
  const e = events[next]!;
  return { ts: e.ts, pid: e.pid, text: e.text };
}

/** lines of the pane that shows the selected event in full */
export const EVENT_DETAIL_LINES = 3;

/** Lines of the log area (header, detail pane and status excluded) for a given view height. */
export function eventsPageSize(height: number): number {
  return Math.max(1, height - 2 - EVENT_DETAIL_LINES);
}

/** One event in full, for the detail pane. */
export function eventDetail(e: LogLine): string {
  return `${formatAt(e.atS)} ${e.kind} ${e.comm}/${e.pid}: ${e.text}`;
}

export interface EventsViewProps {
  /** filtered, oldest first */
  events: readonly LogLine[];
  /** before the filter */
  total: number;
  filter: string;
  anchor: EventAnchor | null;
  width: number;
  height: number;
}

const KIND_COLOR: Record<LogLine['kind'], Color | undefined> = {
  ioctl: undefined,
  mode: 'magenta',
  error: 'red',
  uffd: 'cyan',
  proc: 'gray',
};

export function eventsRows(p: EventsViewProps): Row[] {
  const { events, width, height } = p;
  const page = eventsPageSize(height);
  const timeW = 10;
  const kindW = 5;
  const procW = width >= 110 ? 24 : width >= 90 ? 20 : 16;
  const textW = Math.max(8, width - timeW - kindW - procW - 3);
  const rows: Row[] = [];
  rows.push(
    padRow(
      [seg(fit('TIME', timeW, 'right') + ' ', { bold: true }), seg(fit('KIND', kindW) + ' ', { bold: true }), seg(fit('PROCESS', procW) + ' ', { bold: true }), seg('WHAT', { bold: true })],
      width,
    ),
  );
  const bottom = anchorIndex(events, p.anchor);
  const start = Math.max(0, bottom - page + 1);
  const shown = bottom >= 0 ? events.slice(start, bottom + 1) : [];
  if (shown.length === 0) {
    rows.push([seg(p.filter && p.total > 0 ? `  no event matches filter "${p.filter}" (Esc clears it)` : '  no events yet', { dim: true })]);
  }
  shown.forEach((e, i) => {
    const color = KIND_COLOR[e.kind];
    // the selected (bottom) line is marked while scrolled back
    const inv = p.anchor && i === shown.length - 1 ? { inverse: true } : {};
    rows.push(
      clipRow(
        [
          seg(fit(formatAt(e.atS), timeW, 'right') + ' ', { dim: true, ...inv }),
          seg(fit(e.kind, kindW) + ' ', { color, bold: e.kind === 'error', ...inv }),
          seg(fit(procLabel(e.comm, e.pid, procW), procW) + ' ', inv),
          seg(fit(e.text, textW), { ...(e.kind === 'error' ? { color: 'red' } : e.kind === 'mode' ? { color: 'magenta' } : {}), ...inv }),
        ],
        width,
      ),
    );
  });
  while (rows.length < height - 1 - EVENT_DETAIL_LINES) rows.push([]);
  const sel = bottom >= 0 ? events[bottom] : undefined;
  const detail = sel ? wordWrap(eventDetail(sel), width - 1, ' ') : [];
  for (let i = 0; i < EVENT_DETAIL_LINES; i++) rows.push(detail[i] !== undefined ? [seg(' ' + detail[i], { color: 'cyan' })] : []);
  const pos = events.length === 0 ? '' : `lines ${start + 1}-${bottom + 1} of ${events.length}`;
  const left: Row = [
    p.anchor
      ? seg(`scrolled back ${events.length - 1 - bottom} lines · End follows`, { color: 'yellow' })
      : seg('following newest', { dim: true }),
  ];
  if (p.filter) left.push(seg(`  filter "${p.filter}": ${events.length} of ${p.total}`, { color: 'yellow' }));
  rows.push(spread(left, [seg(pos, { dim: true })], width));
  return rows.slice(0, height).map((r) => clipRow(r, width));
}

export function EventsView(props: EventsViewProps): React.JSX.Element {
  return (
    <Box flexDirection="column">
      {eventsRows(props).map((r, i) => (
        <Line key={i} row={r} width={props.width} />
      ))}
    </Box>
  );
}
