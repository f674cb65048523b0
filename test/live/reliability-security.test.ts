// Live, reliability/security: recordings and summaries hold addresses, so
// they are created mode 0600 (whatever the umask, also over an existing
// file); and only what was selected is traced: a workload recorded with
// `-- CMD` or `--pid` while OTHER workloads run untraced at the same time
// (one looping, and a stream of fresh short-lived ones whose uffd contexts
// and mms the kernel may place where the traced ones' were) -- no event of
// the others may be in the recording.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { requireLive, tmp, workloadBinary, readTruth } from './support.js';
import { cli, runProgram, waitFor } from '../fixtures/reliability/harness.js';
import { forEachRecordedEvent } from '../../src/source/recordingSource.js';

const mode = (f: string) => statSync(f).mode & 0o777;
const sh = (script: string) => runProgram('sh', ['-c', script], { timeoutMs: 60_000 });
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

test('recordings and --json-out summaries are mode 0600: umask 000, and over an existing 0644 file', { timeout: 120_000 }, async (t) => {
  if (!requireLive(t)) return;
  const node = q(process.execPath);
  const c = q(cli);
  const fresh = tmp('fresh.uscope');
  let r = await sh(`umask 000; exec ${node} ${c} record -o ${q(fresh)} -- true`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(mode(fresh), 0o600, 'new recording');

  const over = tmp('over.uscope');
  writeFileSync(over, 'old');
  chmodSync(over, 0o644);
  r = await sh(`umask 000; exec ${node} ${c} record --force -o ${q(over)} -- true`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(mode(over), 0o600, 'recording written over an existing 0644 file');

  const sim = tmp('sim.uscope');
  r = await sh(`umask 000; exec ${node} ${c} simulate -s mode-toggle -d 1 -o ${q(sim)}`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(mode(sim), 0o600, 'generated recording');

  const json = tmp('s.json');
  r = await sh(`umask 000; exec ${node} ${c} stat --json-out ${q(json)} -- true`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(mode(json), 0o600, 'new --json-out file');
  JSON.parse(readFileSync(json, 'utf8'));

  const jsonOver = tmp('over.json');
  writeFileSync(jsonOver, '{}');
  chmodSync(jsonOver, 0o644);
  r = await sh(`umask 000; exec ${node} ${c} stat --json-out ${q(jsonOver)} -- true`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(mode(jsonOver), 0o600, '--json-out written over an existing 0644 file');
  assert.equal(JSON.parse(readFileSync(jsonOver, 'utf8')).schema, 'uffdscope.in-kernel/2');
});

interface Others {
  looping: ChildProcess;
  loopTruth: string;
  stream: ChildProcess;
  streamDir: string;
  stop: () => Promise<void>;
}

/** Untraced uffd users: one looping workload, and fresh short workloads one after another. */
async function startOthers(): Promise<Others> {
  const loopTruth = tmp('others-loop.json');
  const looping = spawn(workloadBinary, ['--scenario', 'mixed', '--loops', '0', '--pages', '64', '--handler-process', '--quiet', '--json', loopTruth], { stdio: 'ignore' });
  const streamDir = join(dirname(loopTruth), 'stream');
  mkdirSync(streamDir, { recursive: true });
  const stop = join(streamDir, 'STOP');
  const stream = spawn(
    'sh',
    ['-c', `i=0; while [ ! -e ${q(stop)} ]; do i=$((i+1)); ${q(workloadBinary)} --scenario postcopy --pages 16 --handler-process --quiet --json ${q(streamDir)}/$i.json || exit 1; done`],
    { stdio: 'ignore' },
  );
  await sleep(500);
  return {
    looping,
    loopTruth,
    stream,
    streamDir,
    stop: async () => {
      writeFileSync(stop, '');
      looping.kill('SIGTERM');
      const gone = (c: ChildProcess) => new Promise<void>((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve() : c.on('exit', () => resolve())));
      const ok = await Promise.race([Promise.all([gone(looping), gone(stream)]).then(() => true), sleep(20_000, undefined, { ref: false }).then(() => false)]);
      if (!ok) {
        looping.kill('SIGKILL');
        stream.kill('SIGKILL');
      }
    },
  };
}

/** Every pid the untraced workloads had (main and handler processes). */
function othersPids(o: Others): Set<number> {
  const pids = new Set<number>([o.looping.pid!, o.stream.pid!]);
  const add = (f: string) => {
    try {
      const w = readTruth(f);
      pids.add(w.pid);
      for (const h of w.handler_pids) pids.add(h);
    } catch {
      /* a run cut short */
    }
  };
  add(o.loopTruth);
  for (const f of readdirSync(o.streamDir)) if (f.endsWith('.json')) add(join(o.streamDir, f));
  return pids;
}

function recordedPids(file: string): { pids: Map<number, number>; forked: Set<number>; lost: number } {
  const pids = new Map<number, number>();
  const forked = new Set<number>();
  const read = forEachRecordedEvent(file, null, (e) => {
    // a wake-up record is about its target (a traced thread); the waker is whoever woke it
    const pid = e.type === 'wake' ? e.targetPid : e.pid;
    pids.set(pid, (pids.get(pid) ?? 0) + 1);
    if (e.type === 'proc' && e.kind === 'fork') forked.add(e.otherPid);
  });
  return { pids, forked, lost: Number((read.counters as { lostTotal?: number } | null)?.lostTotal ?? 0) };
}

test('selection: `record -- workload` while other workloads run untraced records none of their events', { timeout: 180_000 }, async (t) => {
  if (!requireLive(t)) return;
  const others = await startOthers();
  const runs: Array<{ file: string; truth: string }> = [];
  try {
    for (let i = 0; i < 3; i++) {
      const file = tmp(`sel-${i}.uscope`);
      const truth = tmp(`sel-${i}.json`);
      const args = ['--scenario', 'mixed', '--pages', '128', '--quiet', '--json', truth, ...(i % 2 ? ['--handler-process'] : [])];
      const r = await runProgram(process.execPath, [cli, 'record', '-o', file, '--', workloadBinary, ...args], { timeoutMs: 60_000 });
      assert.equal(r.code, 0, `record: ${r.stderr}`);
      runs.push({ file, truth });
    }
  } finally {
    await others.stop();
  }
  const foreign = othersPids(others);
  assert.ok(foreign.size >= 3, `the untraced workloads ran (${foreign.size} pids)`);
  for (const { file, truth } of runs) {
    const w = readTruth(truth);
    const { pids, forked } = recordedPids(file);
    const mine = new Set([w.pid, ...w.handler_pids, ...forked]);
    assert.ok((pids.get(w.pid) ?? 0) > 0, 'the traced workload is in the recording');
    // pids the kernel reused between the two sides cannot be told apart by pid
    const leaked = [...pids.keys()].filter((p) => foreign.has(p) && !mine.has(p));
    assert.deepEqual(leaked, [], `${file}: events of untraced workloads recorded (pids ${leaked.join(', ')})`);
    const unknown = [...pids.keys()].filter((p) => !mine.has(p));
    assert.deepEqual(unknown, [], `${file}: events of processes outside the traced tree`);
  }
});

test('selection: `record --pid` traces that process only', { timeout: 120_000 }, async (t) => {
  if (!requireLive(t)) return;
  const others = await startOthers();
  const truth = tmp('pid-target.json');
  const target = spawn(workloadBinary, ['--scenario', 'mixed', '--loops', '0', '--pages', '64', '--start-delay-ms', '1000', '--quiet', '--json', truth], { stdio: 'ignore' });
  const file = tmp('pid.uscope');
  try {
    const r = await runProgram(process.execPath, [cli, 'record', '-o', file, '--pid', String(target.pid), '--duration', '4'], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, `record: ${r.stderr}`);
  } finally {
    target.kill('SIGTERM');
    await waitFor(() => target.exitCode !== null || target.signalCode !== null, 20_000);
    await others.stop();
  }
  const foreign = othersPids(others);
  const { pids, forked } = recordedPids(file);
  const mine = new Set([target.pid!, ...forked]);
  try {
    for (const h of readTruth(truth).handler_pids) mine.add(h);
  } catch {
    /* cut short */
  }
  assert.ok((pids.get(target.pid!) ?? 0) > 0, 'the selected process is in the recording');
  const outside = [...pids.keys()].filter((p) => !mine.has(p));
  assert.deepEqual(outside, [], `events of processes not selected (untraced workloads: ${outside.filter((p) => foreign.has(p)).join(', ') || 'none'})`);
});
