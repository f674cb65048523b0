// Conventions users expect of the command line: a command killed by signal N
// exits 128 + N; `--json` prints to stdout and `--json-out FILE` writes a file
// in every command (old spellings still work, with a note on stderr); the
// uapi hints name real flags and the uapi table is aligned under a header.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { exitStatus, EXIT } from '../../src/exitCodes.js';
import { runSimulate } from '../../src/cli/simulate.js';
import { workloadArgs } from '../../src/cli/workload.js';
import { DEFAULT_UAPI, resolveUapi } from '../../src/events/uapi.js';
import { assertOneLineError, cli, runCli } from '../fixtures/reliability/harness.js';

const dir = mkdtempSync(join(tmpdir(), 'uffdscope-conv-'));
const rec = join(dir, 'sim.uscope');
before(() => runSimulate({ scenario: 'mode-toggle', output: rec, seed: 3, duration: 1, faultRate: 100, uapi: resolveUapi(), force: true }));
after(() => rmSync(dir, { recursive: true, force: true }));

test('exit status of a child: its code, or 128 + the signal number', () => {
  assert.equal(exitStatus({ code: 0, signal: null }), 0);
  assert.equal(exitStatus({ code: 3, signal: null }), 3);
  assert.equal(exitStatus({ code: null, signal: 'SIGINT' }), 130);
  assert.equal(exitStatus({ code: null, signal: 'SIGKILL' }), 137);
  assert.equal(exitStatus({ code: null, signal: 'SIGSEGV' }), 139);
  assert.equal(exitStatus({ code: null, signal: 'SIGTERM' }), 143);
  assert.equal(exitStatus({ code: null, signal: null }), EXIT.CAPTURE);
});

/** pids of `pid`'s children */
function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

test('uffdscope workload: the workload killed by SIGKILL exits 137, by SIGHUP 129', async () => {
  for (const [sig, status] of [
    ['SIGKILL', 137],
    ['SIGHUP', 129],
  ] as const) {
    const wrapper = spawn(process.execPath, [cli, 'workload', '--scenario', 'mixed', '--loops', '0', '--quiet'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => wrapper.on('exit', (code) => resolve(code)));
    let child: number | undefined;
    while (child === undefined && wrapper.exitCode === null) {
      await sleep(50);
      child = children(wrapper.pid!)[0];
    }
    assert.ok(child !== undefined, 'the wrapper started the workload');
    process.kill(child, sig);
    assert.equal(await exited, status, `workload killed by ${sig}`);
  }
});

test('report: --json prints the summary on stdout, --json-out FILE writes it and keeps the table', async (t) => {
  const onStdout = await runCli(['report', rec, '--json']);
  assert.equal(onStdout.code, 0, onStdout.stderr);
  const summary = JSON.parse(onStdout.stdout) as { schema: string };
  assert.equal(summary.schema, 'uffdscope.summary/1');
  const file = join(dir, 'report.json');
  const toFile = await runCli(['report', rec, '--json-out', file]);
  assert.equal(toFile.code, 0, toFile.stderr);
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), summary);
  assert.match(toFile.stdout, /^recording {2}/m, 'the table on stdout');
  assert.equal(toFile.stderr, '');
  const noDir = await runCli(['report', rec, '--json-out', join(dir, 'no', 'such', 'dir.json')]);
  assertOneLineError(noDir, 2, /no such directory/, 'report --json-out into a missing directory');
});

test('check: --json prints the verdict alone on stdout, --json-out FILE writes it; --json FILE still works, with a note', async (t) => {
  const onStdout = await runCli(['check', '--baseline', rec, rec, '--json']);
  assert.equal(onStdout.code, 0, onStdout.stderr);
  const verdict = JSON.parse(onStdout.stdout) as { schema: string; verdict: string };
  assert.equal(verdict.schema, 'uffdscope.check/1');
  assert.match(onStdout.stderr, /^uffdscope check: pass/, 'the table goes to stderr');

  const file = join(dir, 'verdict.json');
  const toFile = await runCli(['check', '--baseline', rec, rec, '--json-out', file]);
  assert.equal(toFile.code, 0, toFile.stderr);
  assert.equal((JSON.parse(readFileSync(file, 'utf8')) as { verdict: string }).verdict, 'pass');
  assert.match(toFile.stdout, /^uffdscope check: pass/);
  assert.equal(toFile.stderr, '');

  const old = join(dir, 'old.json');
  const oldSpelling = await runCli(['check', '--baseline', rec, '--json', old, rec]);
  assert.equal(oldSpelling.code, 0, oldSpelling.stderr);
  assert.equal((JSON.parse(readFileSync(old, 'utf8')) as { verdict: string }).verdict, 'pass');
  assert.equal(oldSpelling.stderr, `uffdscope: --json FILE is deprecated: use --json-out ${old} (--json alone prints the JSON on stdout)\n`);
  assert.match(oldSpelling.stdout, /^uffdscope check: pass/);

  const both = await runCli(['check', '--baseline', rec, '--json', old, '--json-out', file, rec]);
  assertOneLineError(both, 2, /give the file once, with --json-out FILE/, 'check --json FILE --json-out FILE');
});

test('--uapi with an unknown constant names the real flag, which prints an aligned table under a header', async (t) => {
  const bad = await runCli(['report', rec, '--uapi', 'FOO=1']);
  assertOneLineError(bad, 2, /unknown constant FOO; see `uffdscope doctor --uapi-table`/, 'report --uapi FOO=1');
  const table = await runCli(['doctor', '--uapi-table', '--uapi', 'UFFD_FEATURE_RWP=1<<20']);
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trimEnd().split('\n');
  const header = lines[0];
  assert.match(header, /^CONSTANT +VALUE +STATUS +SOURCE$/);
  assert.equal(lines.length, 1 + Object.keys(DEFAULT_UAPI).length);
  const cols = ['VALUE', 'STATUS', 'SOURCE'].map((c) => header.indexOf(c));
  for (const line of lines.slice(1)) {
    for (const at of cols) assert.ok(line[at - 1] === ' ' && line[at] !== ' ', `a column does not start at ${at}: ${line}`);
  }
  const rwp = lines.find((l) => l.startsWith('UFFD_FEATURE_RWP '))!;
  assert.match(rwp, /0x100000 +PROVISIONAL, overridden \(default 0x[0-9a-f]+\)/);
});

test('workload: --json prints on stdout, --json-out FILE writes FILE; the binary\'s --json FILE still works, with a note', async () => {
  const notes: string[] = [];
  const note = (s: string) => notes.push(s);
  assert.deepEqual(workloadArgs(['--scenario', 'mixed', '--json'], note), ['--scenario', 'mixed']);
  assert.deepEqual(workloadArgs(['--json-out', 'a.json', '--quiet'], note), ['--json', 'a.json', '--quiet']);
  assert.deepEqual(workloadArgs(['--json-out=a.json'], note), ['--json', 'a.json']);
  assert.deepEqual(notes, []);
  assert.deepEqual(workloadArgs(['--json', 'b.json', '--quiet'], note), ['--json', 'b.json', '--quiet']);
  assert.deepEqual(workloadArgs(['--json=c.json'], note), ['--json=c.json']);
  assert.deepEqual(notes, [
    'uffdscope: --json FILE is deprecated: use --json-out b.json (--json alone prints the JSON on stdout)',
    'uffdscope: --json FILE is deprecated: use --json-out c.json (--json alone prints the JSON on stdout)',
  ]);

  const small = ['workload', '--scenario', 'postcopy', '--pages', '8', '--quiet'];
  const onStdout = await runCli([...small, '--json']);
  assert.equal(onStdout.code, 0, onStdout.stderr);
  assert.equal((JSON.parse(onStdout.stdout) as { schema: string }).schema, 'uffdscope.workload/1');
  const file = join(dir, 'truth.json');
  const toFile = await runCli([...small, '--json-out', file]);
  assert.equal(toFile.code, 0, toFile.stderr);
  assert.equal(toFile.stdout, '');
  assert.equal((JSON.parse(readFileSync(file, 'utf8')) as { faults: { missing: number } }).faults.missing, 8);
});
