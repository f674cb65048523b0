// Pure formatting helpers for the terminal UI and the plain-text fallback.
// Nothing here knows about React or Ink; every function returns strings whose
// visible width is what the caller asked for, so the components can lay out
// lines that never wrap.

import stringWidth from 'string-width';

export const SPARK_CHARS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'] as const;

// ---------------------------------------------------------------- widths

// eslint-disable-next-line no-control-regex
const ANSI_RE = /\u001B(?:\[[0-?]*[ -/]*[@-~]|\][^\u0007\u001B]*(?:\u0007|\u001B\\)|[@-Z\\-_])/g;

export function stripAnsi(s: string): string {
  return s.replace(ANSI_RE, '');
}

/** Visible width in terminal cells (ANSI codes excluded, wide and combining characters counted right). */
export function visibleWidth(s: string): number {
  return stringWidth(s);
}

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** The leading (or trailing) whole characters of `s` that fit in `width` cells. */
function takeCells(s: string, width: number, fromEnd: boolean): string {
  const parts = [...graphemes.segment(s)].map((g) => g.segment);
  if (fromEnd) parts.reverse();
  let used = 0;
  let n = 0;
  while (n < parts.length && used + stringWidth(parts[n]) <= width) used += stringWidth(parts[n++]);
  const kept = parts.slice(0, n);
  return (fromEnd ? kept.reverse() : kept).join('');
}

/** Cuts `s` to at most `width` cells, ending in "…" when something was cut. */
export function truncate(s: string, width: number): string {
  if (width <= 0) return '';
  if (stringWidth(s) <= width) return s;
  return takeCells(s, width - 1, false) + '…';
}

/** Cuts from the left: "…tail" (for ids and paths whose end matters). */
export function truncateStart(s: string, width: number): string {
  if (width <= 0) return '';
  if (stringWidth(s) <= width) return s;
  return '…' + takeCells(s, width - 1, true);
}

export type Align = 'left' | 'right';

/** Exactly `width` cells: truncated with an ellipsis, then padded. */
export function fit(s: string, width: number, align: Align = 'left'): string {
  if (width <= 0) return '';
  const t = truncate(s, width);
  const pad = width - stringWidth(t);
  if (pad <= 0) return t;
  return align === 'right' ? ' '.repeat(pad) + t : t + ' '.repeat(pad);
}

/** Greedy word wrap to `width` cells; words longer than a line are cut. */
export function wordWrap(text: string, width: number, indent = ''): string[] {
  if (width <= 0) return [];
  const out: string[] = [];
  const words = text.split(/\s+/).filter((w) => w.length > 0);
  let line = '';
  for (const word of words) {
    const prefix = out.length === 0 ? '' : indent;
    const candidate = line === '' ? prefix + word : line + ' ' + word;
    if (stringWidth(candidate) <= width) {
      line = candidate;
      continue;
    }
    if (line !== '') out.push(line);
    line = truncate((out.length === 0 ? '' : indent) + word, width);
  }
  if (line !== '') out.push(line);
  return out;
}

// ---------------------------------------------------------------- columns

export interface ColumnSpec {
  /** smallest useful width; a column that cannot get it is dropped (width 0) */
  min: number;
  /** widest it ever gets (default: min) */
  max?: number;
  /** share of the leftover width (default 0: stays at min) */
  grow?: number;
  /** lower drops first when the columns do not fit (default 0) */
  dropPriority?: number;
}

/**
 * Column widths that fit `total` cells with `gap` cells between visible
 * columns. Columns are dropped (width 0), lowest dropPriority first, until the
 * minimums fit; the leftover is shared by `grow` up to each column's max.
 */
export function fitColumns(specs: ColumnSpec[], total: number, gap = 1): number[] {
  const widths = specs.map((s) => s.min);
  const alive = specs.map(() => true);
  const used = () => {
    let sum = 0;
    let n = 0;
    widths.forEach((w, i) => {
      if (alive[i]) {
        sum += w;
        n++;
      }
    });
    return sum + Math.max(0, n - 1) * gap;
  };
  while (used() > total) {
    let victim = -1;
    specs.forEach((s, i) => {
      if (!alive[i]) return;
      if (victim < 0 || (s.dropPriority ?? 0) < (specs[victim]!.dropPriority ?? 0)) victim = i;
    });
    if (victim < 0) break;
    alive[victim] = false;
  }
  let left = total - used();
  // hand out leftover cells one round at a time, by grow weight
  for (let guard = 0; left > 0 && guard < 10_000; guard++) {
    const growing = specs
      .map((s, i) => i)
      .filter((i) => alive[i] && (specs[i]!.grow ?? 0) > 0 && widths[i]! < (specs[i]!.max ?? specs[i]!.min));
    if (growing.length === 0) break;
    const weight = growing.reduce((a, i) => a + (specs[i]!.grow ?? 0), 0);
    let given = 0;
    for (const i of growing) {
      const share = Math.max(1, Math.floor((left * (specs[i]!.grow ?? 0)) / weight));
      const room = (specs[i]!.max ?? specs[i]!.min) - widths[i]!;
      const add = Math.min(share, room, left - given);
      if (add <= 0) continue;
      widths[i]! += add;
      given += add;
    }
    if (given === 0) break;
    left -= given;
  }
  return widths.map((w, i) => (alive[i] ? w : 0));
}

// ---------------------------------------------------------------- numbers

/** Up to 3 significant digits: 1.23, 12.3, 123. */
function sig3(v: number): string {
  if (v >= 100) return Math.round(v).toString();
  if (v >= 10) return trimZero(v.toFixed(1));
  return trimZero(v.toFixed(2));
}

function sig2(v: number): string {
  if (v >= 10) return Math.round(v).toString();
  return trimZero(v.toFixed(1));
}

function trimZero(s: string): string {
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/**
 * Nanoseconds, compact: "850ns", "12.3µs", "1.5ms", "2.04s". null or NaN ->
 * "-". At most 6 cells below 1000 s.
 */
export function formatNs(ns: number | null | undefined): string {
  if (ns === null || ns === undefined || !Number.isFinite(ns)) return '-';
  const v = Math.max(0, ns);
  if (v < 1000) return `${Math.round(v)}ns`;
  // promote at the boundary so that 999.96µs prints as 1ms, not 1000µs
  if (v < 999_500) return `${sig3(v / 1e3)}µs`;
  if (v < 999_500_000) return `${sig3(v / 1e6)}ms`;
  if (v < 999.5e9) return `${sig3(v / 1e9)}s`;
  return `${Math.round(v / 1e9)}s`;
}

/** A histogram bound, 2 significant digits: 4096 -> "4.1µs", 1024 -> "1µs". */
export function formatNsBound(ns: number): string {
  if (!Number.isFinite(ns)) return '∞';
  if (ns <= 0) return '0';
  if (ns < 1000) return `${Math.round(ns)}ns`;
  if (ns < 999_500) return `${sig2(ns / 1e3)}µs`;
  if (ns < 999_500_000) return `${sig2(ns / 1e6)}ms`;
  return `${sig2(ns / 1e9)}s`;
}

/** Counts and rates, compact (3 significant digits, at most 5 cells below 1T): 0, 950, 1.23k, 12.5k, 3.4M. */
export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '-';
  const neg = n < 0;
  const v = Math.abs(n);
  let s: string;
  if (v < 1000) s = v >= 100 || Number.isInteger(v) ? Math.round(v).toString() : trimZero(v.toFixed(1));
  else if (v < 999_500) s = `${sig3(v / 1e3)}k`;
  else if (v < 999_500_000) s = `${sig3(v / 1e6)}M`;
  else s = `${sig3(v / 1e9)}G`;
  return neg ? '-' + s : s;
}

/** MiB, compact: "4K" (below 1 MiB), "512M", "1.5G", "2T". */
export function formatMiB(mib: number | null | undefined): string {
  if (mib === null || mib === undefined || !Number.isFinite(mib)) return '-';
  if (mib <= 0) return '0';
  if (mib < 1) return `${Math.max(1, Math.round(mib * 1024))}K`;
  if (mib < 1024) return `${sig3(mib)}M`;
  if (mib < 1024 * 1024) return `${sig3(mib / 1024)}G`;
  return `${sig3(mib / (1024 * 1024))}T`;
}

/** Uptime-style: "45s", "3m05s", "1h02m", "2d03h". */
export function formatUptime(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '-';
  const t = Math.floor(s);
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${pad2(t % 60)}s`;
  if (t < 86400) return `${Math.floor(t / 3600)}h${pad2(Math.floor((t % 3600) / 60))}m`;
  return `${Math.floor(t / 86400)}d${pad2(Math.floor((t % 86400) / 3600))}h`;
}

/** Replay clock: "0:12.3", "12:04.0", "1:02:03". */
export function formatClock(s: number): string {
  if (!Number.isFinite(s) || s < 0) s = 0;
  if (s >= 3600) {
    const t = Math.floor(s);
    return `${Math.floor(t / 3600)}:${pad2(Math.floor((t % 3600) / 60))}:${pad2(t % 60)}`;
  }
  const m = Math.floor(s / 60);
  const rest = s - m * 60;
  const tenths = Math.floor(rest * 10) / 10;
  return `${m}:${tenths < 10 ? '0' : ''}${tenths.toFixed(1)}`;
}

/** Seconds relative to now: "-42.1s", "-3m05s", "now". */
export function formatAgo(s: number): string {
  if (!Number.isFinite(s)) return '-';
  if (Math.abs(s) < 0.05) return 'now';
  const a = Math.abs(s);
  const sign = s < 0 ? '-' : '+';
  if (a < 60) return `${sign}${a.toFixed(1)}s`;
  return `${sign}${formatUptime(a)}`;
}

/** Capture-relative time for the event log: "12.345s", "3m05.1s". */
export function formatAt(s: number): string {
  if (!Number.isFinite(s)) return '-';
  if (s < 1000) return `${s.toFixed(3)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${pad2(Math.floor(s - m * 60))}s`;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

/** "1x", "0.5x", "16x" */
export function formatSpeed(x: number): string {
  return `${trimZero(x.toFixed(2))}x`;
}

// ---------------------------------------------------------------- bars

/**
 * Length of a bar for `value` on a scale where `max` fills `width` cells.
 * Any non-zero value gets at least one cell, so it is never invisible.
 */
export function barLength(value: number, max: number, width: number): number {
  if (!(value > 0) || !(max > 0) || width <= 0) return 0;
  return Math.min(width, Math.max(1, Math.round((value / max) * width)));
}

/** A bar of `ch` padded with spaces to `width` cells. */
export function bar(value: number, max: number, width: number, ch = '@'): string {
  const n = barLength(value, max, width);
  return ch.repeat(n) + ' '.repeat(Math.max(0, width - n));
}

/**
 * Resamples a series to `width` points: shrinking takes the max of each
 * group (a spike is never averaged away), stretching repeats points.
 */
export function resample(values: readonly number[], width: number): number[] {
  if (width <= 0 || values.length === 0) return [];
  const n = values.length;
  const out: number[] = [];
  for (let i = 0; i < width; i++) {
    const a = Math.floor((i * n) / width);
    const b = Math.max(a + 1, Math.floor(((i + 1) * n) / width));
    let m = -Infinity;
    for (let j = a; j < b && j < n; j++) m = Math.max(m, values[j]!);
    out.push(m === -Infinity ? 0 : m);
  }
  return out;
}

export interface SparklineOptions {
  /** value drawn as a full block (default: the max of the values shown) */
  max?: number;
  /**
   * 'tail' (default): the newest `width` values, right-aligned, padded on the
   * left with spaces when there are fewer; 'resample': stretch or shrink the
   * whole series to exactly `width` cells.
   */
  fit?: 'tail' | 'resample';
}

/**
 * ▁▂▃▄▅▆▇█ sparkline, exactly `width` cells. Zero (or negative / missing) is
 * a space, so idle reads as empty; any positive value is at least ▁.
 */
export function sparkline(values: readonly number[], width: number, opts: SparklineOptions = {}): string {
  if (width <= 0) return '';
  const pts = (opts.fit ?? 'tail') === 'resample' ? resample(values, width) : values.slice(-width);
  const finite = pts.map((v) => (Number.isFinite(v) ? v : 0));
  const max = opts.max ?? finite.reduce((a, v) => Math.max(a, v), 0);
  let s = '';
  for (const v of finite) {
    if (!(v > 0) || !(max > 0)) {
      s += ' ';
      continue;
    }
    const level = Math.min(7, Math.max(0, Math.ceil((v / max) * 8) - 1));
    s += SPARK_CHARS[level];
  }
  return ' '.repeat(width - [...s].length) + s;
}

// ---------------------------------------------------------------- ids

/**
 * A uffd id ("0xffff888103a4c000") shortened to `width` cells keeping its
 * tail, which is what differs between contexts: "…3a4c000".
 */
export function shortUffd(id: string, width = 8): string {
  if (id === 'all') return 'all';
  let s = id;
  if (/^0x/i.test(s)) s = s.slice(2);
  if (s.length <= width) return s;
  return truncateStart(s, width);
}

/** "comm/pid" in `width` cells, cutting the comm before the pid. */
export function procLabel(comm: string, pid: number, width: number): string {
  const full = `${comm}/${pid}`;
  if (stringWidth(full) <= width) return full;
  const tail = `/${pid}`;
  if (tail.length + 2 > width) return truncate(full, width);
  return truncate(comm, width - tail.length) + tail;
}

/**
 * A label in `width` cells; "comm/pid" labels keep their pid (the comm is
 * cut), anything else is cut at the end.
 */
export function fitLabel(label: string, width: number): string {
  const m = /^([^,/]*)\/(\d+)$/.exec(label);
  return m ? procLabel(m[1]!, Number(m[2]), width) : truncate(label, width);
}

// ---------------------------------------------------------------- filter

// one matcher for the model (which rows survive its caps) and the views
export { matchesFilter } from '../src/view/processFilter.js';
