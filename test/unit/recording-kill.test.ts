// A writer killed with SIGKILL leaves a readable prefix; a process that exits
// without close() is not kept alive by the flush timer and keeps its records.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readAllRecords } from '../../src/recording/index.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'uscope-kill-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

// dist/test/unit/x.js -> dist/src/recording/index.js
const moduleUrl = pathToFileURL(
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/recording/index.js'),
).href;

function childSource(file: string, mode: 'interval' | 'busy' | 'exit'): string {
  return `
import { RecordingWriter } from ${JSON.stringify(moduleUrl)};
const header = {
  format: 1, recordAbi: 1,
  tool: { name: 'uffdscope', version: 'test' },
  kernel: { release: 'r', version: 'v', machine: 'm' },
  hostname: 'h',
  clock: { name: 'boottime', bootToRealtimeOffsetNs: 0, startedAtBootNs: 0 },
  createdAt: new Date().toISOString(), backend: 'test',
  selection: { pids: [process.pid], command: null, hostWide: false },
  uapi: {}, generated: { generator: 'kill-test', scenario: ${JSON.stringify(mode)}, seed: 0 }, extra: {},
};
const mode = ${JSON.stringify(mode)};
const w = RecordingWriter.create(${JSON.stringify(file)}, header,
  { flushIntervalMs: mode === 'exit' ? 60000 : 50 });
let ts = 0;
function batch(n) {
  const b = Buffer.alloc(n * 48);
  for (let i = 0; i < n; i++) {
    b.writeUInt16LE(99, i * 48); b.writeUInt16LE(48, i * 48 + 2);
    b.writeBigUInt64LE(BigInt(ts++), i * 48 + 8);
  }
  return b;
}
if (mode === 'interval') {
  setInterval(() => w.append(batch(16), 16), 1);
  process.stdout.write('ready\\n');
} else if (mode === 'busy') {
  process.stdout.write('ready\\n');
  for (;;) w.append(batch(16), 16);
} else {
  w.append(batch(10), 10);
  // no close(): the unref'd timer must not keep the process alive
}
`;
}

function runChild(file: string, mode: 'interval' | 'busy' | 'exit', killAfterMs: number | null) {
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--input-type=module', '-e', childSource(file, mode)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let killer: NodeJS.Timeout | undefined;
    const guard = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.stdout.on('data', (d: Buffer) => {
      if (killAfterMs !== null && !killer && d.toString().includes('ready')) {
        killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      if (killer) clearTimeout(killer);
      resolve({ code, signal, ms: Date.now() - t0 });
    });
  });
}

function checkPrefix(file: string, t: { diagnostic(m: string): void }): number {
  const all = readAllRecords(file);
  t.diagnostic(`${all.count} records, ${all.status.chunks} chunks, damage: ${all.status.damage.map((d) => d.reason).join('; ') || 'none'}`);
  assert.equal(all.status.complete, false);
  assert.equal(all.status.trailer, null);
  assert.ok(all.count > 0, 'records survived the kill');
  assert.equal(all.records.length, all.count * 48);
  for (let i = 0; i < all.count; i++) {
    assert.equal(all.records.readBigUInt64LE(i * 48 + 8), BigInt(i), `record ${i} in sequence`);
  }
  // a kill leaves at most the one partial chunk it was writing, at the end
  assert.ok(all.status.damage.length <= 1);
  for (const d of all.status.damage) {
    assert.match(d.reason, /cut short|ends inside a chunk header/);
    assert.equal(d.offset + d.length, fs.statSync(file).size);
  }
  return all.count;
}

for (const mode of ['interval', 'busy'] as const) {
  test(`SIGKILL during writing (${mode} appends) leaves a valid prefix`, { timeout: 20_000 }, async (t) => {
    const file = path.join(tmp, `kill-${mode}.uscope`);
    const r = await runChild(file, mode, 300);
    assert.equal(r.signal, 'SIGKILL');
    checkPrefix(file, t);
  });
}

test('the flush timer does not keep the process alive; exit without close keeps records', { timeout: 20_000 }, async (t) => {
  const file = path.join(tmp, 'exit.uscope');
  const r = await runChild(file, 'exit', null);
  assert.equal(r.code, 0);
  assert.ok(r.ms < 5000, `child exited after ${r.ms} ms`);
  assert.equal(checkPrefix(file, t), 10);
});
