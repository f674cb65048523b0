// The budget file of `uffdscope check` (JSON or YAML): thresholds per metric
// and fault kind, absolute floors, metrics to ignore, confidence level and
// sample minimums. Validated against BUDGET_SCHEMA with ajv; every problem is
// reported as one line naming the file and the field. BUDGET_HELP documents
// it (check --help, and the README, which a unit test keeps equal).

import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { UsageError } from '../exitCodes.js';

export const LATENCY_FAMILIES = ['fault', 'queue', 'service', 'wake', 'mode_switch'] as const;
export type LatencyFamily = (typeof LATENCY_FAMILIES)[number];
export const COUNT_FAMILIES = ['count', 'rate', 'ioctl_errors', 'mode_switch_failures'] as const;
export type CountFamily = (typeof COUNT_FAMILIES)[number];
export type Family = LatencyFamily | CountFamily;
export const STATS = ['p05', 'p50', 'p90', 'p99', 'max'] as const;
export type Stat = (typeof STATS)[number];
export const KINDS = ['missing', 'wp', 'minor', 'rwp', 'async', 'unknown'] as const;
export type Direction = 'increase' | 'decrease' | 'both';

/** A rule as written in the file (all optional). */
export interface RuleInput {
  threshold?: number;
  floor_ns?: number;
  floor?: number;
  direction?: Direction;
  ignore?: boolean;
  gate?: boolean;
}

/** A rule as applied. */
export interface Rule {
  /** relative: 0.1 = a 10% change */
  threshold: number;
  /** absolute, in the metric's unit (ns for latencies) */
  floor: number;
  /** which way is worse */
  direction: Direction;
  ignore: boolean;
  /** a regression of this metric fails the check (false: reported as a warning) */
  gate: boolean;
}

export interface Budget {
  /** where it came from (for messages), null for the defaults */
  file: string | null;
  confidence: number;
  correction: 'bonferroni' | 'none';
  resamples: number;
  seed: number;
  minSamples: number;
  minRuns: number;
  reservoir: number;
  /** one run a side: how far (relative) host load alone moves a run's p05; see runNoise.ts */
  runNoise: number;
  ignore: string[];
  metrics: Partial<Record<Family, RuleInput | Partial<Record<Stat, RuleInput>>>>;
  kinds: Partial<Record<string, Partial<Record<Family, RuleInput | Partial<Record<Stat, RuleInput>>>>>>;
}

/** Default thresholds: relative change and absolute floor per statistic. */
export const DEFAULT_LATENCY_RULES: Record<Stat, { threshold: number; floor: number }> = {
  p05: { threshold: 0.1, floor: 1_000 },
  p50: { threshold: 0.1, floor: 1_000 },
  p90: { threshold: 0.1, floor: 2_000 },
  p99: { threshold: 0.25, floor: 5_000 },
  max: { threshold: 0.5, floor: 20_000 },
};

export const DEFAULT_COUNT_RULES: Record<CountFamily, { threshold: number; floor: number; direction: Direction }> = {
  count: { threshold: 0.05, floor: 1, direction: 'increase' },
  rate: { threshold: 0.25, floor: 0, direction: 'decrease' },
  ioctl_errors: { threshold: 0.5, floor: 1, direction: 'increase' },
  mode_switch_failures: { threshold: 0, floor: 0, direction: 'increase' },
};

/**
 * Families whose regressions fail the check by default. The stages of a
 * fault (queue, service, wake) are diagnostics: they explain a change of the
 * total, which contains them, and on a shared host they move with its load
 * (measured: every false alarm of identical 3-vs-3 comparisons was a stage
 * metric). `gate: true` in the budget makes one gate.
 */
export const GATING_BY_DEFAULT: Record<Family, boolean> = {
  fault: true,
  queue: false,
  service: false,
  wake: false,
  mode_switch: true,
  count: true,
  rate: true,
  ioctl_errors: true,
  mode_switch_failures: true,
};

export const DEFAULT_BUDGET: Budget = {
  file: null,
  confidence: 0.95,
  correction: 'bonferroni',
  resamples: 10_000,
  seed: 1,
  minSamples: 20,
  minRuns: 2,
  reservoir: 50_000,
  runNoise: 0.6,
  ignore: [],
  metrics: {},
  kinds: {},
};

// ---------------------------------------------------------------- schema

/** Removed: a change beyond its threshold that cannot be tested never passes now. */
const REMOVED_SETTING = 'fail_on_insufficient';
const REMOVED_WHY = 'a change beyond its threshold that cannot be tested always fails now (gate: false makes a metric only warn, ignore drops it)';

/** The budget file's settings, for `check --help` and the README. */
export const BUDGET_HELP = `Budget file (--budget FILE, YAML or JSON; every key optional):
  version: 1                  # the only version
  confidence: 0.95            # family-wise confidence of the decisions (0.5 < c < 1)
  correction: bonferroni      # or none: each metric at \`confidence\` alone
  resamples: 10000            # bootstrap resamples (200 .. 1000000)
  seed: 1                     # bootstrap and reservoir seed
  min_samples: 20             # per side, for the per-fault tests (>= 2)
  min_runs: 2                 # per side, for the per-run tests (>= 2)
  reservoir: 50000            # per-fault samples kept per metric per side
  run_noise: 0.6              # one run a side: how far (x1.6) host load alone moves a run's p05
  ignore: ["latency.*.wake.max", "ioctl.UFFDIO_COPY.errors"]   # metric ids (* and ? match)
  metrics:                    # rules for every fault kind, by family
    fault: { p99: { threshold: 0.3, floor_ns: 10000 } }
    service: { p90: { gate: true } }    # stages (queue, service, wake) only warn by default
    count: { threshold: 0.05, floor: 1 }
  kinds:                      # one fault kind (missing, wp, minor, rwp, async, unknown), over \`metrics\`
    missing: { fault: { p50: { threshold: 0.05 } } }
Families: fault, queue, service, wake, mode_switch (latencies: a rule per p05, p50, p90, p99, max
with threshold, floor_ns, direction, gate, ignore); count, rate, ioctl_errors,
mode_switch_failures (one rule: threshold, floor, direction, gate, ignore). threshold is
relative (0.1 = 10 %), the floor absolute; direction is increase, decrease or both (which way
is worse). Defaults: p05/p50/p90 +10 %, p99 +25 %, max +50 % (floors 1, 1, 2, 5, 20 µs); count
+5 %, rate -25 %, ioctl_errors +50 %, mode_switch_failures any increase.
A metric regresses when beyond its threshold AND significant. One that cannot be tested
(one summary a side without histograms, or a stage) passes within its threshold and never beyond it: "beyond threshold,
untestable" fails when the metric gates (exit 1) and warns when it does not.
A per-fault test cannot see the noise between runs. With one run a side, a latency counts
as changed only when its p05 (fastest faults, from recordings or histograms) moved by more
than run_noise, significantly; else beyond-threshold changes are "inconclusive" (exit 0,
listed). With several runs a side the p05 is judged against the runs' own spread.`;

const direction = { enum: ['increase', 'decrease', 'both'] };
const nonNeg = { type: 'number', minimum: 0 };

const latencyRule = {
  type: 'object',
  additionalProperties: false,
  properties: { threshold: nonNeg, floor_ns: nonNeg, direction, ignore: { type: 'boolean' }, gate: { type: 'boolean' } },
};
const latencyFamily = {
  type: 'object',
  additionalProperties: false,
  properties: { p05: latencyRule, p50: latencyRule, p90: latencyRule, p99: latencyRule, max: latencyRule },
};
const countRule = {
  type: 'object',
  additionalProperties: false,
  properties: { threshold: nonNeg, floor: nonNeg, direction, ignore: { type: 'boolean' }, gate: { type: 'boolean' } },
};
const familyProps = {
  fault: latencyFamily,
  queue: latencyFamily,
  service: latencyFamily,
  wake: latencyFamily,
  mode_switch: latencyFamily,
  count: countRule,
  rate: countRule,
  ioctl_errors: countRule,
  mode_switch_failures: countRule,
};
const kindFamilies = {
  type: 'object',
  additionalProperties: false,
  properties: { fault: latencyFamily, queue: latencyFamily, service: latencyFamily, wake: latencyFamily, count: countRule },
};

/** JSON schema of the budget file (draft-07 subset ajv checks). */
export const BUDGET_SCHEMA = {
  $id: 'urn:uffdscope:check-budget',
  title: 'uffdscope check budget',
  type: 'object',
  additionalProperties: false,
  properties: {
    version: { const: 1 },
    confidence: { type: 'number', exclusiveMinimum: 0.5, exclusiveMaximum: 1 },
    correction: { enum: ['bonferroni', 'none'] },
    resamples: { type: 'integer', minimum: 200, maximum: 1_000_000 },
    seed: { type: 'integer', minimum: 0, maximum: 4294967295 },
    min_samples: { type: 'integer', minimum: 2 },
    min_runs: { type: 'integer', minimum: 2 },
    reservoir: { type: 'integer', minimum: 100, maximum: 10_000_000 },
    run_noise: { type: 'number', minimum: 0 },
    ignore: { type: 'array', items: { type: 'string', minLength: 1 } },
    metrics: { type: 'object', additionalProperties: false, properties: familyProps },
    kinds: { type: 'object', additionalProperties: false, properties: Object.fromEntries(KINDS.map((k) => [k, kindFamilies])) },
  },
} as const;

let validator: ReturnType<Ajv['compile']> | null = null;
function validate(doc: unknown): ErrorObject | null {
  validator ??= new Ajv({ allErrors: false, strict: true, verbose: true }).compile(BUDGET_SCHEMA);
  return validator(doc) ? null : (validator.errors?.[0] ?? null);
}

function dotted(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`))
    .join('')
    .replace(/^\./, '');
}

/** One readable sentence for an ajv error. */
export function describeError(e: ErrorObject): string {
  const at = dotted(e.instancePath);
  const where = at || '(top level)';
  const ps = (e.parentSchema ?? {}) as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      if (extra === REMOVED_SETTING) return `${at ? at + '.' : ''}${extra} is no longer a setting: ${REMOVED_WHY}`;
      const known = Object.keys((ps.properties as Record<string, unknown>) ?? {});
      return `${at ? at + '.' : ''}${extra} is not a known setting (expected one of: ${known.join(', ')})`;
    }
    case 'enum':
      return `${where} must be one of ${(ps.enum as unknown[]).map(String).join(', ')}`;
    case 'const':
      return `${where} must be ${JSON.stringify(ps.const)}`;
    case 'type':
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const t = ps.type;
      if (t === 'number' || t === 'integer') {
        const noun = t === 'integer' ? 'a whole number' : 'a number';
        const lo = ps.minimum !== undefined ? `>= ${ps.minimum}` : ps.exclusiveMinimum !== undefined ? `> ${ps.exclusiveMinimum}` : '';
        const hi = ps.maximum !== undefined ? `<= ${ps.maximum}` : ps.exclusiveMaximum !== undefined ? `< ${ps.exclusiveMaximum}` : '';
        const range = [lo, hi].filter(Boolean).join(' and ');
        return `${where} must be ${noun}${range ? ' ' + range : ''}`;
      }
      if (t === 'boolean') return `${where} must be true or false`;
      if (t === 'array') return `${where} must be a list`;
      if (t === 'string') return `${where} must be a string`;
      if (t === 'object') return `${where} must be a mapping (key: value)`;
      return `${where} ${e.message ?? 'is invalid'}`;
    }
    case 'minLength':
      return `${where} must not be empty`;
    default:
      return `${where} ${e.message ?? 'is invalid'}`;
  }
}

/** Reads, parses and validates a budget file; UsageError (one line) on any problem. */
export function loadBudget(file: string): Budget {
  const name = basename(file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`${file}: cannot read the budget file (${code === 'ENOENT' ? 'no such file' : code ?? String(e)})`);
  }
  let doc: unknown;
  try {
    doc = /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text, { uniqueKeys: true });
  } catch (e) {
    const msg = ((e as Error).message ?? String(e)).split('\n')[0];
    throw new UsageError(`${name}: not valid ${/\.json$/i.test(file) ? 'JSON' : 'YAML'} (${msg})`);
  }
  if (doc === null || doc === undefined) doc = {};
  const err = validate(doc);
  if (err) throw new UsageError(`${name}: ${describeError(err)}`);
  return budgetFrom(doc as Record<string, unknown>, file);
}

/** A budget from an already parsed, VALID document (or the defaults for {}). */
export function budgetFrom(doc: Record<string, unknown>, file: string | null = null): Budget {
  const d = doc as {
    confidence?: number;
    correction?: 'bonferroni' | 'none';
    resamples?: number;
    seed?: number;
    min_samples?: number;
    min_runs?: number;
    reservoir?: number;
    run_noise?: number;
    ignore?: string[];
    metrics?: Budget['metrics'];
    kinds?: Budget['kinds'];
  };
  return {
    file,
    confidence: d.confidence ?? DEFAULT_BUDGET.confidence,
    correction: d.correction ?? DEFAULT_BUDGET.correction,
    resamples: d.resamples ?? DEFAULT_BUDGET.resamples,
    seed: d.seed ?? DEFAULT_BUDGET.seed,
    minSamples: d.min_samples ?? DEFAULT_BUDGET.minSamples,
    minRuns: d.min_runs ?? DEFAULT_BUDGET.minRuns,
    reservoir: d.reservoir ?? DEFAULT_BUDGET.reservoir,
    runNoise: d.run_noise ?? DEFAULT_BUDGET.runNoise,
    ignore: d.ignore ?? [],
    metrics: d.metrics ?? {},
    kinds: d.kinds ?? {},
  };
}

/** Validates a document without reading a file (tests, programmatic use). */
export function validateBudget(doc: unknown, name = 'budget'): Budget {
  const err = validate(doc ?? {});
  if (err) throw new UsageError(`${name}: ${describeError(err)}`);
  return budgetFrom((doc ?? {}) as Record<string, unknown>, name);
}

function globRe(p: string): RegExp {
  return new RegExp('^' + p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
}

/** The rule for a metric: defaults, then `metrics`, then `kinds.<kind>`, then `ignore` patterns. */
export function ruleFor(b: Budget, id: string, family: Family, kind: string | null, stat: Stat | null): Rule {
  let base: { threshold: number; floor: number; direction: Direction };
  if (stat !== null) base = { ...DEFAULT_LATENCY_RULES[stat], direction: 'increase' };
  else base = { ...DEFAULT_COUNT_RULES[family as CountFamily] };
  const rule: Rule = { ...base, ignore: false, gate: GATING_BY_DEFAULT[family] };
  const layers: Array<RuleInput | undefined> = [];
  const pick = (fam: RuleInput | Partial<Record<Stat, RuleInput>> | undefined) =>
    stat !== null ? (fam as Partial<Record<Stat, RuleInput>> | undefined)?.[stat] : (fam as RuleInput | undefined);
  layers.push(pick(b.metrics[family]));
  if (kind !== null && kind !== 'all') layers.push(pick(b.kinds[kind]?.[family]));
  for (const l of layers) {
    if (!l) continue;
    if (l.threshold !== undefined) rule.threshold = l.threshold;
    if (l.floor_ns !== undefined) rule.floor = l.floor_ns;
    if (l.floor !== undefined) rule.floor = l.floor;
    if (l.direction !== undefined) rule.direction = l.direction;
    if (l.ignore !== undefined) rule.ignore = l.ignore;
    if (l.gate !== undefined) rule.gate = l.gate;
  }
  if (b.ignore.some((p) => globRe(p).test(id))) rule.ignore = true;
  return rule;
}
