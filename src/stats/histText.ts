// A latency histogram as text, bpftrace style: one line per power of two
// from the lowest to the highest non-empty bucket (empty ones between them
// included), with its count and a bar scaled to the largest count.

export interface Log2Count {
  /** [lo, hi) ns; lo = 2^k, or 0 for the bucket of values below 1 ns */
  lo: number;
  hi: number;
  count: number;
}

const SUFFIX = ['', 'K', 'M', 'G', 'T'];

/** 2^k as bpftrace writes it: 512, 1K, 2K, ..., 1M (powers of 1024). */
function pow2Label(v: number): string {
  let i = 0;
  while (v >= 1024 && v % 1024 === 0 && i < SUFFIX.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v}${SUFFIX[i]}`;
}

/** The lines of the histogram, or one line saying it is empty. */
export function formatLog2Histogram(title: string, buckets: readonly Log2Count[], width = 50): string {
  const seen = buckets.filter((b) => b.count > 0);
  if (seen.length === 0) return `${title}\n  (no samples)`;
  const byLo = new Map<number, number>();
  for (const b of seen) byLo.set(b.lo, (byLo.get(b.lo) ?? 0) + b.count);
  const ks = seen.map((b) => (b.lo === 0 ? -1 : Math.log2(b.lo)));
  const rows: Array<[string, number]> = [];
  for (let k = Math.min(...ks); k <= Math.max(...ks); k++) {
    const lo = k < 0 ? 0 : 2 ** k;
    rows.push([`[${pow2Label(lo)}, ${pow2Label(2 ** (k + 1))})`, byLo.get(lo) ?? 0]);
  }
  const peak = Math.max(...rows.map((r) => r[1]));
  const labelW = Math.max(...rows.map((r) => r[0].length));
  const countW = Math.max(...rows.map((r) => String(r[1]).length));
  const lines = rows.map(([label, n]) => {
    const bar = '@'.repeat(Math.round((n / peak) * width));
    return `${label.padEnd(labelW)}  ${String(n).padStart(countW)} |${bar.padEnd(width)}|`;
  });
  return [title, ...lines].join('\n');
}
