// A screen line as styled segments. Every view builds its lines as plain data
// (so layout is testable without a terminal) and <Line> draws one.

import { truncate } from './format.js';

export type Color =
  | 'red'
  | 'green'
  | 'yellow'
  | 'blue'
  | 'magenta'
  | 'cyan'
  | 'white'
  | 'gray'
  | 'black'
  | 'redBright'
  | 'greenBright'
  | 'yellowBright'
  | 'cyanBright'
  | 'magentaBright';

export interface Seg {
  text: string;
  color?: Color;
  bg?: Color;
  bold?: boolean;
  dim?: boolean;
  inverse?: boolean;
  underline?: boolean;
}

export type Row = Seg[];

export function seg(text: string, style: Omit<Seg, 'text'> = {}): Seg {
  return { text, ...style };
}

export function rowWidth(row: Row): number {
  let w = 0;
  for (const s of row) w += [...s.text].length;
  return w;
}

export function rowText(row: Row): string {
  return row.map((s) => s.text).join('');
}

/** Cuts a row to `width` cells (the last kept segment ends in "…"). */
export function clipRow(row: Row, width: number): Row {
  if (rowWidth(row) <= width) return row;
  const out: Row = [];
  let left = width;
  for (const s of row) {
    if (left <= 0) break;
    const n = [...s.text].length;
    if (n <= left) {
      out.push(s);
      left -= n;
    } else {
      out.push({ ...s, text: truncate(s.text, left) });
      left = 0;
    }
  }
  return out;
}

/** Pads a row with spaces (in the style of `style`) to exactly `width` cells. */
export function padRow(row: Row, width: number, style: Omit<Seg, 'text'> = {}): Row {
  const clipped = clipRow(row, width);
  const w = rowWidth(clipped);
  return w < width ? [...clipped, { text: ' '.repeat(width - w), ...style }] : clipped;
}

/**
 * `left` then `right` flush to the right edge of `width` cells; when both do
 * not fit, `left` is cut first, then `right`.
 */
export function spread(left: Row, right: Row, width: number): Row {
  const rw = rowWidth(right);
  if (rw >= width) return clipRow(right, width);
  const l = clipRow(left, Math.max(0, width - rw - 1));
  const gap = width - rowWidth(l) - rw;
  return [...l, { text: ' '.repeat(Math.max(0, gap)) }, ...right];
}

/** Merges adjacent cells of the same style into segments. */
export function cellsToRow(cells: Seg[]): Row {
  const out: Row = [];
  for (const c of cells) {
    const last = out[out.length - 1];
    if (
      last &&
      last.color === c.color &&
      last.bg === c.bg &&
      !!last.bold === !!c.bold &&
      !!last.dim === !!c.dim &&
      !!last.inverse === !!c.inverse &&
      !!last.underline === !!c.underline
    ) {
      last.text += c.text;
    } else {
      out.push({ ...c });
    }
  }
  return out;
}
