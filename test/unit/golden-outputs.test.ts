// Pins what `report`, `export` (Perfetto and NDJSON), `replay` and `stat` print for one
// fixed recording (test/fixtures/recordings/mixed.uscope) against golden files
// in test/fixtures/golden/. A difference is either a bug fix, named in the
// commit that regenerates them (GOLDEN_UPDATE=1 node --test this file), or a
// bug. `stat` traces live; here it is fed the recording's records through
// its session seam, with the recording's own counters and clock.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { projectRoot } from '../../src/paths.js';
import { openRecording } from '../../src/recording/reader.js';
import { recordingUapi } from '../../src/source/recordingSource.js';
import type { SessionResult } from '../../src/capture/session.js';
import type { CaptureInfo, LiveCapture, LostCounts } from '../../src/capture/liveCapture.js';
import { runStat, type StatDeps, type StatOptions } from '../../src/cli/stat.js';

const REC = 'test/fixtures/recordings/mixed.uscope';
const GOLDEN = join(projectRoot, 'test', 'fixtures', 'golden');
const UPDATE = process.env.GOLDEN_UPDATE === '1';
const dir = mkdtempSync(join(tmpdir(), 'uffdscope-golden-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Compares `actual` with the golden file `name` (or writes it with GOLDEN_UPDATE=1). */
function golden(name: string, actual: string | Buffer): void {
  const path = join(GOLDEN, name);
  if (UPDATE) {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  assert.ok(existsSync(path), `${path} missing: generate it with GOLDEN_UPDATE=1`);
  if (typeof actual === 'string') assert.equal(actual, readFileSync(path, 'utf8'), `${name} differs from its golden file`);
  else assert.ok(actual.equals(readFileSync(path)), `${name} differs from its golden file`);
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex') + '\n';
}

/** Runs the CLI from the project root (the recording's path is relative, as a user gives it). */
function cli(args: string[]): { stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(projectRoot, 'bin', 'uffdscope'), ...args], { cwd: projectRoot, encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `uffdscope ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr.split(dir).join('OUT') };
}

test('report: table and summary JSON', () => {
  const table = cli(['report', REC]);
  golden('mixed.report.txt', table.stdout);
  assert.equal(table.stderr, '');
  const json = cli(['report', REC, '--json']);
  golden('mixed.report.json', json.stdout);
});

test('export --format perfetto: the trace (sha256) and what it says on stderr', () => {
  const out = join(dir, 'mixed.pftrace');
  const r = cli(['export', REC, '--format', 'perfetto', '-o', out]);
  golden('mixed.perfetto.sha256', sha256(readFileSync(out)));
  golden('mixed.perfetto.stderr.txt', r.stderr);
});

test('export --format ndjson: every line, and what it says on stderr', () => {
  const out = join(dir, 'mixed.ndjson');
  const r = cli(['export', REC, '--format', 'ndjson', '-o', out]);
  const text = readFileSync(out, 'utf8');
  if (UPDATE) golden('mixed.ndjson.gz', gzipSync(text, { level: 9 }));
  else assert.equal(text, gunzipSync(readFileSync(join(GOLDEN, 'mixed.ndjson.gz'))).toString('utf8'), 'mixed.ndjson differs from its golden file');
  golden('mixed.ndjson.stderr.txt', r.stderr);
});

test('replay, not on a terminal: played to the end, one table', () => {
  const r = cli(['replay', REC]);
  golden('mixed.replay.txt', r.stdout);
  assert.equal(r.stderr, '');
});

/** runStat on the recording: its records as the session's batches, its counters and clock. */
async function statOfRecording(perFault: boolean, extra: Partial<StatOptions> = {}): Promise<{ stdout: string; stderr: string; json: string }> {
  const rec = openRecording(join(projectRoot, REC));
  const status = rec.status();
  // recordings made before the in-kernel engine have no per-fault ioctl counts
  const counters = { ...(status.counters as unknown as LostCounts) };
  counters.fastIoctls ??= [];
  const info = { backend: rec.header.backend, hostWide: rec.header.selection.hostWide, blockDetection: rec.header.extra?.blockDetection } as unknown as CaptureInfo;
  const times = [rec.header.clock.startedAtBootNs, Number(status.trailer?.endedAtBootNs)];
  const deps: StatDeps = {
    recordAbi: rec.header.recordAbi,
    now: () => (times.length > 1 ? times.shift()! : times[0]),
    session: async (opts, onBatch): Promise<SessionResult> => {
      opts.onOpen?.({ info } as LiveCapture);
      for (const c of rec.chunks()) if (c.kind === 1) onBatch(Buffer.from(c.payload.buffer, c.payload.byteOffset, c.payload.byteLength), c.count);
      return { reason: 'command-exited', counters, info, commandExit: { code: 0, signal: null } };
    },
  };
  const jsonOut = join(dir, `stat-${perFault}.json`);
  const chunks: string[] = [];
  const errChunks: string[] = [];
  const write = process.stdout.write;
  const writeErr = process.stderr.write;
  process.stdout.write = ((s: string) => {
    chunks.push(String(s));
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => {
    errChunks.push(String(s));
    return true;
  }) as typeof process.stderr.write;
  try {
    await runStat({ pid: [], command: rec.header.selection.command ?? [], perFault, jsonOut, uapi: recordingUapi(rec.header, null), ...extra }, deps);
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
  }
  return { stdout: chunks.join(''), stderr: errChunks.join(''), json: readFileSync(jsonOut, 'utf8') };
}

test('stat --per-fault: table and summary JSON of the recording', async () => {
  const r = await statOfRecording(true);
  golden('mixed.stat-per-fault.txt', r.stdout);
  golden('mixed.stat-per-fault.json', r.json);
});

test('stat (counted in the kernel): the streamed part of the recording, no kernel counts', async () => {
  const r = await statOfRecording(false);
  golden('mixed.stat-kernel.txt', r.stdout);
  golden('mixed.stat-kernel.json', r.json);
});

test('stat --hist: the same table, then the total-latency histogram of every timed fault', async () => {
  const plain = await statOfRecording(true);
  const r = await statOfRecording(true, { hist: true });
  assert.ok(r.stdout.startsWith(plain.stdout), 'the table is unchanged');
  const hist = r.stdout.slice(plain.stdout.length).trimEnd().split('\n');
  assert.equal(hist[0], 'total latency (ns): fault to back on a CPU');
  const counts = hist.slice(1).map((l) => Number(/^\[[^)]+\)\s+(\d+) \|@*\s*\|$/.exec(l)![1]));
  const summary = JSON.parse(r.json) as { latency_ns: { fault: { count: number } }; latency_hist_log2_ns: Array<{ stage: string; buckets: Array<{ count: number }> }> };
  assert.equal(counts.reduce((a, b) => a + b, 0), summary.latency_ns.fault.count);
  // the JSON carries what was drawn
  assert.deepEqual(summary.latency_hist_log2_ns.map((h) => [h.stage, h.buckets.map((b) => b.count)]), [['total', counts]]);
});

test('stat --json: the summary JSON alone on stdout (the --json-out file\'s text), the table on stderr; either engine', async () => {
  for (const perFault of [true, false]) {
    const plain = await statOfRecording(perFault);
    const r = await statOfRecording(perFault, { json: true });
    assert.equal(r.stdout, r.json);
    assert.equal(r.stderr, plain.stderr + plain.stdout);
  }
});

test('stat says once on stderr what it traces and how to stop (the recording traced a command)', async () => {
  const rec = openRecording(join(projectRoot, REC));
  const cmd = rec.header.selection.command ?? [];
  assert.ok(cmd.length > 0);
  const r = await statOfRecording(false);
  assert.equal(r.stderr, `uffdscope: tracing \`${cmd.join(' ')}\` and its descendants; Ctrl-C to stop\n`);
});
