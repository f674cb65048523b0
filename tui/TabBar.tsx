// The view tabs (1-4, Tab / Shift-Tab) and, on the right, the active filter.
import React from 'react';
import { rowWidth, seg, spread, type Row } from './rows.js';
import { Line } from './Line.js';
import { truncate } from './format.js';

export type ViewName = 'overview' | 'latency' | 'timeline' | 'events';
export const VIEWS: readonly ViewName[] = ['overview', 'latency', 'timeline', 'events'];
export const VIEW_TITLES: Record<ViewName, string> = {
  overview: 'Overview',
  latency: 'Latency',
  timeline: 'Timeline',
  events: 'Events',
};

const SHORT_TITLES: Record<ViewName, string> = {
  overview: 'Ovw',
  latency: 'Lat',
  timeline: 'Time',
  events: 'Evts',
};

export interface TabBarProps {
  active: ViewName;
  width: number;
  /** applied filter, shown on the right ("" = none) */
  filter?: string;
  helpOpen?: boolean;
}

export function tabBarRow({ active, width, filter, helpOpen }: TabBarProps): Row {
  const tabs = (titles: Record<ViewName, string>): Row => {
    const row: Row = [];
    VIEWS.forEach((v, i) => {
      const on = v === active && !helpOpen;
      row.push(seg(` ${i + 1} ${titles[v]} `, on ? { inverse: true, bold: true, color: 'cyan' } : {}));
      row.push(seg(' '));
    });
    if (helpOpen) row.push(seg(' ? Help ', { inverse: true, bold: true, color: 'cyan' }));
    return row;
  };
  let left = tabs(VIEW_TITLES);
  if (rowWidth(left) > width) left = tabs(SHORT_TITLES);
  // the tabs keep their place; the right side gives way
  const room = width - rowWidth(left) - 1;
  const keys = '? help  q quit';
  const right: Row = [];
  if (filter) {
    const fw = Math.min(24, room - 'filter '.length - (room >= 30 ? keys.length + 2 : 0));
    if (fw >= 3) right.push(seg('filter ', { dim: true }), seg(truncate(filter, fw), { bold: true, color: 'yellow' }));
  }
  if (rowWidth(right) + (right.length ? 2 : 0) + keys.length <= room) {
    if (right.length) right.push(seg('  '));
    right.push(seg(keys, { dim: true }));
  }
  return spread(left, right, width);
}

export function TabBar(props: TabBarProps): React.JSX.Element {
  return <Line row={tabBarRow(props)} width={props.width} />;
}
