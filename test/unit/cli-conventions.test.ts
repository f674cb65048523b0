// Conventions users expect of the command line: a command killed by signal N
// exits 128 + N; `--json` prints to stdout and `--json-out FILE` writes a file
// in every command (old spellings still work, with a note on stderr); the
// uapi hints name real flags and the uapi table is aligned under a header.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { exitStatus, EXIT } from '../../src/cli/errors.js';
import { cli } from '../fixtures/reliability/harness.js';

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
