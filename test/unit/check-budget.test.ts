// The budget file of `uffdscope check`: JSON or YAML, validated by ajv
// against BUDGET_SCHEMA; one line per problem, naming the file and the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUDGET_HELP, DEFAULT_BUDGET, DEFAULT_COUNT_RULES, DEFAULT_LATENCY_RULES, loadBudget, ruleFor, validateBudget } from '../../src/check/budget.js';
import { projectRoot } from '../../src/paths.js';
import { UsageError } from '../../src/exitCodes.js';
import { tmpDir } from '../fixtures/check/gen.js';

const dir = tmpDir();
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

function rejects(name: string, text: string, message: string | RegExp): void {
  const p = file(name, text);
  assert.throws(
    () => loadBudget(p),
    (e: unknown) => {
      assert.ok(e instanceof UsageError, `UsageError, got ${String(e)}`);
      assert.ok(!e.message.includes('\n'), `one line: ${e.message}`);
      if (typeof message === 'string') assert.equal(e.message, message);
      else assert.match(e.message, message);
      return true;
    },
  );
}

test('a full YAML budget loads', () => {
  const b = loadBudget(
    file(
      'budget.yaml',
      `# CI budget
confidence: 0.99
correction: none
resamples: 5000
seed: 7
min_samples: 50
min_runs: 3
reservoir: 20000
ignore: ["latency.*.wake.max", "ioctl.UFFDIO_COPY.errors"]
metrics:
  fault:
    p99: { threshold: 0.3, floor_ns: 10000 }
    max: { ignore: true }
  service:
    p90: { gate: true }
  count: { threshold: 0, floor: 0, direction: both }
  rate: { threshold: 0.5 }
kinds:
  missing:
    fault:
      p50: { threshold: 0.05 }
`,
    ),
  );
  assert.equal(b.confidence, 0.99);
  assert.equal(b.correction, 'none');
  assert.equal(b.minRuns, 3);
  assert.deepEqual(b.ignore, ['latency.*.wake.max', 'ioctl.UFFDIO_COPY.errors']);
  assert.deepEqual(ruleFor(b, 'latency.missing.fault.p99', 'fault', 'missing', 'p99'), {
    threshold: 0.3,
    floor: 10000,
    direction: 'increase',
    ignore: false,
    gate: true,
  });
  assert.equal(ruleFor(b, 'latency.missing.service.p50', 'service', 'missing', 'p50').gate, false, 'stages warn by default');
  assert.equal(ruleFor(b, 'latency.missing.fault.p50', 'fault', 'missing', 'p50').threshold, 0.05, 'kind over metrics');
  assert.equal(ruleFor(b, 'latency.wp.fault.p50', 'fault', 'wp', 'p50').threshold, 0.1, 'default for other kinds');
  assert.equal(ruleFor(b, 'latency.missing.fault.max', 'fault', 'missing', 'max').ignore, true);
  assert.equal(ruleFor(b, 'latency.all.service.p90', 'service', 'all', 'p90').gate, true, 'gate: true');
  assert.equal(ruleFor(b, 'latency.missing.wake.max', 'wake', 'missing', 'max').ignore, true, 'ignore pattern');
  assert.equal(ruleFor(b, 'ioctl.UFFDIO_COPY.errors', 'ioctl_errors', null, null).ignore, true);
  assert.equal(ruleFor(b, 'faults.missing.count', 'count', 'missing', null).direction, 'both');
});

test('JSON budget; an empty file is the defaults', () => {
  const b = loadBudget(file('b.json', JSON.stringify({ metrics: { queue: { p90: { threshold: 1 } } } })));
  assert.equal(ruleFor(b, 'latency.all.queue.p90', 'queue', 'all', 'p90').threshold, 1);
  const e = loadBudget(file('empty.yaml', '# nothing\n'));
  assert.equal(e.confidence, DEFAULT_BUDGET.confidence);
  assert.equal(e.resamples, DEFAULT_BUDGET.resamples);
});

test('bad fields: one line each, naming the file and the field', () => {
  rejects('budget.yaml', 'metrics:\n  fault:\n    p99:\n      threshold: -1\n', 'budget.yaml: metrics.fault.p99.threshold must be a number >= 0');
  rejects('budget.yaml', 'metrics:\n  fault:\n    p99:\n      threshold: "ten"\n', 'budget.yaml: metrics.fault.p99.threshold must be a number >= 0');
  rejects('budget.yaml', 'metrics:\n  fault:\n    p99: { floor_ns: -5 }\n', 'budget.yaml: metrics.fault.p99.floor_ns must be a number >= 0');
  rejects('budget.yaml', 'confidence: 1.5\n', 'budget.yaml: confidence must be a number > 0.5 and < 1');
  rejects('budget.yaml', 'resamples: 10.5\n', 'budget.yaml: resamples must be a whole number >= 200 and <= 1000000');
  rejects('budget.yaml', 'min_runs: 1\n', 'budget.yaml: min_runs must be a whole number >= 2');
  // removed: an untestable change beyond its threshold never passes now, whatever the budget says
  for (const doc of ['fail_on_insufficient: false\n', 'metrics:\n  fault:\n    p50: { fail_on_insufficient: false }\n']) {
    rejects('budget.yaml', doc, /^budget\.yaml: (metrics\.fault\.p50\.)?fail_on_insufficient is no longer a setting: a change beyond its threshold that cannot be tested always fails now \(gate: false makes a metric only warn, ignore drops it\)$/);
  }
  rejects('budget.yaml', 'metrics:\n  wake:\n    p50: { gate: 1 }\n', 'budget.yaml: metrics.wake.p50.gate must be true or false');
  rejects('budget.yaml', 'correction: holm\n', 'budget.yaml: correction must be one of bonferroni, none');
  rejects('budget.yaml', 'metrics:\n  count: { direction: up }\n', 'budget.yaml: metrics.count.direction must be one of increase, decrease, both');
  rejects('budget.yaml', 'ignore: latency.*\n', 'budget.yaml: ignore must be a list');
  rejects('budget.yaml', 'ignore: [""]\n', 'budget.yaml: ignore[0] must not be empty');
  rejects('budget.yaml', 'metrics:\n  fault:\n    p95: { threshold: 0.1 }\n', /^budget\.yaml: metrics\.fault\.p95 is not a known setting \(expected one of: p05, p50, p90, p99, max\)$/);
  rejects('budget.yaml', 'metrics:\n  faults: {}\n', /^budget\.yaml: metrics\.faults is not a known setting \(expected one of: fault, queue, service, wake, mode_switch, count, rate/);
  rejects('budget.yaml', 'thresholds: {}\n', /^budget\.yaml: thresholds is not a known setting \(expected one of: version, confidence/);
  rejects('budget.yaml', 'kinds:\n  missing:\n    fault:\n      p50: { threshold: 0.1, floor: 3 }\n', /^budget\.yaml: kinds\.missing\.fault\.p50\.floor is not a known setting \(expected one of: threshold, floor_ns/);
  rejects('budget.yaml', 'kinds:\n  huge: {}\n', /^budget\.yaml: kinds\.huge is not a known setting \(expected one of: missing, wp, minor, rwp, async, unknown\)$/);
  rejects('budget.yaml', '- 1\n- 2\n', 'budget.yaml: (top level) must be a mapping (key: value)');
  rejects('budget.yaml', 'metrics: [1\n', /^budget\.yaml: not valid YAML \(/);
  rejects('budget.yaml', 'seed: 1\nseed: 2\n', /^budget\.yaml: not valid YAML \(.*[Mm]ap keys must be unique/);
  rejects('b.json', '{"confidence": 0.9,}', /^b\.json: not valid JSON \(/);
  assert.throws(() => loadBudget(join(dir, 'missing.yaml')), /missing\.yaml: cannot read the budget file \(no such file\)/);
});

test('validateBudget (programmatic) uses the same messages', () => {
  assert.throws(() => validateBudget({ metrics: { fault: { p99: { threshold: -0.1 } } } }, 'inline'), {
    message: 'inline: metrics.fault.p99.threshold must be a number >= 0',
  });
  assert.equal(validateBudget(undefined).confidence, 0.95);
});

test('the documented budget (check --help, README) is a valid budget, states the defaults, and the README has it verbatim', () => {
  const lines = BUDGET_HELP.split('\n');
  const yaml = lines.slice(1, lines.findIndex((l) => l.startsWith('Families:'))).join('\n');
  const b = loadBudget(file('documented.yaml', yaml));
  assert.equal(b.confidence, DEFAULT_BUDGET.confidence);
  assert.equal(b.resamples, DEFAULT_BUDGET.resamples);
  assert.equal(b.minSamples, DEFAULT_BUDGET.minSamples);
  assert.equal(b.minRuns, DEFAULT_BUDGET.minRuns);
  assert.equal(b.reservoir, DEFAULT_BUDGET.reservoir);
  assert.equal(b.runNoise, DEFAULT_BUDGET.runNoise);
  assert.ok(BUDGET_HELP.includes(`run_noise: ${DEFAULT_BUDGET.runNoise} `) && BUDGET_HELP.includes(`(x${1 + DEFAULT_BUDGET.runNoise})`));
  assert.equal(ruleFor(b, 'latency.all.service.p90', 'service', 'all', 'p90').gate, true);
  // the defaults as the text states them
  const floorsUs = (['p05', 'p50', 'p90', 'p99', 'max'] as const).map((k) => DEFAULT_LATENCY_RULES[k].floor / 1000).join(', ');
  assert.ok(BUDGET_HELP.includes(`(floors ${floorsUs} µs)`), floorsUs);
  const pct = (x: number) => `${x * 100} %`;
  assert.equal(DEFAULT_LATENCY_RULES.p05.threshold, DEFAULT_LATENCY_RULES.p50.threshold);
  assert.ok(BUDGET_HELP.includes(`p05/p50/p90 +${pct(DEFAULT_LATENCY_RULES.p50.threshold)}, p99 +${pct(DEFAULT_LATENCY_RULES.p99.threshold)}, max +${pct(DEFAULT_LATENCY_RULES.max.threshold)}`));
  assert.ok(BUDGET_HELP.includes(`count\n+${pct(DEFAULT_COUNT_RULES.count.threshold)}, rate -${pct(DEFAULT_COUNT_RULES.rate.threshold)}, ioctl_errors +${pct(DEFAULT_COUNT_RULES.ioctl_errors.threshold)}`));
  assert.ok(readFileSync(join(projectRoot, 'README.md'), 'utf8').includes('```\n' + BUDGET_HELP + '\n```'), 'README carries BUDGET_HELP verbatim');
});
