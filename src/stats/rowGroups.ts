// Folding a long text table: rows equal in every column but their identity
// (which uffd, when, how long this one took) become one row with a count,
// and a table shows at most `limit` rows, saying how many it left out.

/** How an identity column of a folded row reads: every value the same
 *  shows it; else `range` shows first..last (numbers: min..max) and
 *  `count` shows how many different values there were, named by `noun`. */
export type Fold = { kind: 'range' } | { kind: 'count'; noun: string };

export interface FoldedRow {
  cells: string[];
  /** rows folded into this one */
  count: number;
}

function foldColumn(values: string[], how: Fold): string {
  const distinct = [...new Set(values)];
  if (distinct.length === 1) return distinct[0];
  if (how.kind === 'count') return `${distinct.length} ${how.noun}`;
  const nums = values.map(Number);
  if (nums.every((n) => Number.isFinite(n))) {
    const lo = values[nums.indexOf(Math.min(...nums))];
    const hi = values[nums.indexOf(Math.max(...nums))];
    return `${lo}..${hi}`;
  }
  return `${values[0]}..${values[values.length - 1]}`;
}

/** Groups rows equal outside the `identity` columns (keyed by column
 *  index), in order of each group's first row. */
export function foldRows(rows: readonly string[][], identity: ReadonlyMap<number, Fold>): FoldedRow[] {
  const groups = new Map<string, string[][]>();
  for (const r of rows) {
    const key = JSON.stringify(r.filter((_, i) => !identity.has(i)));
    const g = groups.get(key);
    if (g) g.push(r);
    else groups.set(key, [r]);
  }
  return [...groups.values()].map((g) => ({
    count: g.length,
    cells: g[0].map((c, i) => {
      const how = identity.get(i);
      return how === undefined ? c : foldColumn(g.map((r) => r[i]), how);
    }),
  }));
}

/** The first `limit` rows (0: all), and the line for the rest: "N more ..." or null. */
export function limitRows<T>(rows: readonly T[], limit: number, what: (left: T[]) => string): { shown: T[]; more: string | null } {
  if (limit <= 0 || rows.length <= limit) return { shown: [...rows], more: null };
  const left = rows.slice(limit);
  return { shown: rows.slice(0, limit), more: `${left.length} more ${what(left)}; --limit 0 shows all` };
}
