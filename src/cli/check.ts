// `uffdscope check`: performance regression checks for CI.
//
//   uffdscope check --baseline BASE CURRENT [--junit OUT.xml] [--report OUT.html] [--json | --json-out OUT.json] [--budget FILE]
//   uffdscope check --baseline BASE --runs N [--save-current DIR] [outputs...] -- CMD ARGS...
//   uffdscope check --save-baseline DIR [--runs N] -- CMD ARGS...
//
// BASE and CURRENT: a recording (.uscope), a summary JSON (uffdscope.summary/1)
// or a directory of runs (any mix). With --runs N and a command after `--`,
// the current side is N traced runs of that command (recorded like
// `uffdscope record`, kept with --save-current). --save-baseline records N
// runs (default 5) into DIR: run-NNN.uscope + run-NNN.json + manifest.json.
//
// Exit: 0 no regression, 1 regression, 2 bad input (one line naming the file
// and the problem); 3 environment and 4 capture failures as for `record`.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Uapi } from '../events/uapi.js';
import { DEFAULT_BUDGET, loadBudget, type Budget } from '../check/budget.js';
import { loadSide, type Side } from '../check/inputs.js';
import { compare, type CheckResult } from '../check/compare.js';
import { checkJson, formatCheckTable, junitXml } from '../check/report.js';
import { checkHtml } from '../check/html.js';
import { prepareRunDir, traceRuns, writeManifest } from '../check/live.js';
import { EXIT, UsageError } from '../exitCodes.js';
import { checkWritable, writeOut } from './outputFile.js';

export interface CheckOptions {
  /** operands: [CURRENT], or the command (with --runs or --save-baseline) */
  args: string[];
  baseline?: string;
  saveBaseline?: string;
  saveCurrent?: string;
  runs?: number;
  junit?: string;
  report?: string;
  /** the verdict JSON on stdout (the table then goes to stderr) */
  json?: boolean;
  /** the verdict JSON to this file */
  jsonOut?: string;
  budget?: string;
  /** compare damaged recordings instead of refusing them (exit 2) */
  allowDamaged?: boolean;
  ringBufferMb?: number;
  uapi: Uapi;
  /** where the table goes (stdout by default) */
  write?: (s: string) => void;
  /** progress lines (stderr by default) */
  log?: (s: string) => void;
}

export interface CheckOutcome {
  exitCode: number;
  result: CheckResult | null;
  /** --save-baseline: the recordings written */
  saved?: string[];
}

export const DEFAULT_BASELINE_RUNS = 5;

/** A path that is a directory, a recording or a summary: clearly not a command. */
function looksLikeRuns(p: string): boolean {
  try {
    const st = statSync(p);
    return st.isDirectory() || /\.(uscope|json)$/i.test(p);
  } catch {
    return false;
  }
}

/** The whole check without touching process state: returns the exit code, throws UsageError/ExitError. */
export async function executeCheck(o: CheckOptions): Promise<CheckOutcome> {
  // with --json, stdout carries the JSON alone
  const write = o.write ?? ((s: string) => void (o.json ? process.stderr : process.stdout).write(s));
  const log = o.log ?? ((s: string) => void process.stderr.write(s + '\n'));
  if (o.runs !== undefined && (!Number.isInteger(o.runs) || o.runs < 1)) throw new UsageError(`--runs must be a whole number >= 1, got ${o.runs}`);
  const budget: Budget = o.budget ? loadBudget(o.budget) : DEFAULT_BUDGET;
  checkWritable(o.junit, 'JUnit XML');
  checkWritable(o.jsonOut, 'JSON verdict');
  checkWritable(o.report, 'HTML report');

  if (o.saveBaseline !== undefined) {
    if (o.baseline !== undefined) throw new UsageError('--save-baseline and --baseline are separate steps: save the baseline first, then compare against it');
    if (o.junit || o.report || o.json || o.jsonOut || o.saveCurrent) {
      throw new UsageError('--junit, --report, --json, --json-out and --save-current apply to a comparison, not to --save-baseline');
    }
    if (o.args.length === 0) throw new UsageError('--save-baseline DIR needs the command to trace: uffdscope check --save-baseline DIR --runs N -- CMD ARGS...');
    const runs = o.runs ?? DEFAULT_BASELINE_RUNS;
    prepareRunDir(o.saveBaseline, '--save-baseline');
    const saved = await traceRuns({ dir: o.saveBaseline, runs, command: o.args, uapi: o.uapi, ringBufferMb: o.ringBufferMb, label: 'baseline', log });
    writeManifest(o.saveBaseline, o.args, runs);
    // a baseline that cannot be read back is no baseline
    loadSide('baseline', o.saveBaseline, { uapi: o.uapi, reservoir: budget.reservoir, seed: budget.seed });
    log(`uffdscope check: saved a baseline of ${runs} run${runs === 1 ? '' : 's'} in ${o.saveBaseline}`);
    return { exitCode: EXIT.OK, result: null, saved };
  }

  if (o.baseline === undefined) {
    throw new UsageError('missing --baseline BASE (a recording, a summary JSON or a directory of runs); make one with --save-baseline DIR -- CMD');
  }
  const load = { uapi: o.uapi, reservoir: budget.reservoir, seed: budget.seed, allowDamaged: o.allowDamaged, warn: (line: string) => log(`uffdscope: ${line}`) };
  // the baseline first: a bad one fails before any command runs
  const base = loadSide('baseline', o.baseline, load);

  let cur: Side;
  let tmp: string | null = null;
  try {
    if (o.runs !== undefined) {
      if (o.args.length === 0) throw new UsageError('--runs N needs the command to trace after --: uffdscope check --baseline BASE --runs N -- CMD ARGS...');
      if (o.args.length === 1 && looksLikeRuns(o.args[0])) {
        throw new UsageError(`${o.args[0]}: with --runs N the current side is traced from a command after --, not read from a path; drop --runs to compare against this path`);
      }
      let dir: string;
      if (o.saveCurrent !== undefined) {
        prepareRunDir(o.saveCurrent, '--save-current');
        dir = o.saveCurrent;
      } else {
        dir = tmp = mkdtempSync(join(tmpdir(), 'uffdscope-check-'));
      }
      await traceRuns({ dir, runs: o.runs, command: o.args, uapi: o.uapi, ringBufferMb: o.ringBufferMb, label: 'current', log });
      cur = loadSide('current', dir, load);
      if (tmp) {
        cur.path = `${o.runs} traced run${o.runs === 1 ? '' : 's'}`;
        cur.notes.push('the traced runs were not kept (keep them with --save-current DIR)');
      }
    } else {
      if (o.saveCurrent !== undefined) throw new UsageError('--save-current DIR only applies with --runs N -- CMD');
      if (o.args.length === 0) throw new UsageError('missing CURRENT (a recording, a summary JSON or a directory of runs), or --runs N -- CMD to trace the current side');
      if (o.args.length > 1) {
        throw new UsageError(`expected one CURRENT path, got ${o.args.length} arguments (to trace a command as the current side: --runs N -- CMD ARGS...)`);
      }
      cur = loadSide('current', o.args[0], load);
    }

    const result = compare(base, cur, budget);
    write(formatCheckTable(result));
    if (o.json) process.stdout.write(checkJson(result));
    if (o.jsonOut) writeOut(o.jsonOut, checkJson(result), 'JSON verdict');
    if (o.junit) writeOut(o.junit, junitXml(result), 'JUnit XML');
    if (o.report) writeOut(o.report, checkHtml(result, base, cur), 'HTML report');
    return { exitCode: result.exit_code, result };
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

/** `uffdscope check`: sets process.exitCode (0 pass, 1 regression); errors are thrown for main's fail(). */
export async function runCheck(o: CheckOptions): Promise<CheckOutcome> {
  const r = await executeCheck(o);
  process.exitCode = r.exitCode;
  return r;
}
