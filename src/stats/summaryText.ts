// The end-of-run summary as text: the tables `report` and `stat` print, and
// the column layout (in terminal cells) other text tables share.
import stringWidth from 'string-width';
import { FAULT_ENDS } from '../model/faultLifecycle.js';
import { formatCreated } from '../model/uffdIdentity.js';
import { foldRows, limitRows, type Fold, type FoldedRow } from './rowGroups.js';
import type { ModeSwitchSummary, Summary } from './summary.js';

type Align = 'l' | 'r';

/** Columns padded to their widest cell; numbers right-aligned by default. */
export function textTable(header: string[], rows: string[][], align?: Align[], indent = '  '): string {
  const all = [header, ...rows];
  // widths in terminal cells: process names may hold wide characters
  const w = header.map((_, i) => Math.max(...all.map((r) => stringWidth(r[i] ?? ''))));
  const al = align ?? header.map((_, i) => (i === 0 ? 'l' : 'r'));
  return all
    .map((r) =>
      (
        indent +
        r
          .map((c, i) => {
            const s = c ?? '';
            const pad = ' '.repeat(w[i] - stringWidth(s));
            return al[i] === 'l' ? s + pad : pad + s;
          })
          .join('  ')
      ).trimEnd(),
    )
    .join('\n');
}

function usOrDash(ns: number | null): string {
  return ns === null ? '-' : us(ns);
}

function us(ns: number): string {
  const v = ns / 1000;
  if (v === 0) return '0';
  if (v >= 100_000) return v.toFixed(0);
  if (v >= 100) return v.toFixed(1);
  if (v >= 1) return v.toFixed(2);
  return v.toFixed(3);
}

/** How long tables are printed: `fold` groups rows that differ only in
 *  identity (a count column `n`); `limit` caps each table's rows (0: all). */
export interface TableOptions {
  fold?: boolean;
  limit?: number;
}

/** Rows as they are (n = 1 each), or folded on the given identity columns. */
function maybeFold(rows: string[][], fold: boolean, identity: ReadonlyMap<number, Fold>): FoldedRow[] {
  return fold ? foldRows(rows, identity) : rows.map((cells) => ({ cells, count: 1 }));
}

/** A table's header and rows with the `n` column first when some row stands for several. */
function withCounts(head: string[], rows: FoldedRow[], align: Align[]): [string[], string[][], Align[]] {
  if (!rows.some((r) => r.count > 1)) return [head, rows.map((r) => r.cells), align];
  return [['n', ...head], rows.map((r) => [String(r.count), ...r.cells]), ['r', ...align]];
}

const sumCounts = (rows: FoldedRow[]): number => rows.reduce((a, r) => a + r.count, 0);

export function formatSummaryTable(s: Summary, opts: TableOptions = {}): string {
  const limit = opts.limit ?? 0;
  const fold = opts.fold ?? false;
  const out: string[] = [];
  const secs = (s.duration_ns / 1e9).toFixed(3);
  out.push(
    `uffdscope summary: backend ${s.backend}${s.generated ? ' (generated stream)' : ''}, ${secs} s, ` +
      `${s.events.received} events received, ${s.events.lost} lost`,
  );
  out.push('');
  out.push('Userfaults');
  const f = s.faults;
  out.push(
    textTable(
      ['total', 'missing', 'wp', 'minor', 'rwp', 'async', 'unknown', 'blocked', 'entries'],
      [[f.total, f.missing, f.wp, f.minor, f.rwp, f.async, f.unknown, f.blocked, f.entries].map(String)],
      Array(9).fill('r'),
    ),
  );
  const ends = FAULT_ENDS.filter((k) => f.ended[k] > 0).map((k) => `${k} ${f.ended[k]}`);
  if (ends.length) out.push(`  ended: ${ends.join(', ')}`);
  if (f.entries > f.total) out.push(`  ${f.entries - f.total} fault entries in armed VMAs were not userfaults (never waited)`);
  if (f.rewaits) out.push(`  ${f.rewaits} faults waited more than once (spurious wake-ups)`);
  if (f.recovered || f.incomplete) out.push(`  ${f.recovered} rebuilt from partial events, ${f.incomplete} incomplete (lost events)`);
  out.push('');

  out.push('Latency (µs)');
  const rows: string[][] = [];
  const stageNames: Array<[keyof Summary['latency_ns'], string]> = [
    ['fault', 'fault (total)'],
    ['queue', 'queue'],
    ['service', 'service'],
    ['wake', 'wake'],
  ];
  for (const [k, label] of stageNames) {
    const l = s.latency_ns[k];
    rows.push([label, String(l.count), us(l.p50), us(l.p90), us(l.p99), us(l.max), us(l.mean)]);
  }
  for (const [kind, st] of Object.entries(s.latency_ns_by_kind)) {
    if (!st || st.fault.count === 0) continue;
    const l = st.fault;
    rows.push([`  ${kind}`, String(l.count), us(l.p50), us(l.p90), us(l.p99), us(l.max), us(l.mean)]);
  }
  out.push(textTable(['stage', 'count', 'p50', 'p90', 'p99', 'max', 'mean'], rows));
  out.push('');

  const names = Object.keys(s.ioctls);
  out.push('Ioctls');
  if (names.length === 0) out.push('  (none)');
  else {
    const { shown, more } = limitRows(names, limit, () => 'ioctls');
    out.push(
      textTable(
        ['ioctl', 'count', 'errors', 'p50 µs', 'p99 µs', 'max µs', 'errnos'],
        shown.map((n) => {
          const i = s.ioctls[n];
          const errs = Object.entries(i.errnos)
            .map(([e, c]) => `${e}:${c}`)
            .join(' ');
          return [n, String(i.count), String(i.errors), usOrDash(i.p50_ns), usOrDash(i.p99_ns), usOrDash(i.max_ns), errs];
        }),
        ['l', 'r', 'r', 'r', 'r', 'r', 'l'],
      ),
    );
    if (more) out.push(`  ${more}`);
  }
  out.push('');

  out.push(...formatModeSwitches(s.mode_switches, s.start_ns ?? 0, { fold, limit }));
  out.push('');

  out.push('Uffds');
  if (s.uffds.length === 0) out.push('  (none)');
  else {
    const rows = s.uffds.map((u) => [
      u.id,
      formatCreated(u.created_ns, s.start_ns ?? 0),
      u.pid === null ? '?' : String(u.pid),
      u.comm ?? '?',
      u.mode,
      u.features + (u.features_source === 'ctx' ? '*' : ''),
      bytes(u.armed_bytes),
      String(u.faults),
      // comm/pid, as stat's handler column: a pid alone names nothing
      (u.handlers ?? u.handler_pids.map((pid) => ({ pid, comm: null }))).map((h) => `${h.comm ?? '?'}/${h.pid}`).join(',') || '-',
    ]);
    const folded = maybeFold(rows, fold, new Map<number, Fold>([[0, { kind: 'count', noun: 'addresses' }], [1, { kind: 'range' }]]));
    const { shown, more } = limitRows(folded, limit, (left) => `rows (${sumCounts(left)} uffds)`);
    out.push(textTable(...withCounts(['id', 'created', 'pid', 'comm', 'mode', 'features', 'armed', 'faults', 'handlers'], shown, ['l', 'r', 'r', 'l', 'l', 'r', 'r', 'r', 'l'])));
    if (more) out.push(`  ${more}`);
    out.push('  created: seconds after the start, - for a uffd that existed before; a context address reused by a later uffd is another row');
    if (folded.length < rows.length) out.push('  n: uffds that differ only in address and creation time, shown as one row (created: first..last)');
    if (s.uffds.some((u) => u.features_source === 'ctx')) out.push('  * features as seen in the context (UFFDIO_API not traced)');
  }
  out.push('');

  const lostTypes = Object.entries(s.events.lost_by_type).filter(([, v]) => v > 0);
  out.push(
    `Lost records: ${s.events.lost}` + (lostTypes.length ? ` (${lostTypes.map(([k, v]) => `${k} ${v}`).join(', ')})` : ''),
  );
  return out.join('\n') + '\n';
}

function bytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(1)}G`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)}M`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)}K`;
  return `${n}`;
}

/** The "Mode switches (UFFDIO_SET_MODE)" section: every attempt, then why
 *  each refusal happened, once per distinct reason. `woken` is left out
 *  where wake-ups are not traced (stat --in-kernel). The drain and wake-up
 *  columns appear when a precise backend observed them. */
export function formatModeSwitches(switches: readonly ModeSwitchSummary[], start: number, opts: { woken?: boolean } & TableOptions = {}): string[] {
  const woken = opts.woken ?? true;
  const out: string[] = ['Mode switches (UFFDIO_SET_MODE)'];
  if (switches.length === 0) {
    out.push('  (none)');
    return out;
  }
  const phases = switches.some((m) => m.drain_ns !== null);
  const opt = (v: number | null) => (v === null ? '-' : us(v));
  const head = ['t (s)', 'uffd', 'created', 'pid', 'comm', 'enable', 'disable', 'result', 'ioctl µs', ...(phases ? ['drain µs', 'wake-up µs'] : []), ...(woken ? ['woken'] : [])];
  const rows = switches.map((m) => [
        ((m.ts_ns - start) / 1e9).toFixed(6),
        m.uffd,
        formatCreated(m.uffd_created_ns, start),
        String(m.pid),
        m.comm,
        m.enable ?? 'unread',
        m.disable ?? 'unread',
        m.result === null ? 'in flight' : m.result === 0 ? '0' : `${m.result} ${m.errno ?? ''}`.trim(),
        opt(m.latency_ns),
        ...(phases ? [opt(m.drain_ns), opt(m.wakeup_ns)] : []),
        ...(woken ? [String(m.woken)] : []),
      ]);
  // identity of an attempt: when, on which uffd, and its own timings
  const identity = new Map<number, Fold>([[0, { kind: 'range' }], [1, { kind: 'count', noun: 'uffds' }], [2, { kind: 'range' }], [8, { kind: 'range' }]]);
  if (phases) identity.set(9, { kind: 'range' }).set(10, { kind: 'range' });
  const folded = maybeFold(rows, opts.fold ?? false, identity);
  const { shown, more } = limitRows(folded, opts.limit ?? 0, (left) => `rows (${sumCounts(left)} attempts)`);
  const align: Align[] = ['r', 'l', 'r', 'r', 'l', 'r', 'r', 'l', 'r', ...(phases ? ['r' as const, 'r' as const] : []), ...(woken ? ['r' as const] : [])];
  out.push(textTable(...withCounts(head, shown, align)));
  if (more) out.push(`  ${more}`);
  if (folded.length < rows.length) out.push('  n: attempts that differ only in time, uffd and latency, shown as one row (first..last, min..max)');
  if (!phases) out.push('  ioctl latency only: drain and wake-up need the fentry or kprobe backend (userfaultfd_set_mode() traced)');
  const why = new Map<string, number>();
  for (const m of switches) {
    if (m.why === null || m.result === null) continue;
    const key = `${m.result === 0 ? 'ok' : m.errno ?? m.result}: ${m.why}${m.kernel_agrees === false ? ' [KERNEL DISAGREES with the rules: expected ' + m.expected + ']' : ''}`;
    why.set(key, (why.get(key) ?? 0) + 1);
  }
  for (const [k, n] of why) out.push(`  ${n} x ${k}`);
  return out;
}
