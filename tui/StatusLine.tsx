// Bottom line: the keys that work in the current view, or the filter prompt.
import React from 'react';
import { clipRow, seg, type Row } from './rows.js';
import { Line } from './Line.js';
import { truncateStart } from './format.js';
import type { ViewName } from './TabBar.js';

export interface StatusLineProps {
  view: ViewName | 'help';
  width: number;
  /** the filter being typed (undefined: no prompt) */
  prompt?: string;
  /** a short message from the last key (e.g. "seek not supported by this source") */
  message?: string;
}

const HINTS: Record<StatusLineProps['view'], string> = {
  overview: '↑↓ select  Enter latency  < > sort  I invert  / filter  p pause  h help',
  latency: 'a all uffds  Tab next view  / filter  p pause  ? help  q quit',
  timeline: '↑↓ lanes  / filter  p pause  ? help  q quit',
  events: '↑↓ PgUp PgDn scroll  Home End  / filter  p pause  ? help',
  help: '↑↓ PgUp PgDn scroll  ? or Esc close  q quit',
};

export function statusRow({ view, width, prompt, message }: StatusLineProps): Row {
  if (prompt !== undefined) {
    const tail = '  Enter apply · Esc cancel';
    const label = 'filter (name or pid): ';
    const room = Math.max(1, width - label.length - tail.length - 1);
    return [
      seg(label, { bold: true, color: 'yellow' }),
      seg(truncateStart(prompt, room - 1)),
      seg('█', { color: 'yellow' }),
      seg(tail, { dim: true }),
    ];
  }
  const hints: Row = [seg(HINTS[view], { dim: true })];
  return message ? clipRow([seg(message, { color: 'yellow', bold: true }), seg('  '), ...hints], width) : hints;
}

export function StatusLine(props: StatusLineProps): React.JSX.Element {
  return <Line row={statusRow(props)} width={props.width} />;
}
