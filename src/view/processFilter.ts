// The process filter of the live views (`/` in top): the model uses it to
// keep matching uffds when it caps rows and lanes, the views to show them.

/**
 * Comma- or space-separated terms, any of which may match. A numeric term
 * matches a pid exactly; any term matches the process name as a
 * case-insensitive substring. An empty filter matches everything.
 */
export function matchesFilter(filter: string, comm: string, pid: number): boolean {
  const terms = filter
    .split(/[\s,]+/)
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t.length > 0);
  if (terms.length === 0) return true;
  const c = comm.toLowerCase();
  const p = String(pid);
  return terms.some((t) => (/^\d+$/.test(t) && t === p) || c.includes(t));
}
