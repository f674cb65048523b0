// Live, end to end: `top --demo` in a real pseudo-terminal (tmux). The
// screen must show the bundled workload's faults, and `q` must end it within
// 2 s with no BPF program of ours left attached.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { requireLive, tmp, cli } from './support.js';
import { skipOrFail } from '../fixtures/skipOrFail.js';

function tmux(...args: string[]): string {
  const r = spawnSync('tmux', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function ourPrograms(): number {
  const r = spawnSync('bpftool', ['prog', 'show'], { encoding: 'utf8' });
  return [...r.stdout.matchAll(/name uscope_/g)].length;
}

test('top --demo in a terminal: live faults on screen, q quits within 2 s and detaches', async (t) => {
  if (!requireLive(t)) return;
  const which = spawnSync('tmux', ['-V']);
  if (which.status !== 0) return skipOrFail(t, 'tmux is not installed (scripts/setup.sh installs it)');
  const session = `uscope-top-${process.pid}`;
  const done = tmp('exit-code');
  // Ink draws only a final frame when CI is set (is-in-ci): a user's terminal
  // has no CI variable, so neither does this one.
  tmux('new-session', '-d', '-s', session, '-x', '100', '-y', '30', `env -u CI ${process.execPath} ${cli} top --demo; echo $? > ${done}`);
  try {
    let screen = '';
    let faults = 0;
    // the start (attach, the demo workload, the first frame) gets a generous deadline: a loaded machine slows it
    const end = Date.now() + 60_000;
    while (faults === 0 && Date.now() < end) {
      await sleep(100);
      screen = tmux('capture-pane', '-t', session, '-p');
      const m = /faults ([\d.]+)(k?)\/s/.exec(screen);
      const rows = [...screen.matchAll(/uffd-workload\/\d+\s+\S+\s+\S+\s+(sync|async)/g)].length; // PROCESS UFFD CREATED MODE
      if (m && rows > 0) faults = Number(m[1]) * (m[2] ? 1000 : 1);
    }
    assert.ok(faults > 0, `no live fault rate on screen (faults N/s with N > 0):\n${screen}`);
    assert.match(screen, /DEMO/, 'says it runs the bundled workload');
    assert.ok(ourPrograms() > 0, 'programs attached while running');
    const t0 = Date.now();
    tmux('send-keys', '-t', session, 'q');
    while (!existsSync(done) && Date.now() - t0 < 5000) await sleep(20);
    const took = Date.now() - t0;
    assert.ok(existsSync(done), 'top did not exit after q');
    assert.ok(took <= 2000, `q took ${took} ms to exit`);
    assert.equal(readFileSync(done, 'utf8').trim(), '0', 'exit status 0');
    let left = ourPrograms();
    // freed after an RCU grace period, which a loaded machine stretches
    for (const stopAt = Date.now() + 10_000; left && Date.now() < stopAt; ) {
      await sleep(100);
      left = ourPrograms();
    }
    assert.equal(left, 0, 'no BPF program of ours left attached');
  } finally {
    spawnSync('tmux', ['kill-session', '-t', session]);
  }
});
