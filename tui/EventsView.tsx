// The event log: ioctls, mode switches, errors, uffd and process lifecycle,
// newest at the bottom. A bounded window (no <Static>: the whole screen is
// redrawn in place), follows the tail until scrolled back with ↑/PgUp.
import React from 'react';
import { Box } from 'ink';
import type { LogLine } from '../src/view/topSnapshot.js';
import { fit, formatAt, matchesFilter, procLabel } from './format.js';
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

/** Lines of the log area (header and status excluded) for a given view height. */
export function eventsPageSize(height: number): number {
  return Math.max(1, height - 2);
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
  for (const e of shown) {
    const color = KIND_COLOR[e.kind];
    rows.push(
      clipRow(
        [
          seg(fit(formatAt(e.atS), timeW, 'right') + ' ', { dim: true }),
          seg(fit(e.kind, kindW) + ' ', { color, bold: e.kind === 'error' }),
          seg(fit(procLabel(e.comm, e.pid, procW), procW) + ' '),
          seg(fit(e.text, textW), e.kind === 'error' ? { color: 'red' } : e.kind === 'mode' ? { color: 'magenta' } : {}),
        ],
        width,
      ),
    );
  }
  while (rows.length < height - 1) rows.push([]);
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
