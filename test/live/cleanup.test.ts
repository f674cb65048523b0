// Live: however `record` ends (SIGINT, SIGTERM, SIGHUP, SIGKILL), no BPF
// program or map of ours stays loaded (checked with bpftool), and the
// recording stays readable up to its last complete chunk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { constants } from 'node:os';
import { recordsOnDisk, requireLive, tmp, cli, workloadBinary } from './support.js';
import { openRecording } from '../../src/recording/reader.js';
import { bpfIdsOf, idsLeft, waitFor, type BpfIds } from '../fixtures/reliability/harness.js';

// Clean-up is checked on the ids of the programs and maps THIS recorder held
// (from /proc/PID/fdinfo), so another uffdscope running on the host at the
// same time cannot confuse the test.
async function recordThenSignal(signal: NodeJS.Signals): Promise<{ code: number | null; file: string; tag: string; ids: BpfIds }> {
  const file = tmp('sig.uscope');
  const tag = tmp('truth.json'); // unique path: identifies our workload process
  const child = spawn(process.execPath, [cli, 'record', '-o', file, '--', workloadBinary, '--scenario', 'mixed', '--loops', '0', '--pages', '64', '--quiet', '--json', tag], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    // The signal comes once the recorder has attached every program (its
    // "recording" line) and the file holds a complete chunk of records, not a
    // fixed time after its first program fd: on a slow machine that time
    // could end before the attach finished or before any chunk was written.
    assert.ok(await waitFor(() => /^uffdscope: recording /m.test(stderr) || child.exitCode !== null, 20_000), `record did not start tracing in 20 s: ${stderr}`);
    assert.equal(child.exitCode, null, `record exited before tracing: ${stderr}`);
    const ids = bpfIdsOf(child.pid!);
    assert.ok(ids.progs.length > 0, `programs attached while recording (${stderr})`);
    assert.ok(await waitFor(() => recordsOnDisk(file) > 0, 20_000), `no complete chunk of records written in 20 s: ${stderr}`);
    child.kill(signal);
    const code = await Promise.race([exited, sleep(10_000).then(() => 'timeout' as const)]);
    assert.notEqual(code, 'timeout', `record did not exit after ${signal}: ${stderr}`);
    return { code: code as number | null, file, tag, ids };
  } finally {
    // Never leave a recorder or workload behind, whatever failed above.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    spawnSync('pkill', ['-KILL', '-f', tag]);
  }
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  test(`${signal}: clean detach, complete recording`, async (t) => {
    if (!requireLive(t)) return;
    const { code, file, ids } = await recordThenSignal(signal);
    assert.equal(code, 128 + constants.signals[signal], 'stopped by a signal: 128 + N (README: Exit codes)');
    const left = await idsLeft(ids);
    assert.deepEqual(left, { progs: [], maps: [] }, 'nothing of ours left in the kernel');
    const rec = openRecording(file);
    const it = rec.chunks();
    let r = it.next();
    while (!r.done) r = it.next();
    assert.ok(r.value.complete, 'trailer written');
    assert.equal(r.value.trailer?.reason, 'signal');
    assert.ok(r.value.records > 0, 'events recorded');
  });
}

test('SIGKILL: the kernel detaches everything; the recording reads up to its last chunk', async (t) => {
  if (!requireLive(t)) return;
  const { file, ids } = await recordThenSignal('SIGKILL');
  const left = await idsLeft(ids);
  assert.deepEqual(left, { progs: [], maps: [] });
  const rec = openRecording(file);
  const it = rec.chunks();
  let r = it.next();
  while (!r.done) r = it.next();
  assert.equal(r.value.complete, false, 'no trailer: cut short');
  assert.ok(r.value.records > 0, 'records up to the last complete chunk');
});
