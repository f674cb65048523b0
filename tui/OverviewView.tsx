// The uffd table: one row per uffd (context address + creation time: a
// reused address is another row; closed ones dimmed), sortable by any
// column, filterable, with a fault-rate sparkline and the selected row in
// full under it. Enter on a row shows that uffd's latency.
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
  formatUptime,
  matchesFilter,
  procLabel,
  shortUffd,
  sparkline,
  wordWrap,
  type Align,
  type ColumnSpec,
} from './format.js';
import { clipRow, padRow, seg, type Row, type Seg } from './rows.js';
import { Line } from './Line.js';

export type SortKey = 'process' | 'uffd' | 'created' | 'mode' | 'armed' | 'faults' | 'p50' | 'p99' | 'pending' | 'handler';

type ColId = SortKey | 'rate';

interface Col extends ColumnSpec {
  id: ColId;
  title: string;
  align: Align;
}

/** The columns in screen order; text columns grow to what their cells need, TREND takes the rest. */
const COLS: Col[] = [
  { id: 'process', title: 'PROCESS', align: 'left', min: 14, max: 30, grow: 1, dropPriority: 9 },
  { id: 'uffd', title: 'UFFD', align: 'left', min: 7, max: 16, grow: 1, dropPriority: 4 },
  { id: 'created', title: 'CREATED', align: 'right', min: 7, max: 10, grow: 1, dropPriority: 5 },
  { id: 'mode', title: 'MODE', align: 'left', min: 5, dropPriority: 8 },
  { id: 'armed', title: 'ARMED', align: 'right', min: 5, dropPriority: 3 },
  { id: 'faults', title: 'FLT/s', align: 'right', min: 6, dropPriority: 9 },
  { id: 'p50', title: 'P50', align: 'right', min: 6, dropPriority: 7 },
  { id: 'p99', title: 'P99', align: 'right', min: 6, dropPriority: 8 },
  { id: 'pending', title: 'PEND', align: 'right', min: 5, dropPriority: 6 },
  { id: 'handler', title: 'HANDLER', align: 'left', min: 8, max: 40, grow: 1, dropPriority: 2 },
  { id: 'rate', title: 'TREND', align: 'left', min: 6, dropPriority: 1 },
];

/** the widest TREND drawn */
const TREND_MAX = 60;

/** Sort columns in screen order (`<` / `>` move along them). */
export const SORT_KEYS: readonly SortKey[] = COLS.filter((c) => c.id !== 'rate').map((c) => c.id as SortKey);

export const SORT_TITLES: Record<SortKey, string> = Object.fromEntries(COLS.filter((c) => c.id !== 'rate').map((c) => [c.id, c.title])) as Record<SortKey, string>;

/** Numeric columns sort high-to-low by default (newest first for CREATED), text columns A-Z. */
function naturalDesc(k: SortKey): boolean {
  return k === 'faults' || k === 'p99' || k === 'p50' || k === 'pending' || k === 'armed' || k === 'created';
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
    case 'created':
      // existed before tracing: older than any created one
      return r.createdS ?? -1;
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

/** The rows the overview shows: filtered by process name / pid, then sorted (ties by uffd key). */
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
      return c !== 0 ? c : a.key.localeCompare(b.key);
    });
}

/**
 * CREATED cell: seconds after the start, "-" for a uffd that existed before.
 * µs in the first 10 s ("0.016407s": a busy start makes uffds µs apart), then
 * ms ("83.204s"), then coarser ("512.3s", "3m05s").
 */
export function createdLabel(createdS: number | null): string {
  if (createdS === null) return '-';
  if (createdS < 10) return `${createdS.toFixed(6)}s`;
  if (createdS < 100) return `${createdS.toFixed(3)}s`;
  if (createdS < 1000) return `${createdS.toFixed(1)}s`;
  return formatUptime(createdS);
}

/** Text a cell needs in full (the text columns; others are fixed). */
function need(c: Col, rows: readonly UffdRow[]): number {
  let n = c.title.length + 1; // room for the sort arrow
  for (const r of rows) {
    if (c.id === 'process') n = Math.max(n, procLabel(r.comm, r.pid, 99).length + 1);
    else if (c.id === 'uffd') n = Math.max(n, shortUffd(r.id, 99).length);
    else if (c.id === 'created') n = Math.max(n, createdLabel(r.createdS).length);
    else if (c.id === 'handler') n = Math.max(n, handlerLabel(r.handler, 99).length);
  }
  return n;
}

/** Columns never cut below what their cells need (up to this): a lesser column is dropped instead. */
const KEEP_WHOLE: Partial<Record<ColId, number>> = { process: 24, created: 10 };

/**
 * Column widths for these rows: each text column up to what its cells need
 * (within its min and max), then TREND takes what is left, so no column is
 * cut while another has blank cells.
 */
export function overviewColumns(rows: readonly UffdRow[], width: number): Array<Col & { w: number }> {
  const specs = COLS.map((c) => {
    if (!c.grow) return c;
    const n = need(c, rows);
    const keep = KEEP_WHOLE[c.id];
    return { ...c, min: keep === undefined ? c.min : Math.max(c.min, Math.min(keep, n)), max: Math.max(c.min, Math.min(c.max ?? c.min, n)) };
  });
  const widths = fitColumns(specs, width);
  const used = widths.reduce((a, w) => a + w, 0) + Math.max(0, widths.filter((w) => w > 0).length - 1);
  const trend = COLS.findIndex((c) => c.id === 'rate');
  if (widths[trend]! > 0) widths[trend] = Math.min(TREND_MAX, widths[trend]! + Math.max(0, width - used));
  return COLS.map((c, i) => ({ ...c, w: widths[i]! })).filter((c) => c.w > 0);
}

/** The sort columns shown at this width, in screen order. */
export function shownSortKeys(rows: readonly UffdRow[], width: number): SortKey[] {
  return overviewColumns(rows, width)
    .map((c) => c.id)
    .filter((id): id is SortKey => id !== 'rate');
}

/** The sort column `dir` steps from `k` along the columns shown (wraps around). */
export function stepSortKey(k: SortKey, dir: 1 | -1, shown: readonly SortKey[]): SortKey {
  const keys = shown.length > 0 ? shown : SORT_KEYS;
  const i = keys.indexOf(k);
  if (i < 0) {
    // a column dropped at this width: the nearest shown one that way
    const pos = SORT_KEYS.indexOf(k);
    const next = dir > 0 ? keys.find((x) => SORT_KEYS.indexOf(x) > pos) : [...keys].reverse().find((x) => SORT_KEYS.indexOf(x) < pos);
    return next ?? keys[dir > 0 ? 0 : keys.length - 1]!;
  }
  return keys[(i + dir + keys.length) % keys.length]!;
}

export interface OverviewProps {
  /** already filtered and sorted (visibleUffds) */
  rows: readonly UffdRow[];
  /** all rows before the filter */
  total: number;
  /** UffdRow.key of the selected row */
  selectedKey: string | null;
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

/** lines of the detail pane under the table (the selected row in full) */
export const DETAIL_LINES = 2;

/** Table rows that fit: the view less its column header, detail pane and summary line. */
export function overviewPageSize(height: number): number {
  return Math.max(1, height - 2 - DETAIL_LINES);
}

/** Everything about one row, for the detail pane: nothing cut. */
export function rowDetail(r: UffdRow): string {
  const parts = [
    `${r.comm}/${r.pid}`,
    `uffd ${r.id} ${r.createdS === null ? 'created before tracing' : `created +${createdLabel(r.createdS)}`}${r.closed ? ' (closed)' : ''}`,
  ];
  parts.push(r.mode, `armed now ${formatMiB(r.armedMiB)}`, `${formatCount(r.faultsTotal)} faults`, `p50 ${formatNs(r.p50Ns)} p99 ${formatNs(r.p99Ns)}`, `handler ${r.handler || '-'}`);
  return parts.join(' · ');
}

export function overviewRows(p: OverviewProps): Row[] {
  const { width, height } = p;
  const cols = overviewColumns(p.rows, width);
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

  const bodyH = overviewPageSize(height);
  const selIdx = Math.max(0, p.rows.findIndex((r) => r.key === p.selectedKey));
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
  while (out.length < height - 1 - DETAIL_LINES) out.push([]);

  // the selected row in full
  const sel = p.rows[selIdx];
  const detail = sel ? wordWrap(rowDetail(sel), width - 1, ' ') : [];
  for (let i = 0; i < DETAIL_LINES; i++) out.push(detail[i] !== undefined ? [seg(' ' + detail[i], { color: 'cyan' })] : []);

  // summary line
  const async = p.rows.filter((r) => r.mode === 'async').length;
  const closed = p.rows.filter((r) => r.closed).length;
  const pending = p.rows.reduce((a, r) => a + r.pending, 0);
  const parts: Seg[] = [];
  if (p.filter) parts.push(seg(`${p.rows.length} of ${p.total} uffds match "${p.filter}"`, { color: 'yellow' }));
  else parts.push(seg(`${p.total} uffd${p.total === 1 ? '' : 's'}`));
  parts.push(seg(` · ${async} async${closed ? ` · ${closed} closed` : ''} · ${pending} pending`, { dim: true }));
  if (p.rows.length > bodyH) parts.push(seg(` · rows ${start + 1}-${start + shown.length} of ${p.rows.length}`, { dim: true }));
  parts.push(seg(` · sort ${SORT_TITLES[p.sortKey]}${desc ? '▼' : '▲'}`, { dim: true }));
  out.push(parts);
  return out.slice(0, height).map((r) => clipRow(r, width));
}

function uffdRow(r: UffdRow, cols: Array<Col & { w: number }>, width: number, selected: boolean): Row {
  const row: Row = [];
  // the selected row is inverse; a closed uffd's row is dimmed
  const inv = selected ? { inverse: true } : r.closed ? { dim: true } : {};
  cols.forEach((c, i) => {
    let s: Seg;
    switch (c.id) {
      case 'process':
        s = seg((selected ? '›' : ' ') + fit(procLabel(r.comm, r.pid, c.w - 1), c.w - 1), { bold: selected });
        break;
      case 'uffd':
        s = seg(fit(shortUffd(r.id, c.w), c.w), { dim: !selected });
        break;
      case 'created':
        s = seg(fit(createdLabel(r.createdS), c.w, 'right'), { dim: !selected });
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
