// Live, reliability: the environment fails under uffdscope. tracefs is not
// mounted and cannot be mounted (simulated in a private mount namespace:
// a tmpfs over /sys/kernel/tracing and a `mount` that fails): exit 3, one
// line naming tracefs and the fix, no file created. tracefs not mounted but
// mountable: uffdscope mounts it and records. The disk fills up while
// recording (a 256 KiB tmpfs): exit 4, one line naming the file, the command
// ended, what was written readable, nothing left attached.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { requireLive, tmp, workloadBinary } from './support.js';
import { skipOrFail } from '../fixtures/skipOrFail.js';
import { assertOneLineError, bpfIdsOf, cli, idsLeft, runProgram, waitFor, type BpfIds, type CliRun } from '../fixtures/reliability/harness.js';
import { TRACEFS } from '../../src/capture/tracefs.js';

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function canUnshare(): boolean {
  return spawnSync('unshare', ['-m', '--propagation', 'private', 'true']).status === 0;
}

/** Runs `script` in a private mount namespace with tracefs hidden under a tmpfs. */
function inNamespace(script: string, timeoutMs = 30_000): Promise<CliRun> {
  return runProgram('unshare', ['-m', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs none ${TRACEFS} || exit 99; ${script}`], { timeoutMs });
}

test('tracefs missing and not mountable: record, stat, top exit 3 with one line naming tracefs; doctor says so', { timeout: 120_000 }, async (t) => {
  if (!requireLive(t)) return;
  if (!canUnshare()) return skipOrFail(t, 'unshare -m is not possible here: the simulation needs a private mount namespace');
  const fake = tmp('bin');
  mkdirSync(fake, { recursive: true });
  writeFileSync(join(fake, 'mount'), '#!/bin/sh\necho "mount: /sys/kernel/tracing: permission denied." >&2\nexit 32\n');
  chmodSync(join(fake, 'mount'), 0o755);
  const out = tmp('never.uscope');
  const env = `PATH=${q(fake)}:$PATH`;
  for (const args of [
    ['record', '-o', out, '--', 'true'],
    ['stat', '--', 'true'],
    ['top', '--demo'],
    ['stat', '--pid', '1', '--duration', '1'],
  ]) {
    const r = await inNamespace(`${env} exec ${q(process.execPath)} ${q(cli)} ${args.map(q).join(' ')}`);
    assert.notEqual(r.code, 99, 'tmpfs over tracefs');
    assertOneLineError(r, 3, /tracefs.*\/sys\/kernel\/tracing.*mount -t tracefs/, `no tracefs: ${args.join(' ')}`);
  }
  const doc = await inNamespace(`${env} exec ${q(process.execPath)} ${q(cli)} doctor`);
  assert.equal(doc.code, 3, `doctor: ${doc.stderr}`);
  assert.match(doc.stdout, /FAIL\s+tracefs\s+tracefs is not mounted/);
  assert.doesNotMatch(doc.stderr, /^\s+at |Error:/m);
  assert.equal(spawnSync('test', ['-e', out]).status, 1, 'no recording file created');
});

test('tracefs missing but mountable: uffdscope mounts it and records', { timeout: 60_000 }, async (t) => {
  if (!requireLive(t)) return;
  if (!canUnshare()) return skipOrFail(t, 'unshare -m is not possible here: the simulation needs a private mount namespace');
  const out = tmp('mounted.uscope');
  const r = await inNamespace(
    `test -e ${TRACEFS}/events/sched && exit 98; ${q(process.execPath)} ${q(cli)} record -o ${q(out)} -- ${q(workloadBinary)} --scenario postcopy --pages 32 --quiet --json /dev/null || exit $?; ${q(process.execPath)} ${q(cli)} report --json ${q(out)}`,
  );
  assert.notEqual(r.code, 98, 'tracefs hidden');
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.equal(s.faults.missing, 32);
  assert.equal(s.events.lost, 0);
});

test('disk full while recording: exit 4, one line naming the file, the command ended, the file readable, nothing attached', { timeout: 90_000 }, async (t) => {
  if (!requireLive(t)) return;
  if (!canUnshare()) return skipOrFail(t, 'unshare -m is not possible here: the simulation needs a private mount namespace');
  const dir = tmp('tiny');
  mkdirSync(dir, { recursive: true });
  const out = join(dir, 'r.uscope');
  const tag = tmp('full-truth.json'); // identifies the workload
  const script =
    `mount -t tmpfs -o size=256k none ${q(dir)} || exit 99; ` +
    `${q(process.execPath)} ${q(cli)} record -o ${q(out)} -- ${q(workloadBinary)} --scenario postcopy --pages 8192 --threads 2 --quiet --json ${q(tag)} & ` +
    `echo "pid=$!"; wait $!; echo "rc=$?"; ${q(process.execPath)} ${q(cli)} report --json ${q(out)} > ${q(dir)}/../report.json 2> ${q(dir)}/../report.err; echo "report=$?"`;
  const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  // 'close': "report=N" comes last on stdout; at 'exit' it may be unread
  const exit = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  await waitFor(() => /pid=\d+/.test(stdout), 10_000);
  const pid = Number(/pid=(\d+)/.exec(stdout)?.[1]);
  let ids: BpfIds = { progs: [], maps: [] };
  while (ids.progs.length === 0 && !/rc=/.test(stdout)) {
    ids = bpfIdsOf(pid);
    await sleep(50);
  }
  const code = await Promise.race([exit, sleep(60_000, undefined, { ref: false }).then(() => 'timeout' as const)]);
  if (code === 'timeout') child.kill('SIGKILL');
  assert.notEqual(code, 'timeout', `hung: ${stderr}`);
  assert.notEqual(code, 99, 'tmpfs mounted');
  const rc = Number(/rc=(\d+)/.exec(stdout)?.[1]);
  const recordErr = stderr.split('\n').filter((l) => l.startsWith('uffdscope:')).join('\n') + '\n';
  assertOneLineError({ code: rc, signal: null, stdout: '', stderr: recordErr, ms: 0, timedOut: false }, 4, /r\.uscope.*ENOSPC/, 'record on a full disk');
  assert.doesNotMatch(stderr, /^\s+at |Error:/m, `stack trace: ${stderr}`);
  assert.match(stdout, /report=0/, 'what was written is readable');
  const rep = JSON.parse(spawnSync('cat', [join(dir, '..', 'report.json')], { encoding: 'utf8' }).stdout);
  assert.equal(rep.source.complete, false, 'the report says it was cut short');
  assert.match(spawnSync('cat', [join(dir, '..', 'report.err')], { encoding: 'utf8' }).stdout, /^uffdscope: /m, 'and warns on stderr');
  assert.ok(ids.progs.length > 0, 'record had attached its programs');
  assert.deepEqual(await idsLeft(ids), { progs: [], maps: [] }, 'its programs and maps are gone from the kernel');
  assert.ok(await waitFor(() => spawnSync('pgrep', ['-f', tag]).status !== 0, 15_000), 'the workload was ended, not orphaned');
});
