// `?`: every key, and what every number on the screen means.
import React from 'react';
import { Box } from 'ink';
import { fit, wordWrap } from './format.js';
import { seg, spread, type Row } from './rows.js';
import { Line } from './Line.js';

export const KEY_HELP: ReadonlyArray<readonly [string, string]> = [
  ['Tab / Shift-Tab', 'next / previous view'],
  ['1 2 3 4', 'overview, latency, timeline, events'],
  ['?  h', 'this help (toggle; Esc also closes it)'],
  ['q  Ctrl-C', 'quit'],
  ['p', 'pause / resume the display (capture continues); in a replay, pause / resume playback'],
  ['/', 'filter by process name or pid: type, Enter applies, Esc cancels; several terms (a,b) match any'],
  ['Esc', 'clear the filter'],
  ['↑ ↓  (k j)', 'overview: select a uffd; timeline: scroll lanes; events and help: scroll'],
  ['Enter', 'overview: show the selected uffd in the latency view'],
  ['<  >  (s)', 'overview: sort by the column to the left / right (in screen order)'],
  ['I  (r)', 'overview: invert the sort order'],
  ['a', 'latency: back to all uffds'],
  ['PgUp PgDn', 'overview: move a page; events and help: scroll a page'],
  ['Home End', 'overview: first / last row; events: oldest / newest (End follows new lines)'],
  ['Space', 'replay: pause / resume playback'],
  ['← →', 'replay: seek back / forward 5 s (also while paused or ended)'],
  ['+ -', 'replay: faster / slower'],
  ['D', 'live, while nothing uses userfaultfd: start the bundled demo workload (it stops when top exits)'],
];

export const MEANINGS: ReadonlyArray<readonly [string, string]> = [
  ['fault latency', 'fault entry to the faulting thread running again (P50/P99: median / 99th percentile)'],
  ['queue', 'fault to the handler reading the message'],
  ['service', 'message read to the resolving ioctl finishing'],
  ['wake', 'resolving ioctl to the thread back on a CPU'],
  ['%P50', "the stage's p50 as a share of the total p50 (the stages' p50s need not add up to 100%)"],
  ['pending', 'faults waiting now'],
  ['mode sync/async', "the uffd's RWP_ASYNC/WP_ASYNC state: async faults are resolved by the kernel without a message"],
  ['markers', 'UFFDIO_SET_MODE attempts (▲ took effect, ✗ refused with its errno), their ioctl latency (drain and wake-up apart with the fentry/kprobe backends) and the waiters they woke'],
  ['FLT/s, TREND', 'userfaults per second on the uffd, and its recent history (▁ low … █ high, blank = none)'],
  ['ARMED', 'address space registered on the uffd now (0 after UNREGISTER)'],
  ['CREATED', 'seconds after the start when the uffd was created ("-": it existed before). A freed context address reused by a new uffd is a new row'],
  ['closed', 'dimmed rows and lanes: every fd of that uffd was closed; they leave after 5 s'],
  ['detail', 'the line(s) under the overview and the events show the selected row or event in full'],
  ['HANDLER', 'comm/pid of the process(es) reading messages and resolving faults'],
  ['events/s, total', 'records received from the kernel'],
  ['lost', 'records the kernel could not queue (the ring buffer was full); the numbers undercount when it is not 0'],
  ['generated', 'simulated data, not captured from a kernel'],
  ['demo', 'nothing else on this host uses userfaultfd, so the bundled workload is traced'],
];

/** Every help line, wrapped to `width` (nothing is cut). */
export function helpRows(width: number): Row[] {
  const rows: Row[] = [];
  const keyW = Math.min(18, Math.max(10, Math.floor(width / 4)));
  const section = (title: string) => rows.push([seg(title, { bold: true, color: 'cyan', underline: true })]);
  const entry = (k: string, v: string, w: number, keyStyle: object) => {
    const lines = wordWrap(v, Math.max(10, width - w - 3));
    lines.forEach((l, i) => rows.push([seg('  ' + fit(i === 0 ? k : '', w) + ' ', i === 0 ? keyStyle : {}), seg(l)]));
  };
  section('Keys');
  for (const [k, v] of KEY_HELP) entry(k, v, keyW, { bold: true, color: 'yellow' });
  rows.push([]);
  section('What each number means');
  for (const [k, v] of MEANINGS) entry(k, v, keyW, { bold: true });
  return rows;
}

export interface HelpViewProps {
  width: number;
  height: number;
  /** first help line shown */
  scroll: number;
}

/** The lines drawn for a window of the help (with a scroll indicator when it does not fit). */
export function helpWindow(p: HelpViewProps): Row[] {
  const all = helpRows(p.width);
  if (all.length <= p.height) return all;
  const body = Math.max(1, p.height - 1);
  const start = Math.max(0, Math.min(p.scroll, all.length - body));
  const out = all.slice(start, start + body);
  const pos = `help lines ${start + 1}-${start + out.length} of ${all.length}`;
  out.push(spread([seg(start + body < all.length ? '↓ more: ↓ / PgDn' : '↑ ↑ / PgUp', { color: 'yellow' })], [seg(pos + ' · ? or Esc closes', { dim: true })], p.width));
  return out;
}

export function helpMaxScroll(width: number, height: number): number {
  const n = helpRows(width).length;
  return n <= height ? 0 : n - Math.max(1, height - 1);
}

export function HelpView(props: HelpViewProps): React.JSX.Element {
  return (
    <Box flexDirection="column">
      {helpWindow(props).map((r, i) => (
        <Line key={i} row={r} width={props.width} />
      ))}
    </Box>
  );
}
