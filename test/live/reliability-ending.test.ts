// Live, reliability: however the process ends, nothing is left behind. Not
// the signals (cleanup.test.ts has SIGINT/SIGTERM/SIGHUP/SIGKILL of record)
// but the other ways: an uncaught exception or unhandled rejection after the
// capture started (what an exception thrown inside a TUI view does to the
// process), its terminal closed under it (tmux session killed), its output
// pipe closed by the reader (`top | head`). Afterwards no BPF program or map
// of ours is loaded and the command it ran is not left running.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { recordsOnDisk, requireLive, signalIfAlive, tmp, workloadBinary } from './support.js';
import { skipOrFail } from '../fixtures/skipOrFail.js';
import { alive, assertOneLineError, bpfIdsOf, childrenOf, cli, idsLeft, pidsByArgv0, runProgram, waitBpfIds, waitFor, type BpfIds } from '../fixtures/reliability/harness.js';
import { projectRoot } from '../../src/paths.js';
import { openRecording } from '../../src/recording/reader.js';

const dist = (m: string) => JSON.stringify(pathToFileURL(join(projectRoot, 'dist', m)).href);

/** Pids of processes whose command line contains `tag`. */
function pidsWith(tag: string): number[] {
  const r = spawnSync('pgrep', ['-f', '--', tag], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean).map(Number).filter((p) => p !== process.pid);
}

function killAll(pids: number[]): void {
  for (const p of pids) {
    signalIfAlive(p, 'SIGKILL');
  }
}

/**
 * A process that opens a capture the way record/stat/top do (runSession,
 * running the bundled workload, looping, as its command), then fails in
 * `how`. The workload gets a unique --json path: that is how we find it.
 */
function crashScript(how: string, tag: string): string {
  return `
import { readdirSync, readFileSync } from 'node:fs';
import { runSession } from ${dist('src/capture/session.js')};
import { captureOptions } from ${dist('src/capture/captureOptions.js')};
import { resolveUapi } from ${dist('src/events/uapi.js')};
const how = ${JSON.stringify(how)};
const uapi = resolveUapi();
let batches = 0;
const opts = {
  capture: { ...captureOptions({ pid: [], command: [${JSON.stringify(workloadBinary)}, '--scenario', 'mixed', '--loops', '0', '--pages', '64', '--quiet', '--json', ${JSON.stringify(tag)}], uapi }), commandStdio: 'ignore' },
  tickMs: 200,
  onTick: () => {
    if (how === 'view-throws' && batches > 0) throw new Error('a view threw while rendering');
    if (how === 'exit-in-view' && batches > 0) process.exit(7);
  },
  onOpen: () => {
    const ids = { progs: [], maps: [] };
    for (const fd of readdirSync('/proc/self/fdinfo')) {
      let info = '';
      try { info = readFileSync('/proc/self/fdinfo/' + fd, 'utf8'); } catch { continue; }
      const p = /^prog_id:\\s+(\\d+)/m.exec(info);
      const m = /^map_id:\\s+(\\d+)/m.exec(info);
      if (p && !ids.progs.includes(+p[1])) ids.progs.push(+p[1]);
      if (m && !ids.maps.includes(+m[1])) ids.maps.push(+m[1]);
    }
    process.stdout.write('attached ' + JSON.stringify(ids) + '\\n');
    if (how === 'throw-after-open') setTimeout(() => { throw new Error('boom after open'); }, 500);
    if (how === 'rejection') setTimeout(() => { Promise.reject(new Error('unhandled rejection')); }, 500);
  },
};
await runSession(opts, () => {
  batches++;
  if (how === 'batch-throws' && batches === 3) throw new Error('a consumer threw on a batch');
});
process.stdout.write('session ended normally\\n');
`;
}

for (const how of ['throw-after-open', 'rejection', 'view-throws', 'batch-throws', 'exit-in-view']) {
  test(`${how}: the process dies, no program left attached, the command does not outlive it`, { timeout: 60_000 }, async (t) => {
    if (!requireLive(t)) return;
    const tag = tmp(`crash-${how}.json`);
    const script = tmp('crash.mjs');
    writeFileSync(script, crashScript(how, tag));
    try {
      const r = await runProgram(process.execPath, [script], { timeoutMs: 30_000 });
      assert.equal(r.timedOut, false, `${how}: the process did not end: ${r.stderr}`);
      const m = /^attached (.*)$/m.exec(r.stdout);
      assert.ok(m, `${how}: the capture opened: ${r.stderr}`);
      const ids = JSON.parse(m[1]) as BpfIds;
      assert.ok(ids.progs.length > 0 && ids.maps.length > 0, `${how}: it held programs and maps: ${m[1]}`);
      if (how === 'exit-in-view') assert.equal(r.code, 7);
      else {
        assert.notEqual(r.code, 0, `${how}: the process failed`);
        assert.doesNotMatch(r.stdout, /session ended normally/);
      }
      const left = await idsLeft(ids);
      assert.deepEqual(left, { progs: [], maps: [] }, `${how}: its programs and maps are gone from the kernel`);
      // the workload finishes its current run on SIGTERM, then exits
      const gone = await waitFor(() => pidsWith(tag).length === 0, 10_000);
      assert.ok(gone, `${how}: the command it ran is still running: ${pidsWith(tag).join(' ')}`);
    } finally {
      killAll(pidsWith(tag));
    }
  });
}

/**
 * `top` as src/cli/top.ts wires it (runSession + TopModel + SnapshotPublisher
 * + runTui, the UI's end aborting the session), except that after 1.5 s the
 * snapshot the views get is broken (its lists are null): a view throws while
 * rendering. Writes its BPF ids to argv[2] once attached.
 */
function tuiCrashScript(tag: string, idsFile: string): string {
  return `
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { runSession } from ${dist('src/capture/session.js')};
import { captureOptions } from ${dist('src/capture/captureOptions.js')};
import { bootTimeNs } from ${dist('src/capture/liveCapture.js')};
import { LIVE_RECORD_ABI, RecordStream } from ${dist('src/events/recordStream.js')};
import { TopModel } from ${dist('src/view/topModel.js')};
import { SnapshotPublisher } from ${dist('src/view/snapshotPublisher.js')};
import { resolveUapi } from ${dist('src/events/uapi.js')};
import { runTui } from ${dist('tui/run.js')};
const uapi = resolveUapi();
const model = new TopModel(uapi, { kernel: os.release(), backend: 'tracepoint', source: 'live', generated: false, demo: true, selection: 'test' });
const stream = new RecordStream(uapi, LIVE_RECORD_ABI, (e) => model.push(e));
const abort = new AbortController();
let ui = null;
let publisher = null;
const started = bootTimeNs();
const bootOffset = bootTimeNs() - Number(process.hrtime.bigint());
await runSession(
  {
    capture: { ...captureOptions({ pid: [], command: [${JSON.stringify(workloadBinary)}, '--scenario', 'mixed', '--loops', '0', '--pages', '64', '--quiet', '--json', ${JSON.stringify(tag)}], uapi }), commandStdio: 'ignore' },
    abort: abort.signal,
    onOpen: (cap) => {
      const ids = { progs: [], maps: [] };
      for (const fd of readdirSync('/proc/self/fdinfo')) {
        let info = '';
        try { info = readFileSync('/proc/self/fdinfo/' + fd, 'utf8'); } catch { continue; }
        const p = /^prog_id:\\s+(\\d+)/m.exec(info);
        const m = /^map_id:\\s+(\\d+)/m.exec(info);
        if (p && !ids.progs.includes(+p[1])) ids.progs.push(+p[1]);
        if (m && !ids.maps.includes(+m[1])) ids.maps.push(+m[1]);
      }
      writeFileSync(${JSON.stringify(idsFile)}, JSON.stringify(ids));
      publisher = new SnapshotPublisher(() => model, {
        now: () => Number(process.hrtime.bigint()) + bootOffset,
        lost: () => cap.counters().lostTotal,
        uptimeS: () => (bootTimeNs() - started) / 1e9,
      });
      publisher.start();
      const t0 = Date.now();
      const source = Object.create(publisher);
      source.current = () => {
        const snap = publisher.current();
        return Date.now() - t0 < 1500 ? snap : { ...snap, uffds: null, events: null, latency: null, timeline: null };
      };
      ui = runTui(source).finally(() => abort.abort());
    },
  },
  (batch, count) => stream.push(batch, count),
);
stream.end();
publisher?.stop();
if (ui) await ui;
process.stdout.write('ended normally\\n');
`;
}

function tmux(...args: string[]): string {
  const r = spawnSync('tmux', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The node process running `top --demo` under a tmux pane (the pane's shell or a child of it). */
function topPid(panePid: number): number | null {
  const isTop = (p: number) => {
    try {
      return /top\0--demo/.test(readFileSync(`/proc/${p}/cmdline`, 'utf8'));
    } catch {
      return false;
    }
  };
  if (isTop(panePid)) return panePid;
  for (const c of childrenOf(panePid)) if (isTop(c)) return c;
  return null;
}

test('top --demo: the terminal goes away (tmux session killed) -> it exits, detaches, ends the workload', { timeout: 60_000 }, async (t) => {
  if (!requireLive(t)) return;
  if (spawnSync('tmux', ['-V']).status !== 0) return skipOrFail(t, 'tmux is not installed (scripts/setup.sh installs it)');
  const session = `uscope-rel-hup-${process.pid}`;
  tmux('new-session', '-d', '-s', session, '-x', '100', '-y', '30', `${process.execPath} ${cli} top --demo`);
  let top: number | null = null;
  let workload: number[] = [];
  let ids: BpfIds = { progs: [], maps: [] };
  try {
    const pane = Number(tmux('list-panes', '-t', session, '-F', '#{pane_pid}').trim());
    await waitFor(() => (top = topPid(pane)) !== null, 10_000);
    assert.ok(top, 'top is running in the pane');
    ids = await waitBpfIds(top!);
    assert.ok(ids.progs.length > 0, 'programs attached');
    await waitFor(() => (workload = childrenOf(top!)).length > 0, 10_000);
    assert.ok(workload.length > 0, 'the demo workload runs under top');
    await sleep(1000);
  } finally {
    spawnSync('tmux', ['kill-session', '-t', session]);
  }
  const exited = await waitFor(() => !alive(top!), 10_000);
  assert.ok(exited, 'top still running after its terminal went away');
  const left = await idsLeft(ids);
  assert.deepEqual(left, { progs: [], maps: [] }, 'its programs and maps are gone from the kernel');
  const wgone = await waitFor(() => workload.every((p) => !alive(p)), 10_000);
  killAll(workload.filter(alive));
  assert.ok(wgone, `the demo workload outlived top: ${workload.join(' ')}`);
});

test('top --demo | head: the reader closes the pipe -> it ends cleanly (no stack trace), detaches, ends the workload', { timeout: 60_000 }, async (t) => {
  if (!requireLive(t)) return;
  const mark = tmp('pipe-top');
  // `exec -a` tags the node process so the test finds it; its children are the workload
  // the reader starts reading after 3 s, so the test sees top attached first however slow its start
  const sh = `(bash -c "exec -a ${mark} '${process.execPath}' '${cli}' top --demo --interval 1"; echo "top-exit=$?" >&2) | (sleep 3; head -n 2 >/dev/null)`;
  const run = runProgram('bash', ['-c', sh], { timeoutMs: 40_000 });
  let workload: number[] = [];
  let top: number | null = null;
  let ids: BpfIds = { progs: [], maps: [] };
  await waitFor(() => {
    top = pidsByArgv0(mark)[0] ?? null;
    if (top) {
      workload = [...new Set([...workload, ...childrenOf(top)])];
      const now = bpfIdsOf(top);
      if (now.progs.length > ids.progs.length) ids = now;
    }
    return top !== null && workload.length > 0 && ids.progs.length > 0;
  }, 10_000);
  assert.ok(ids.progs.length > 0, 'top attached its programs');
  const r = await run;
  await waitFor(() => {
    if (top && alive(top)) workload = [...new Set([...workload, ...childrenOf(top)])];
    return !top || !alive(top);
  }, 10_000);
  assert.equal(r.timedOut, false, `hung: ${r.stderr}`);
  assert.ok(!top || !alive(top), 'top still running after its reader went away');
  assert.doesNotMatch(r.stderr, /EPIPE|^\s+at |Error:/m, `stack trace: ${r.stderr}`);
  assert.match(r.stderr, /top-exit=0/, `exit status: ${r.stderr}`);
  const left = await idsLeft(ids);
  assert.deepEqual(left, { progs: [], maps: [] }, 'its programs and maps are gone from the kernel');
  const wgone = await waitFor(() => workload.every((p) => !alive(p)), 10_000);
  killAll(workload.filter(alive));
  assert.ok(wgone, `the demo workload outlived top: ${workload.join(' ')}`);
});

test('a TUI view throws while rendering (top wiring, in a terminal): the process ends, detaches, ends the workload', { timeout: 60_000 }, async (t) => {
  if (!requireLive(t)) return;
  if (spawnSync('tmux', ['-V']).status !== 0) return skipOrFail(t, 'tmux is not installed (scripts/setup.sh installs it)');
  const tag = tmp('tui-crash.json');
  const idsFile = tmp('tui-ids.json');
  const done = tmp('tui-exit');
  const script = tmp('tui-crash.mjs');
  writeFileSync(script, tuiCrashScript(tag, idsFile));
  const session = `uscope-rel-view-${process.pid}`;
  tmux('new-session', '-d', '-s', session, '-x', '100', '-y', '30', `${process.execPath} ${script} 2>${done}.err; echo $? > ${done}`);
  try {
    const ended = await waitFor(() => existsSync(done), 20_000);
    const err = existsSync(`${done}.err`) ? readFileSync(`${done}.err`, 'utf8') : '';
    assert.ok(ended, `the process did not end after its view threw: ${err}`);
    assert.notEqual(readFileSync(done, 'utf8').trim(), '0', `it failed (a view threw): ${err}`);
    assert.ok(existsSync(idsFile), `the capture opened: ${err}`);
    const ids = JSON.parse(readFileSync(idsFile, 'utf8')) as BpfIds;
    assert.ok(ids.progs.length > 0);
    assert.deepEqual(await idsLeft(ids), { progs: [], maps: [] }, 'its programs and maps are gone from the kernel');
    const gone = await waitFor(() => pidsWith(tag).length === 0, 10_000);
    assert.ok(gone, `the workload outlived it: ${pidsWith(tag).join(' ')}`);
  } finally {
    spawnSync('tmux', ['kill-session', '-t', session]);
    killAll(pidsWith(tag));
  }
});

/** A module (--import) that makes the real CLI throw, uncaught, once the
 *  file `trigger` exists: the test makes it when it has seen what it needs
 *  (records on disk, the workload started), which a fixed time after the
 *  attach did not promise on a slow machine. */
function injector(trigger: string): string {
  const f = tmp('inject.mjs');
  writeFileSync(
    f,
    [
      "import { existsSync } from 'node:fs';",
      'const poll = setInterval(() => {',
      `  if (!existsSync(${JSON.stringify(trigger)})) return;`,
      '  clearInterval(poll);',
      "  throw new Error('injected failure after start');",
      '}, 50);',
      'poll.unref();',
      '',
    ].join('\n'),
  );
  return pathToFileURL(f).href;
}

test('record: an uncaught exception after capture started -> one line, exit 4, file readable, nothing attached, command ended', { timeout: 60_000 }, async (t) => {
  if (!requireLive(t)) return;
  const file = tmp('inject.uscope');
  const tag = tmp('inject-truth.json');
  const trigger = tmp('inject-now');
  const child = spawn(process.execPath, ['--import', injector(trigger), cli, 'record', '-o', file, '--', workloadBinary, '--scenario', 'mixed', '--loops', '0', '--pages', '64', '--quiet', '--json', tag], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  // the one error line is checked whole: at 'exit' some of stderr may be unread
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  let ids = await waitBpfIds(child.pid!);
  // thrown once a complete chunk of records is on disk (or after 20 s: then the records check below fails)
  await waitFor(() => recordsOnDisk(file) > 0 || child.exitCode !== null, 20_000);
  const all = bpfIdsOf(child.pid!); // every program by now, not only the first seen
  if (all.progs.length > ids.progs.length) ids = all;
  writeFileSync(trigger, '');
  const code = await Promise.race([exit, sleep(30_000, undefined, { ref: false }).then(() => 'timeout' as const)]);
  try {
    assert.notEqual(code, 'timeout', `record did not end: ${stderr}`);
    await Promise.race([closed, sleep(10_000, undefined, { ref: false })]);
    const ours = stderr.split('\n').filter((l) => !l.startsWith('uffd-workload:')).join('\n');
    assertOneLineError({ code: code as number, signal: null, stdout: '', stderr: ours, ms: 0, timedOut: false }, 4, /internal error: injected failure/, 'record');
    assert.ok(ids.progs.length > 0, 'programs were attached');
    assert.deepEqual(await idsLeft(ids), { progs: [], maps: [] }, 'its programs and maps are gone from the kernel');
    assert.ok(await waitFor(() => pidsWith(tag).length === 0, 10_000), 'the workload was ended');
    const st = openRecording(file).status();
    assert.equal(st.complete, false, 'no trailer');
    assert.ok(st.records > 0, 'what was recorded before is readable');
  } finally {
    killAll(pidsWith(tag));
  }
});

test('top --demo in a terminal: an uncaught exception -> one line, exit 4, nothing attached, workload ended', { timeout: 60_000 }, async (t) => {
  if (!requireLive(t)) return;
  if (spawnSync('tmux', ['-V']).status !== 0) return skipOrFail(t, 'tmux is not installed (scripts/setup.sh installs it)');
  const done = tmp('inject-top-exit');
  const session = `uscope-rel-inject-${process.pid}`;
  const trigger = tmp('inject-top-now');
  tmux('new-session', '-d', '-s', session, '-x', '100', '-y', '30', `${process.execPath} --import ${injector(trigger)} ${cli} top --demo 2>${done}.err; echo $? > ${done}`);
  let workload: number[] = [];
  let ids: BpfIds = { progs: [], maps: [] };
  try {
    const pane = Number(tmux('list-panes', '-t', session, '-F', '#{pane_pid}').trim());
    let top: number | null = null;
    await waitFor(() => (top = topPid(pane)) !== null, 10_000);
    assert.ok(top, 'top runs in the pane');
    ids = await waitBpfIds(top!);
    await waitFor(() => (workload = childrenOf(top!)).length > 0, 10_000);
    const all = bpfIdsOf(top!); // every program by now, not only the first seen
    if (all.progs.length > ids.progs.length) ids = all;
    // thrown once the demo workload is seen running (or after 10 s: then the workload check below fails)
    writeFileSync(trigger, '');
    const ended = await waitFor(() => existsSync(done), 20_000);
    assert.ok(ended, 'top did not end');
  } finally {
    spawnSync('tmux', ['kill-session', '-t', session]);
  }
  // (the terminal's cursor is shown again on exit: an escape sequence, not a line)
  const err = readFileSync(`${done}.err`, 'utf8').replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
  assertOneLineError({ code: Number(readFileSync(done, 'utf8')), signal: null, stdout: '', stderr: err, ms: 0, timedOut: false }, 4, /internal error: injected failure/, 'top --demo');
  assert.ok(ids.progs.length > 0, 'programs were attached');
  assert.deepEqual(await idsLeft(ids), { progs: [], maps: [] }, 'its programs and maps are gone from the kernel');
  const gone = await waitFor(() => workload.every((p) => !alive(p)), 10_000);
  killAll(workload.filter(alive));
  assert.ok(workload.length > 0 && gone, `the demo workload outlived top: ${workload.join(' ')}`);
});
