// The uffd table: one row per userfaultfd context, sortable, filterable, with
// a fault-rate sparkline. Enter on a row shows that uffd's latency.
import React from 'react';
import { Box } from 'ink';
import type { UffdRow } from '../src/view/topSnapshot.js';
import {
  fit,
  fitColumns,
  fitLabel,
  formatCount,
  formatMiB,
  formatNs,
  matchesFilter,
  procLabel,
  shortUffd,
  sparkline,
  type Align,
  type ColumnSpec,
} from './format.js';
import { clipRow, padRow, seg, type Row, type Seg } from './rows.js';
import { Line } from './Line.js';

export type SortKey = 'faults' | 'p99' | 'p50' | 'pending' | 'armed' | 'mode' | 'process' | 'uffd' | 'handler';
/** `s` cycles through these */
export const SORT_KEYS: readonly SortKey[] = ['faults', 'p99', 'p50', 'pending', 'armed', 'mode', 'process', 'uffd', 'handler'];

type ColId = 'process' | 'uffd' | 'mode' | 'armed' | 'faults' | 'p50' | 'p99' | 'pending' | 'handler' | 'rate';

interface Col extends ColumnSpec {
  id: ColId;
  title: string;
  align: Align;
}

const COLS: Col[] = [
  { id: 'process', title: 'PROCESS', align: 'left', min: 16, max: 30, grow: 2, dropPriority: 9 },
  { id: 'uffd', title: 'UFFD', align: 'left', min: 7, max: 18, grow: 1, dropPriority: 3 },
  { id: 'mode', title: 'MODE', align: 'left', min: 5, dropPriority: 8 },
  { id: 'armed', title: 'ARMED', align: 'right', min: 5, dropPriority: 4 },
  { id: 'faults', title: 'FLT/s', align: 'right', min: 6, dropPriority: 9 },
  { id: 'p50', title: 'P50', align: 'right', min: 6, dropPriority: 7 },
  { id: 'p99', title: 'P99', align: 'right', min: 6, dropPriority: 8 },
  { id: 'pending', title: 'PEND', align: 'right', min: 5, dropPriority: 6 },
  { id: 'handler', title: 'HANDLER', align: 'left', min: 8, max: 24, grow: 1, dropPriority: 2 },
  { id: 'rate', title: 'TREND', align: 'left', min: 6, max: 60, grow: 3, dropPriority: 1 },
];

export const SORT_TITLES: Record<SortKey, string> = {
  faults: 'FLT/s',
  p99: 'P99',
  p50: 'P50',
  pending: 'PEND',
  armed: 'ARMED',
  mode: 'MODE',
  process: 'PROCESS',
  uffd: 'UFFD',
  handler: 'HANDLER',
};

/** Numeric columns sort high-to-low by default, text columns A-Z. */
function naturalDesc(k: SortKey): boolean {
  return k === 'faults' || k === 'p99' || k === 'p50' || k === 'pending' || k === 'armed';
}

/** true when the arrow points down (largest first / Z-A) */
export function sortIsDesc(k: SortKey, reversed: boolean): boolean {
  return naturalDesc(k) !== reversed;
}

function sortValue(r: UffdRow, k: SortKey): number | string | null {
  switch (k) {
    case 'faults':
      return r.faultsPerSec;
    case 'p99':
      return r.p99Ns;
    case 'p50':
      return r.p50Ns;
    case 'pending':
      return r.pending;
    case 'armed':
      return r.armedMiB;
    case 'mode':
      return r.mode;
    case 'process':
      return `${r.comm.toLowerCase()}\u0000${String(r.pid).padStart(10, '0')}`;
    case 'uffd':
      return r.id;
    case 'handler':
      return r.handler;
  }
}

/** The rows the overview shows: filtered by process name / pid, then sorted (ties by uffd id). */
export function visibleUffds(rows: readonly UffdRow[], filter: string, key: SortKey, reversed: boolean): UffdRow[] {
  const desc = sortIsDesc(key, reversed);
  return rows
    .filter((r) => matchesFilter(filter, r.comm, r.pid))
    .sort((a, b) => {
      const va = sortValue(a, key);
      const vb = sortValue(b, key);
      // unknown values (no latency yet) always last
      if (va === null && vb !== null) return 1;
      if (vb === null && va !== null) return -1;
      let c = 0;
      if (va !== null && vb !== null) {
        c = typeof va === 'number' && typeof vb === 'number' ? va - vb : String(va).localeCompare(String(vb));
        if (desc) c = -c;
      }
      return c !== 0 ? c : a.id.localeCompare(b.id);
    });
}

export interface OverviewProps {
  /** already filtered and sorted (visibleUffds) */
  rows: readonly UffdRow[];
  /** all rows before the filter */
  total: number;
  selectedId: string | null;
  sortKey: SortKey;
  reversed: boolean;
  filter: string;
  width: number;
  height: number;
}

/** First row index shown so that the selected row is on screen. */
export function scrollStart(selected: number, count: number, visible: number): number {
  if (visible <= 0 || count <= visible) return 0;
  if (selected < visible) return 0;
  return Math.min(count - visible, selected - visible + 1);
}

export function overviewRows(p: OverviewProps): Row[] {
  const { width, height } = p;
  const widths = fitColumns(COLS, width);
  const cols = COLS.map((c, i) => ({ ...c, w: widths[i]! })).filter((c) => c.w > 0);
  const out: Row[] = [];
  const desc = sortIsDesc(p.sortKey, p.reversed);

  // header
  const head: Row = [];
  cols.forEach((c, i) => {
    const sorted = c.id === p.sortKey;
    let title = c.title;
    if (sorted) title = title + (desc ? '▼' : '▲');
    if (c.id === 'process') title = ' ' + title;
    head.push(seg(fit(title, c.w, c.align), { bold: true, color: sorted ? 'cyan' : undefined, underline: false }));
    if (i < cols.length - 1) head.push(seg(' '));
  });
  out.push(padRow(head, width));

  const bodyH = Math.max(1, height - 2);
  const selIdx = Math.max(0, p.rows.findIndex((r) => r.id === p.selectedId));
  if (p.rows.length === 0) {
    out.push([
      seg(
        p.filter
          ? `  no uffd matches filter "${p.filter}" (Esc clears it)`
          : '  no uffds yet: nothing traced has created a userfaultfd',
        { dim: true },
      ),
    ]);
  }
  const start = scrollStart(selIdx, p.rows.length, bodyH);
  const shown = p.rows.slice(start, start + bodyH);
  shown.forEach((r, k) => {
    const selected = start + k === selIdx;
    out.push(uffdRow(r, cols, width, selected));
  });
  while (out.length < height - 1) out.push([]);

  // summary line
  const async = p.rows.filter((r) => r.mode === 'async').length;
  const pending = p.rows.reduce((a, r) => a + r.pending, 0);
  const parts: Seg[] = [];
  if (p.filter) parts.push(seg(`${p.rows.length} of ${p.total} uffds match "${p.filter}"`, { color: 'yellow' }));
  else parts.push(seg(`${p.total} uffd${p.total === 1 ? '' : 's'}`));
  parts.push(seg(` · ${async} async · ${pending} pending`, { dim: true }));
  if (p.rows.length > bodyH) parts.push(seg(` · rows ${start + 1}-${start + shown.length} of ${p.rows.length}`, { dim: true }));
  parts.push(seg(` · sort ${SORT_TITLES[p.sortKey]}${desc ? '▼' : '▲'}`, { dim: true }));
  out.push(parts);
  return out.slice(0, height).map((r) => clipRow(r, width));
}

function uffdRow(r: UffdRow, cols: Array<Col & { w: number }>, width: number, selected: boolean): Row {
  const row: Row = [];
  const inv = selected ? { inverse: true } : {};
  cols.forEach((c, i) => {
    let s: Seg;
    switch (c.id) {
      case 'process':
        s = seg((selected ? '›' : ' ') + fit(procLabel(r.comm, r.pid, c.w - 1), c.w - 1), { bold: selected });
        break;
      case 'uffd':
        s = seg(fit(shortUffd(r.id, c.w), c.w), { dim: !selected });
        break;
      case 'mode':
        s = seg(fit(r.mode, c.w), r.mode === 'async' ? { color: 'magenta', bold: true } : { color: 'cyan' });
        break;
      case 'armed':
        s = seg(fit(formatMiB(r.armedMiB), c.w, 'right'));
        break;
      case 'faults':
        s = seg(fit(formatCount(r.faultsPerSec), c.w, 'right'), { bold: true });
        break;
      case 'p50':
        s = seg(fit(formatNs(r.p50Ns), c.w, 'right'));
        break;
      case 'p99':
        s = seg(fit(formatNs(r.p99Ns), c.w, 'right'));
        break;
      case 'pending':
        s = seg(fit(String(r.pending), c.w, 'right'), r.pending > 0 ? { color: 'yellow', bold: true } : { dim: true });
        break;
      case 'handler':
        s = seg(fit(handlerLabel(r.handler, c.w), c.w), r.handler ? {} : { dim: true });
        break;
      case 'rate':
        s = seg(sparkline(r.rateHistory, c.w), { color: 'green' });
        break;
    }
    row.push({ ...s, ...inv });
    if (i < cols.length - 1) row.push(seg(' ', inv));
  });
  return padRow(row, width, inv);
}

/** "comm/pid" handlers keep their pid when cut; lists are cut at the end. */
export function handlerLabel(h: string, width: number): string {
  return h ? fitLabel(h, width) : '-';
}

export function OverviewView(props: OverviewProps): React.JSX.Element {
  return (
    <Box flexDirection="column">
      {overviewRows(props).map((r, i) => (
        <Line key={i} row={r} width={props.width} />
      ))}
    </Box>
  );
}
