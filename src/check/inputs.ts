// The two sides of `uffdscope check`: each a recording (.uscope), a summary
// JSON (uffdscope.summary/1), or a directory of several runs (any mix of
// those). Recordings are analysed with the same pipeline as `report`, and
// every userfault's total and stage latencies go into bounded uniform
// reservoirs (seeded) for the per-fault tests and the CDF plots.
//
// Anything that cannot be read as a run is a UsageError with a one-line
// message naming the file and the problem.

import { closeSync, openSync, readFileSync, readSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { Ajv } from 'ajv';
import { recordingInputError, type RecordingRead } from '../source/recordingSource.js';
import { MAGIC } from '../recording/format.js';
import type { DamagedRange } from '../recording/reader.js';
import { damageHeadline, damageWarning } from '../recording/damage.js';
import { SUMMARY_SCHEMA, type Summary } from '../stats/summary.js';
import { FAULT_KINDS, type FaultRecord } from '../model/faultLifecycle.js';
import type { Uapi } from '../events/uapi.js';
import { analyzeRecording } from '../pipeline/recordingPipeline.js';
import { fromKernelSummary, KERNEL_SUMMARY_SCHEMA, KERNEL_SUMMARY_SUBSET_SCHEMA, type KernelSummaryDoc } from './kernelSummaryInput.js';
import { UsageError } from '../exitCodes.js';
import { Reservoir, seedFor } from './stats.js';

export const STAGE_KEYS = ['fault', 'queue', 'service', 'wake'] as const;
export type StageKey = (typeof STAGE_KEYS)[number];
const STAGE_FIELD: Record<StageKey, 'total' | 'queue' | 'service' | 'wake'> = { fault: 'total', queue: 'queue', service: 'service', wake: 'wake' };

/** Files written by check itself (verdicts, baseline manifests) carry this schema prefix and are skipped in directories. */
export const CHECK_SCHEMA_PREFIX = 'uffdscope.check';

export interface Run {
  file: string;
  type: 'recording' | 'summary';
  summary: Summary;
  /** the traced command, when known */
  command: string[] | null;
  generated: boolean;
  notes: string[];
  /** this run's own per-fault samples (keys as in Side.samples), for per-run quantiles the summary lacks (p05) */
  samples?: Map<string, Reservoir> | null;
}

export interface Side {
  label: 'baseline' | 'current';
  /** what the user named */
  path: string;
  runs: Run[];
  /**
   * Per-fault samples of every run pooled, by `${group}:${stage}` (group:
   * a fault kind or 'all'); null unless every run is a recording.
   */
  samples: Map<string, Reservoir> | null;
  notes: string[];
}

export interface LoadOptions {
  uapi: Uapi | null;
  /** use damaged recordings (and summaries of them) instead of refusing them; each is noted */
  allowDamaged?: boolean;
  /** where the damage warnings of recordings go (stderr lines, without the program prefix) */
  warn?: (line: string) => void;
  /** reservoir size per metric per side */
  reservoir: number;
  seed: number;
}

// ------------------------------------------------------- summary JSON

const lat = {
  type: 'object',
  required: ['count', 'p50', 'p90', 'p99', 'max'],
  properties: { count: { type: 'number' }, p50: { type: 'number' }, p90: { type: 'number' }, p99: { type: 'number' }, max: { type: 'number' }, mean: { type: 'number' } },
};
const stages = { type: 'object', required: ['fault', 'queue', 'service', 'wake'], properties: { fault: lat, queue: lat, service: lat, wake: lat } };
/** The part of uffdscope.summary/1 check relies on. */
const SUMMARY_SUBSET_SCHEMA = {
  type: 'object',
  required: ['schema', 'duration_ns', 'faults', 'latency_ns', 'ioctls', 'mode_switches'],
  properties: {
    schema: { const: SUMMARY_SCHEMA },
    duration_ns: { type: 'number', minimum: 0 },
    faults: {
      type: 'object',
      required: ['total', 'missing', 'wp', 'minor', 'rwp', 'async'],
      properties: Object.fromEntries(['total', 'missing', 'wp', 'minor', 'rwp', 'async', 'unknown'].map((k) => [k, { type: 'number', minimum: 0 }])),
    },
    latency_ns: stages,
    latency_ns_by_kind: { type: 'object', additionalProperties: stages },
    ioctls: {
      type: 'object',
      additionalProperties: { type: 'object', required: ['count', 'errors'], properties: { count: { type: 'number' }, errors: { type: 'number' } } },
    },
    latency_hist_ns: {
      type: 'object',
      required: ['fault'],
      properties: Object.fromEntries(STAGE_KEYS.map((st) => [st, { type: 'array', items: { type: 'array', minItems: 2, maxItems: 2, items: { type: 'number', minimum: 0 } } }])),
    },
    mode_switches: {
      type: 'array',
      items: {
        type: 'object',
        required: ['result', 'latency_ns'],
        properties: { result: { type: ['number', 'null'] }, latency_ns: { type: ['number', 'null'] } },
      },
    },
  },
};

let summaryValidator: ReturnType<Ajv['compile']> | null = null;
let kernelValidator: ReturnType<Ajv['compile']> | null = null;

function summaryProblem(doc: unknown, validate = (summaryValidator ??= new Ajv({ allErrors: false, strict: false }).compile(SUMMARY_SUBSET_SCHEMA))): string | null {
  if (validate(doc)) return null;
  const e = validate.errors![0];
  const at = e.instancePath.split('/').slice(1).join('.') || '(top level)';
  if (e.keyword === 'required') return `${at === '(top level)' ? '' : at + '.'}${(e.params as { missingProperty: string }).missingProperty} is missing`;
  return `${at} ${e.message}`;
}

export function readSummaryFile(file: string): Summary {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw recordingInputError(file, e);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${file}: not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
  const schema = (doc as { schema?: unknown } | null)?.schema;
  if (schema === KERNEL_SUMMARY_SCHEMA && typeof doc === 'object' && !Array.isArray(doc)) {
    kernelValidator ??= new Ajv({ allErrors: false, strict: false }).compile(KERNEL_SUMMARY_SUBSET_SCHEMA);
    const problem = summaryProblem(doc, kernelValidator);
    if (problem) throw new UsageError(`${file}: damaged ${KERNEL_SUMMARY_SCHEMA} summary: ${problem}`);
    return fromKernelSummary(doc as KernelSummaryDoc);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || schema !== SUMMARY_SCHEMA) {
    const got = schema === undefined ? 'no "schema" field' : `schema ${JSON.stringify(schema)}`;
    throw new UsageError(
      `${file}: not a uffdscope summary (${got}; expected "${SUMMARY_SCHEMA}" or "${KERNEL_SUMMARY_SCHEMA}" as written by \`uffdscope stat --json-out\` or \`uffdscope report --json\`)`,
    );
  }
  const problem = summaryProblem(doc);
  if (problem) throw new UsageError(`${file}: damaged ${SUMMARY_SCHEMA} summary: ${problem}`);
  return doc as Summary;
}

// ---------------------------------------------------------- recordings

export interface AnalyzedRecording {
  summary: Summary;
  read: RecordingRead;
}

const ALLOW_HINT = 'check compares whole runs; record it again, or pass --allow-damaged to compare what was read';

/**
 * Analyses a recording like `report`, calling `onFault` with every fault
 * record. A recording with skipped (damaged) byte ranges is refused unless
 * `allowDamaged`: check compares whole runs.
 */
export function analyzeRecordingWith(
  file: string,
  uapi: Uapi | null,
  onFault: ((r: FaultRecord) => void) | null,
  allowDamaged = false,
): AnalyzedRecording {
  const r = analyzeRecording(file, uapi, onFault ?? undefined);
  const damage = r.read.status.damage;
  if (damage.length && !allowDamaged) {
    throw new UsageError(`${file}: recording is damaged (${damageHeadline(damage)}, the first at byte ${damage[0].offset}: ${damage[0].reason}); ${ALLOW_HINT}`);
  }
  return r;
}

/** The damage a summary JSON says its recording had (report --json of a damaged recording). */
function summaryDamage(s: Summary): DamagedRange[] {
  const d = (s.source as { damage?: unknown } | undefined)?.damage;
  return Array.isArray(d) ? (d as DamagedRange[]) : [];
}

/** Adds a fault record's stage latencies to the side's reservoirs (userfaults only, like the summary). */
export function sampleFault(samples: Map<string, Reservoir>, r: FaultRecord, cap: number, seed: number): void {
  if (!r.userfault) return;
  const s = r.stages;
  for (const st of STAGE_KEYS) {
    const v = s[STAGE_FIELD[st]];
    if (v === undefined) continue;
    for (const g of ['all', r.kind]) {
      const key = `${g}:${st}`;
      let res = samples.get(key);
      if (res === undefined) {
        res = new Reservoir(cap, seedFor(seed, key));
        samples.set(key, res);
      }
      res.add(v);
    }
  }
}

/** A summary's latency histograms by stage: `fault` (the total) always when there are any; queue, service, wake when the writer adds them. */
type StageHistograms = Partial<Record<StageKey, Array<[number, number]>>>;

/** The stages whose histogram every run carries. */
export function histogramStages(runs: ReadonlyArray<Pick<Run, 'summary'>>): StageKey[] {
  return STAGE_KEYS.filter((st) => runs.length > 0 && runs.every((r) => (r.summary.latency_hist_ns as StageHistograms | undefined)?.[st]));
}

/** Per-fault samples of a side of summaries, from their latency histograms
 *  (each bucket's value, count times), for every stage all runs carry one of:
 *  under `all:STAGE`, and under the one fault kind's key when a run has
 *  userfaults of one kind only (its histograms are that kind's). Null unless
 *  every run has the total's. */
export function histogramSamples(runs: ReadonlyArray<Pick<Run, 'summary'>>, cap: number, seed: number): Map<string, Reservoir> | null {
  const stages = histogramStages(runs);
  if (!stages.includes('fault')) return null;
  const samples = new Map<string, Reservoir>();
  const into = (key: string): Reservoir => {
    let res = samples.get(key);
    if (res === undefined) samples.set(key, (res = new Reservoir(cap, seedFor(seed, key))));
    return res;
  };
  for (const r of runs) {
    const f = r.summary.faults as unknown as Record<string, number>;
    const kinds = FAULT_KINDS.filter((k) => (f[k] ?? 0) > 0);
    const hists = r.summary.latency_hist_ns as StageHistograms;
    for (const st of stages) {
      const keys = [`all:${st}`, ...(kinds.length === 1 ? [`${kinds[0]}:${st}`] : [])].map(into);
      for (const [v, n] of hists[st]!) for (let i = 0; i < n; i++) for (const res of keys) res.add(v);
    }
  }
  return samples;
}

// --------------------------------------------------------------- sides

type FileType = 'recording' | 'summary' | 'other';

function sniff(file: string): FileType {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    throw recordingInputError(file, e);
  }
  try {
    const b = Buffer.alloc(MAGIC.length);
    const n = readSync(fd, b, 0, b.length, 0);
    if (n === MAGIC.length && b.equals(MAGIC)) return 'recording';
    const first = b.subarray(0, n).toString('latin1').trimStart()[0];
    if (first === '{' || extname(file).toLowerCase() === '.json') return 'summary';
    if (extname(file).toLowerCase() === '.uscope') return 'recording';
    return 'other';
  } finally {
    closeSync(fd);
  }
}

function commandOf(s: Summary): string[] | null {
  const sel = (s.source as { selection?: { command?: unknown } } | undefined)?.selection;
  return Array.isArray(sel?.command) ? (sel!.command as string[]) : null;
}

/** The runs in a directory: recordings and summary JSONs; a summary next to a recording of the same name is the same run. */
function listRuns(dir: string): Array<{ file: string; type: 'recording' | 'summary' }> {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (e) {
    throw recordingInputError(dir, e);
  }
  const recs = new Set<string>();
  const out: Array<{ file: string; type: 'recording' | 'summary' }> = [];
  for (const n of names) if (n.endsWith('.uscope')) recs.add(n.slice(0, -'.uscope'.length));
  for (const n of names) {
    const file = join(dir, n);
    let st;
    try {
      st = statSync(file);
    } catch {
      continue;
    }
    if (!st.isFile()) continue;
    if (n.endsWith('.uscope')) out.push({ file, type: 'recording' });
    else if (n.toLowerCase().endsWith('.json')) {
      const stem = n.replace(/(\.summary)?\.json$/i, '');
      if (recs.has(stem)) continue;
      // check's own files (verdicts, manifests) are not runs
      let schema: unknown;
      try {
        schema = (JSON.parse(readFileSync(file, 'utf8')) as { schema?: unknown })?.schema;
      } catch {
        schema = undefined;
      }
      if (typeof schema === 'string' && schema.startsWith(CHECK_SCHEMA_PREFIX)) continue;
      out.push({ file, type: 'summary' });
    }
  }
  return out;
}

/** Loads one side. `path`: a recording, a summary JSON or a directory of runs. */
export function loadSide(label: 'baseline' | 'current', path: string, o: LoadOptions): Side {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`${path}: no such file or directory (the ${label}: a recording, a summary JSON or a directory of runs)`);
    throw recordingInputError(path, e);
  }
  let entries: Array<{ file: string; type: 'recording' | 'summary' }>;
  if (st.isDirectory()) {
    entries = listRuns(path);
    if (entries.length === 0) throw new UsageError(`${path}: no runs in this directory (expected .uscope recordings or summary .json files)`);
  } else {
    const t = sniff(path);
    if (t === 'other') throw new UsageError(`${path}: neither a uffdscope recording nor a summary JSON`);
    entries = [{ file: path, type: t }];
  }
  const allRecordings = entries.every((e) => e.type === 'recording');
  const samples = allRecordings ? new Map<string, Reservoir>() : null;
  const seed = seedFor(o.seed, label);
  const runs: Run[] = [];
  for (const e of entries) {
    if (e.type === 'summary') {
      const summary = readSummaryFile(e.file);
      const damage = summaryDamage(summary);
      const notes: string[] = [];
      if (damage.length) {
        if (!o.allowDamaged) throw new UsageError(`${e.file}: summary of a damaged recording (${damageHeadline(damage)}); ${ALLOW_HINT}`);
        o.warn?.(`warning: ${e.file} summarises a damaged recording: ${damageHeadline(damage)}`);
        notes.push(`${basename(e.file)}: summary of a damaged recording (${damageHeadline(damage)}); compared anyway (--allow-damaged)`);
      }
      const own = histogramSamples([{ summary }], o.reservoir, seed);
      runs.push({ file: e.file, type: 'summary', summary, command: commandOf(summary), generated: !!summary.generated, notes, samples: own });
      continue;
    }
    const own = new Map<string, Reservoir>();
    const onFault = (r: FaultRecord) => {
      sampleFault(own, r, o.reservoir, seed);
      if (samples) sampleFault(samples, r, o.reservoir, seed);
    };
    const { summary, read } = analyzeRecordingWith(e.file, o.uapi, onFault, o.allowDamaged);
    for (const line of damageWarning(e.file, read.status)) o.warn?.(line);
    const notes: string[] = [];
    const damage = read.status.damage;
    if (damage.length) notes.push(`${basename(e.file)}: damaged (${damageHeadline(damage)}); compared anyway (--allow-damaged)`);
    if (!read.status.complete) notes.push(`${basename(e.file)}: no ${damage.length ? 'readable ' : ''}trailer (the recorder did not finish); using everything it wrote`);
    if (summary.events.lost > 0) notes.push(`${basename(e.file)}: ${summary.events.lost} events were lost while recording; its counts are low`);
    runs.push({ file: e.file, type: 'recording', summary, command: read.header.selection.command, generated: read.header.generated !== null, notes, samples: own });
  }
  const notes: string[] = [];
  if (!allRecordings && entries.some((e) => e.type === 'recording')) {
    notes.push(`${label} mixes recordings and summaries: per-fault samples are not used for it`);
  }
  const fromHist = entries.every((e) => e.type === 'summary') ? histogramSamples(runs, o.reservoir, seed) : null;
  if (fromHist) {
    const st = histogramStages(runs).map((s) => (s === 'fault' ? 'total' : s));
    notes.push(`${label}: per-fault tests of the ${st.join(', ')} latenc${st.length === 1 ? 'y' : 'ies'} use the summaries' histograms (bucket values, 3 significant digits)`);
  }
  for (const r of runs) notes.push(...r.notes);
  return { label, path, runs, samples: samples ?? fromHist, notes };
}
