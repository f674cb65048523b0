// Live: however `record` ends (SIGINT, SIGTERM, SIGHUP, SIGKILL), no BPF
// program or map of ours stays loaded (checked with bpftool), and the
// recording stays readable up to its last complete chunk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { requireLive, tmp, cli, workloadBinary } from './support.js';
import { openRecording } from '../../src/recording/reader.js';

function ours(): { progs: string[]; maps: string[] } {
  const p = spawnSync('bpftool', ['prog', 'show'], { encoding: 'utf8' });
  const m = spawnSync('bpftool', ['map', 'show'], { encoding: 'utf8' });
  assert.equal(p.status, 0, `bpftool prog show failed: ${p.stderr}`);
  const grab = (out: string) => [...out.matchAll(/name (uscope_\w+)/g)].map((x) => x[1]);
  return { progs: grab(p.stdout), maps: grab(m.stdout) };
}

async function noneLeft(): Promise<{ progs: string[]; maps: string[] }> {
  // Program and map memory is freed after an RCU grace period: poll briefly.
  let left = ours();
  for (let i = 0; i < 40 && (left.progs.length || left.maps.length); i++) {
    await sleep(100);
    left = ours();
  }
  return left;
}

async function recordThenSignal(signal: NodeJS.Signals): Promise<{ code: number | null; file: string; tag: string }> {
  const file = tmp('sig.uscope');
  const tag = tmp('truth.json'); // unique path: identifies our workload process
  const child = spawn(process.execPath, [cli, 'record', '-o', file, '--', workloadBinary, '--scenario', 'mixed', '--loops', '0', '--pages', '64', '--quiet', '--json', tag], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    // Wait until the programs are attached and the workload runs.
    for (let i = 0; i < 200 && ours().progs.length === 0; i++) await sleep(100);
    assert.ok(ours().progs.length > 0, `programs attached while recording (${stderr})`);
    await sleep(700);
    child.kill(signal);
    const code = await Promise.race([exited, sleep(10_000).then(() => 'timeout' as const)]);
    assert.notEqual(code, 'timeout', `record did not exit after ${signal}: ${stderr}`);
    return { code: code as number | null, file, tag };
  } finally {
    // Never leave a recorder or workload behind, whatever failed above.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    spawnSync('pkill', ['-KILL', '-f', tag]);
  }
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  test(`${signal}: clean detach, complete recording`, async (t) => {
    if (!requireLive(t)) return;
    const { code, file } = await recordThenSignal(signal);
    assert.equal(code, 0);
    const left = await noneLeft();
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
  const { file } = await recordThenSignal('SIGKILL');
  const left = await noneLeft();
  assert.deepEqual(left, { progs: [], maps: [] });
  const rec = openRecording(file);
  const it = rec.chunks();
  let r = it.next();
  while (!r.done) r = it.next();
  assert.equal(r.value.complete, false, 'no trailer: cut short');
  assert.ok(r.value.records > 0, 'records up to the last complete chunk');
});
