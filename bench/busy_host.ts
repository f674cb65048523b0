// Busy-host benchmark: the live views on a host whose CPUs are oversubscribed.
//
//   node dist/bench/busy_host.js [--quick] [--rounds N] [--procs P] [--uffds U] [--pages N]
//        [--seconds S] [--variants stat,top,serve,record | untraced] [--cli FILE]
//
// out/bench/busy_host (bench/busy_host.c): P processes (default 20) x U uffds
// (50) of N pages (16), each process with a faulting thread and an epoll
// handler thread (2P runnable threads on this 2-CPU machine), for S seconds
// (10). Its JSON counts the MISSING faults it resolved (successful UFFDIO_COPYs).
// Each round runs, in a rotated order, every traced variant next to an
// untraced run (untraced first in even rounds):
//   stat    `uffdscope stat --interval 1 --json-out F -- busy_host ...`
//   top     `uffdscope top --interval 1 -- busy_host ...` (stdout a pipe: plain tables)
//   serve   `uffdscope serve --listen 127.0.0.1:0 -- busy_host ... --linger-ms 3000`,
//           /metrics scraped once a second (and once more after the workload
//           wrote its JSON, while it lingers)
//   record  `uffdscope record -o F -- busy_host ...`, then `uffdscope report --json F`
// Nothing is pinned: a busy host runs everything on every CPU. For each run:
// records lost and faults counted (from the tool's own output), time from
// launch to the first frame / table / scrape showing faults, the uffdscope
// process's peak RSS (VmHWM sampled every 100 ms) and the workload's
// throughput against its untraced pair.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import {
  autogroup,
  benchOut,
  boostSession,
  cliPath,
  emit,
  emitSpread,
  ensureCBuilt,
  fmtForeign,
  foreignTracing,
  log,
  mustSucceed,
  parseArgs,
  pickRounds,
  positiveInt,
  readJson,
  requireRoot,
  rotate,
  run,
  saveResults,
  si,
  spread,
  waitForQuiet,
  type Figure,
} from './lib/common.js';
import { retryTransient, startLive, waitUntil, type Line } from './lib/liveTool.js';

// ---- reading the tools' outputs: adjust here when the CLI changes ----

interface Counts {
  /** MISSING userfaults the tool counted (null: its output did not say) */
  faults: number | null;
  lost: number | null;
}

/** Sums a column over the rows (lines starting with a number) under the
 *  first header line (3 or more columns) that has one of `names`
 *  (case-insensitive; the first name the header has wins). */
function sumColumn(lines: readonly string[], names: readonly string[]): number | null {
  for (let i = 0; i < lines.length; i++) {
    const head = lines[i].trim().split(/\s{2,}/).map((h) => h.toLowerCase());
    const col = names.map((n) => head.indexOf(n)).find((c) => c >= 0);
    if (col === undefined || head.length < 3) continue; // a title such as "Userfaults" is no header
    let sum = 0;
    for (let j = i + 1; j < lines.length && /^\s*\d+\s/.test(lines[j]); j++) {
      const v = Number(lines[j].trim().split(/\s{2,}/)[col]);
      if (Number.isFinite(v)) sum += v;
    }
    return sum;
  }
  return null;
}

/** top's plain frames: each starts with its header line "uffdscope live ... lost N ...". */
const TOP_FRAME_START = /^uffdscope \S+ {2}/;
/** faults in one top frame: its "userfaults N in M uffds" line (rows are capped), else its FAULTS column summed */
function topFrameCounts(frame: readonly string[]): Counts {
  const lost = /\blost (\d+)/.exec(frame[0] ?? '');
  const total = frame.map((l) => /^userfaults (\d+) in \d+ uffds/.exec(l)).find((m) => m !== null);
  return { faults: total ? Number(total[1]) : sumColumn(frame, ['faults']), lost: lost ? Number(lost[1]) : null };
}

/** stat prints a table every --interval after a "--- <ISO time>" line */
const STAT_TABLE_START = /^--- \d{4}-\d\d-\d\dT/;
/** faults in one of stat's interval tables: the in-kernel table's and the
 *  summary's `missing` column, else userfaults / entries */
function statTableFaults(table: readonly string[]): number | null {
  return sumColumn(table, ['missing', 'userfaults', 'entries']);
}

type Kinds = number | { missing?: number; total?: number };
const missingOf = (k: Kinds) => (typeof k === 'number' ? k : (k.missing ?? k.total ?? 0));

/** stat's --json-out. In-kernel (uffdscope.in-kernel/2): per-uffd rows with
 *  `userfaults` by kind (before, `fault_entries`), `lost` at the top. Per-fault:
 *  the summary (uffdscope.summary/1), `faults.missing`, `events.lost`. Rows
 *  with a `lost` of their own add theirs. */
function statJsonCounts(j: { uffds?: Array<{ userfaults?: Kinds; fault_entries?: Kinds; lost?: number }>; lost?: number; events?: { lost?: number }; faults?: { missing?: number } }): Counts {
  const rows = Array.isArray(j.uffds) ? j.uffds : [];
  let lost: number | null = j.lost ?? j.events?.lost ?? null;
  for (const u of rows) if (u.lost !== undefined) lost = (lost ?? 0) + u.lost;
  let faults: number | null = null;
  if (rows.some((u) => u.userfaults !== undefined)) faults = rows.reduce((a, u) => a + missingOf(u.userfaults ?? 0), 0);
  else if (j.faults?.missing !== undefined) faults = j.faults.missing;
  else if (rows.some((u) => u.fault_entries !== undefined)) faults = rows.reduce((a, u) => a + missingOf(u.fault_entries ?? 0), 0);
  return { faults, lost };
}

/** serve prints where it listens: "serving metrics on http://127.0.0.1:PORT/metrics" */
function servePort(lines: readonly Line[]): number | null {
  for (const l of lines) {
    const m = /serving metrics on http:\/\/\S+:(\d+)\/metrics/.exec(l.text);
    if (m) return Number(m[1]);
  }
  return null;
}

/** /metrics: uffdscope_userfaults_total{kind="missing"} and the sum of uffdscope_lost_records_total */
function metricsCounts(body: string): Counts {
  const sum = (re: RegExp) => {
    let s: number | null = null;
    for (const m of body.matchAll(re)) s = (s ?? 0) + Number(m[1]);
    return s;
  };
  return {
    faults: sum(/^uffdscope_userfaults_total\{[^}]*kind="missing"[^}]*\} (\S+)$/gm),
    lost: sum(/^uffdscope_lost_records_total(?:\{[^}]*\})? (\S+)$/gm),
  };
}

/** record: `uffdscope report --json FILE` (uffdscope.summary/1) */
function recordCounts(summary: { faults?: { missing?: number }; events?: { lost?: number } }): Counts {
  return { faults: summary.faults?.missing ?? null, lost: summary.events?.lost ?? null };
}

// ---- options ----

type Tracer = 'stat' | 'top' | 'serve' | 'record';
const TRACERS: Tracer[] = ['stat', 'top', 'serve', 'record'];

const args = (() => {
  try {
    return parseArgs();
  } catch (e) {
    log(`busy_host: ${(e as Error).message}`);
    process.exit(2);
  }
})();
const opt = (name: string, full: number, quick: number) => {
  try {
    const v = args.extra.get(name);
    return v === undefined ? (args.quick ? quick : full) : positiveInt(`--${name}`, v);
  } catch (e) {
    log(`busy_host: ${(e as Error).message}`);
    process.exit(2);
  }
};
/** --cli FILE: another build's bin/uffdscope (a node script), e.g. to compare two branches */
const uffdscope = args.extra.get('cli') ?? cliPath;
const rounds = args.rounds ?? (args.quick ? 1 : 3);
const procs = opt('procs', 20, 10);
const uffds = opt('uffds', 50, 20);
const pages = opt('pages', 16, 16);
const seconds = opt('seconds', 10, 4);
const busyBinary = join(benchOut, 'busy_host');
const LINGER_MS = 3000;

function tracers(): Tracer[] {
  const v = args.extra.get('variants');
  if (v === undefined) return [...TRACERS];
  const xs = v.split(',').filter(Boolean);
  for (const x of xs) {
    if (x !== 'untraced' && !TRACERS.includes(x as Tracer)) {
      log(`busy_host: --variants: unknown "${x}"; choose from ${[...TRACERS, 'untraced'].join(', ')}`);
      process.exit(2);
    }
  }
  return xs.filter((x): x is Tracer => TRACERS.includes(x as Tracer));
}

function workload(json: string, linger = 0): string[] {
  return [busyBinary, '--procs', String(procs), '--uffds', String(uffds), '--pages', String(pages), '--seconds', String(seconds), '--json', json, '--quiet', ...(linger ? ['--linger-ms', String(linger)] : [])];
}

interface Truth {
  faults: number;
  duration_ns: number;
  copies_eexist: number;
}

interface Measured {
  faultsPerS: number;
  truth: Truth;
  /** what the tool counted; null for untraced runs */
  seen?: Counts;
  firstOutputMs?: number | null;
  firstDataMs?: number | null;
  peakRssMb?: number;
}

/** GET http://127.0.0.1:port/metrics, body or null */
function scrape(port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/metrics', timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(res.statusCode === 200 ? body : null));
      res.on('error', () => resolve(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

/** Splits lines into frames, each starting at a line matching `start`; the frame's time is its first line's. */
function frames(lines: readonly Line[], start: RegExp): Array<{ atMs: number; lines: string[] }> {
  const out: Array<{ atMs: number; lines: string[] }> = [];
  for (const l of lines) {
    if (l.stream !== 'stdout') continue;
    if (start.test(l.text)) out.push({ atMs: l.atMs, lines: [l.text] });
    else out.at(-1)?.lines.push(l.text);
  }
  return out;
}

function runVariant(v: Tracer | 'untraced', dir: string, tag: string): Promise<Measured> {
  return retryTransient(v, () => runVariantOnce(v, dir, tag));
}

async function runVariantOnce(v: Tracer | 'untraced', dir: string, tag: string): Promise<Measured> {
  const json = join(dir, `truth-${tag}.json`);
  rmSync(json, { force: true });
  const timeoutMs = (seconds + 120) * 1000;
  if (v === 'untraced') {
    const wl = workload(json);
    mustSucceed('busy_host', await run(wl[0], wl.slice(1), { timeoutMs }));
    const truth = readJson<Truth>(json);
    return { faultsPerS: truth.faults / (truth.duration_ns / 1e9), truth };
  }
  const out = join(dir, `out-${tag}`);
  const cli =
    v === 'stat'
      ? ['stat', '--interval', '1', '--json-out', out, '--', ...workload(json)]
      : v === 'top'
        ? ['top', '--interval', '1', '--', ...workload(json)]
        : v === 'serve'
          ? ['serve', '--listen', '127.0.0.1:0', '--linger', '2', '--', ...workload(json, LINGER_MS)]
          : ['record', '-o', out, '--force', '--', ...workload(json)];
  const tool = startLive(process.execPath, [uffdscope, ...cli]);
  const killer = setTimeout(() => void tool.stop('SIGKILL'), timeoutMs);
  let firstOutputMs: number | null = null;
  let firstDataMs: number | null = null;
  let seen: Counts = { faults: null, lost: null };
  try {
    if (v === 'serve') {
      // scrape once a second from the moment the port is known; keep the last body
      let last: string | null = null;
      while (!tool.done() && !existsSync(json)) {
        const port = servePort(tool.lines);
        if (port !== null) {
          const at = performance.now() - tool.t0;
          const body = await scrape(port);
          if (body !== null) {
            last = body;
            firstOutputMs ??= at;
            if (firstDataMs === null && (metricsCounts(body).faults ?? 0) > 0) firstDataMs = at;
          }
        }
        await waitUntil(() => tool.done() || existsSync(json), port === null ? 50 : 1000, 50);
      }
      // the workload has written its counts and lingers: the final figures, once the ring is drained
      const port = servePort(tool.lines);
      if (port !== null && !tool.done()) {
        await new Promise((r) => setTimeout(r, 500));
        last = (await scrape(port)) ?? last;
      }
      if (last !== null) seen = metricsCounts(last);
    }
    const r = await tool.exited;
    if (r.code !== 0) throw new Error(`uffdscope ${v} failed (exit ${r.code ?? r.signal}):\n${r.stderr.slice(-3000)}`);
    if (v === 'top') {
      const fs = frames(tool.lines, TOP_FRAME_START);
      firstOutputMs = fs[0]?.atMs ?? null;
      firstDataMs = fs.find((f) => (topFrameCounts(f.lines).faults ?? 0) > 0)?.atMs ?? null;
      // the last frame is printed after the capture has drained
      if (fs.length) seen = topFrameCounts(fs.at(-1)!.lines);
    } else if (v === 'stat') {
      const ts = frames(tool.lines, STAT_TABLE_START);
      firstOutputMs = ts[0]?.atMs ?? null;
      firstDataMs = ts.find((t) => (statTableFaults(t.lines) ?? 0) > 0)?.atMs ?? null;
      seen = statJsonCounts(readJson(out));
    } else if (v === 'record') {
      // to a file: the JSON of 1,000 uffds is larger than run() keeps of stdout
      const json = `${out}.report.json`;
      mustSucceed('uffdscope report --json-out', await run(process.execPath, [uffdscope, 'report', '--json-out', json, out], { timeoutMs: 300_000 }));
      seen = recordCounts(readJson(json));
      if (!args.keep) rmSync(json, { force: true });
    }
  } finally {
    clearTimeout(killer);
    if (!tool.done()) await tool.stop('SIGKILL');
    if (!args.keep) rmSync(out, { force: true });
  }
  const truth = readJson<Truth>(json);
  return { faultsPerS: truth.faults / (truth.duration_ns / 1e9), truth, seen, firstOutputMs, firstDataMs, peakRssMb: tool.peakHwmKiB() / 1024 };
}

/** A figure over rounds whose value some rounds may lack (null): the spread of the others, the note says how many lacked it. */
function emitKnown(f: Omit<Figure, 'value' | 'n' | 'min' | 'max' | 'q1' | 'q3'>, xs: ReadonlyArray<number | null>): void {
  const known = xs.filter((x): x is number => x !== null);
  const note = known.length === xs.length ? f.note : `${f.note}; ${xs.length - known.length} of ${xs.length} rounds had none`;
  if (known.length) emitSpread({ ...f, note }, spread(known));
  else emit({ ...f, value: null, note });
}

async function main(): Promise<void> {
  await boostSession();
  const traced = tracers();
  if (traced.length) requireRoot();
  ensureCBuilt();
  const dir = mkdtempSync(join(args.tmp, 'uffdscope-bench-busy-host-'));
  const setup = `busy_host --procs ${procs} --uffds ${uffds} --pages ${pages} --seconds ${seconds} (${procs * uffds} uffds, ${2 * procs} runnable threads), nothing pinned`;
  log(`busy_host: ${rounds} rounds x (${['untraced', ...traced].join(', ')}); ${setup}; ${autogroup()}`);
  log(`busy_host: other users' tracers now: ${fmtForeign(foreignTracing())}`);
  const got = Object.fromEntries(TRACERS.map((t) => [t, [] as Measured[]])) as Record<Tracer, Measured[]>;
  const base = Object.fromEntries(TRACERS.map((t) => [t, [] as Measured[]])) as Record<Tracer, Measured[]>;
  const untracedAll: number[] = [];
  const clean: boolean[] = [];
  try {
    if (!traced.length) {
      for (let r = 0; r < rounds; r++) {
        const m = await runVariant('untraced', dir, `untraced-${r}`);
        untracedAll.push(m.faultsPerS);
        log(`  round ${r + 1}/${rounds}: untraced ${si(m.faultsPerS)} faults/s (${m.truth.faults} faults, ${m.truth.copies_eexist} EEXIST)`);
      }
    }
    for (let r = 0; r < (traced.length ? rounds : 0); r++) {
      const before = await waitForQuiet(args.quick ? 0 : 10_000);
      const roundBase: number[] = [];
      for (const v of rotate(traced, r)) {
        const order: Array<Tracer | 'untraced'> = r % 2 === 0 ? ['untraced', v] : [v, 'untraced'];
        for (const w of order) {
          const m = await runVariant(w, dir, `${w}-${v}-${r}`);
          if (w === 'untraced') {
            base[v].push(m);
            roundBase.push(m.faultsPerS);
          } else got[v].push(m);
        }
        const m = got[v].at(-1)!;
        const b = base[v].at(-1)!;
        log(
          `  round ${r + 1}/${rounds} ${v}: ${si(m.faultsPerS)} vs ${si(b.faultsPerS)} faults/s (${(100 * (1 - m.faultsPerS / b.faultsPerS)).toFixed(1)}%); ` +
            `saw ${m.seen!.faults ?? '?'} of ${m.truth.faults} faults, lost ${m.seen!.lost ?? '?'}; first data ${m.firstDataMs?.toFixed(0) ?? '-'} ms; peak ${m.peakRssMb!.toFixed(0)} MB`,
        );
      }
      untracedAll.push(spread(roundBase).median);
      const after = foreignTracing();
      clean.push(before.uscopeHostWide + before.other + after.uscopeHostWide + after.other === 0);
    }
  } finally {
    if (!args.keep) rmSync(dir, { recursive: true, force: true });
  }

  const g = 'busy_host';
  const pick = pickRounds(clean);
  if (pick.note) log(`busy_host: ${pick.note}`);
  const use = <T>(xs: T[]) => xs.filter((_, i) => pick.use(i));
  emitSpread({ group: g, name: 'busy_host.untraced_faults_per_s', unit: 'faults/s', target: '', note: setup }, spread(traced.length ? use(untracedAll) : untracedAll));
  for (const v of traced) {
    const ms = use(got[v]);
    const bs = use(base[v]);
    const caution = pick.note ? `; ${pick.note}` : '';
    const lostKnown = ms.every((m) => m.seen!.lost !== null);
    const lost = ms.reduce((a, m) => a + (m.seen!.lost ?? 0), 0);
    emit({ group: g, name: `busy_host.${v}_lost_records`, value: lostKnown ? lost : null, unit: 'records', target: '0', met: lostKnown ? lost === 0 : null, note: `records lost, summed over rounds, from the tool's own output${lostKnown ? '' : ' (some run printed no lost count)'}${caution}` });
    const pairs = ms.map((m) => `${m.seen!.faults ?? 'none'}/${m.truth.faults}`);
    const equal = ms.every((m) => m.seen!.faults === m.truth.faults);
    emit({ group: g, name: `busy_host.${v}_counts_equal`, value: equal ? 1 : 0, unit: 'bool', target: '1', met: equal, note: `MISSING faults the tool counted / the workload resolved, per round: ${pairs.join(', ')}` });
    emitKnown({ group: g, name: `busy_host.${v}_faults_seen`, unit: 'faults', target: '', note: "the tool's fault count per round" }, ms.map((m) => m.seen!.faults));
    emitSpread({ group: g, name: `busy_host.${v}_faults_workload`, unit: 'faults', target: '', note: "the workload's own count (successful UFFDIO_COPYs) per round" }, spread(ms.map((m) => m.truth.faults)));
    if (v !== 'record') {
      const first = ms.map((m) => m.firstDataMs ?? null);
      const what = v === 'serve' ? 'scrape' : v === 'top' ? 'plain frame' : 'interval table';
      emitKnown({ group: g, name: `busy_host.${v}_first_frame_ms`, unit: 'ms', target: '<= 2000 (every round)', met: first.every((x) => x !== null && x <= 2000), note: `launch to the first ${what} showing faults` }, first);
      emitKnown({ group: g, name: `busy_host.${v}_first_output_ms`, unit: 'ms', target: '', note: `launch to the first ${what}, with or without faults` }, ms.map((m) => m.firstOutputMs ?? null));
    }
    const rss = ms.map((m) => m.peakRssMb!);
    emitSpread({ group: g, name: `busy_host.${v}_peak_rss_mb`, unit: 'MB', target: '< 150 (every round)', met: rss.every((x) => x < 150), note: 'VmHWM of the uffdscope process, sampled every 100 ms' }, spread(rss));
    emitSpread({ group: g, name: `busy_host.${v}_slowdown_pct`, unit: '%', target: '', note: `100*(1 - traced/untraced faults/s), each traced run next to an untraced one${caution}` }, spread(ms.map((m, i) => 100 * (1 - m.faultsPerS / bs[i].faultsPerS))));
  }
  emit({ group: g, name: 'busy_host.rounds', value: rounds, unit: 'rounds', target: '' });
  const file = saveResults(g, { autogroup: autogroup(), rounds, cleanRounds: clean, procs, uffds, pages, seconds, variants: traced });
  log(`busy_host: figures saved to ${file}`);
}

main().catch((e) => {
  log(`busy_host: ${(e as Error)?.message ?? String(e)}`);
  process.exit(1);
});
