// Reliability, bad input: no input crashes uffdscope. Damaged, cut, foreign
// and random recordings given to `report`, `report --json` and `replay`
// (stdout not a terminal); bad arguments; missing files, directories,
// FIFOs; no privileges. Every failure is the documented exit code and ONE
// stderr line starting "uffdscope: " that names the problem, with no stack
// trace, within a few seconds. Every success on a damaged file says it is
// damaged, on stderr whatever the output format, and in the summary JSON
// (nothing lost silently); `check` refuses it unless --allow-damaged. Runs without root (the no-privilege cases
// need root only to become user nobody; as another user they run as is).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertNoStack, assertOneLineError, cli, pool, runCli, runProgram, type CliRun } from '../fixtures/reliability/harness.js';
import { RecordingWriter, BUILD_RECORD_ABI, openRecording, type RecordingHeader } from '../../src/recording/index.js';
import { damageWarning } from '../../src/recording/damage.js';
import { crc32, encodePreamble } from '../../src/recording/format.js';
import { L } from '../../src/events/layout.abi1.generated.js';
import { analyzeRecording } from '../../src/pipeline/recordingPipeline.js';
import { recordingInputError } from '../../src/source/recordingSource.js';
import { ReplayDriver } from '../../src/view/replayDriver.js';
import { SnapshotPublisher } from '../../src/view/snapshotPublisher.js';
import { renderPlain } from '../../tui/plainTable.js';
import { formatSummaryTable } from '../../src/stats/summaryText.js';
import { prng } from '../../src/simulate/modeToggle.js';
import { skipOrFail } from '../fixtures/skipOrFail.js';
import { rechunk } from '../fixtures/recordings/rechunk.js';

const dir = mkdtempSync(join(tmpdir(), 'uscope-rel-input-'));
chmodSync(dir, 0o755); // user nobody reads some files here
test.after(() => rmSync(dir, { recursive: true, force: true }));
const p = (name: string) => join(dir, name);

const isRoot = process.getuid?.() === 0;
const hasSetpriv = spawnSync('setpriv', ['--version']).status === 0;

// ---------------------------------------------------------------- recordings

function header(over: Partial<RecordingHeader> = {}): RecordingHeader {
  return {
    format: 1,
    recordAbi: 1,
    tool: { name: 'uffdscope', version: 'test' },
    kernel: { release: '6.8.0', version: '#1', machine: 'x86_64' },
    hostname: 'h',
    clock: { name: 'boottime', bootToRealtimeOffsetNs: 1.7e18, startedAtBootNs: 1e9 },
    createdAt: '2025-01-01T00:00:00.000Z',
    backend: 'tracepoint',
    selection: { pids: [], command: ['x'], hostWide: false },
    uapi: {},
    generated: { generator: 'reliability-test', scenario: 'random', seed: 0 },
    extra: {},
    ...over,
  };
}


const SIZES: Record<number, number> = {
  1: L.uscope_fault.size,
  2: L.uscope_block.size,
  3: L.uscope_wake.size,
  4: L.uscope_resume.size,
  5: L.uscope_ioctl.size,
  6: L.uscope_ioctl.size,
  7: L.uscope_msg.size,
  8: L.uscope_uffd_create.size,
  9: L.uscope_uffd_close.size,
  10: L.uscope_proc.size,
};
const CMDS = [0xc018aa3f, 0xc020aa00, 0x8010aa01, 0x8010aa02, 0xc028aa03, 0xc020aa04, 0xc018aa06, 0xc020aa07, 0x4010aa0a, 0xc018aa09, 0xc028aa05, 0x1234aa99];

/**
 * A recording whose chunks are all valid (checksums right) but whose records
 * are random: 'raw' = random bytes with a plausible size, 'plausible' = the
 * right layouts with random content over a few threads, uffds and pages.
 */
function randomRecording(path: string, seed: number, mode: 'raw' | 'plausible'): void {
  const r = prng(seed);
  const ri = (n: number) => Math.floor(r() * n);
  const w = RecordingWriter.create(path, header({ generated: { generator: 'reliability-test', scenario: mode, seed } }), { overwrite: true, chunkBytes: 4096 });
  let ts = 1e9;
  const n = 1 + ri(2500);
  for (let i = 0; i < n; i++) {
    const type = mode === 'raw' ? ri(14) : 1 + ri(10);
    const size = (SIZES[type] ?? 40 + 8 * ri(12)) + (ri(4) === 0 ? 8 * ri(4) : 0);
    const b = Buffer.alloc(size);
    for (let j = 0; j < size; j++) b[j] = ri(256);
    b.writeUInt16LE(type, 0);
    b.writeUInt16LE(size, 2);
    if (mode === 'plausible') {
      ts = Math.max(0, ts + (ri(3) === 0 ? -ri(1e5) : ri(2e6)));
      b.writeBigUInt64LE(BigInt(ts), 8);
      b.writeUInt32LE(100 + ri(4), 16);
      b.writeUInt32LE(100 + ri(8), 20);
      const put = (off: number, v: bigint) => off + 8 <= size && b.writeBigUInt64LE(BigInt.asUintN(64, v), off);
      const uffd = 0xffff888000000000n + BigInt(ri(3) * 4096);
      const addr = 0x7f0000000000n + BigInt(ri(16) * 4096 + ri(4096));
      if (type === 1) (put(40, addr), put(56, BigInt(ri(8))), put(64, uffd));
      else if (type >= 2 && type <= 4) (put(40, addr), put(48, uffd), put(56, BigInt(Math.max(0, ts - ri(1e6)))));
      else if (type === 5 || type === 6) (put(40, uffd), put(48, BigInt(CMDS[ri(CMDS.length)])));
      else if (type >= 7 && type <= 9) put(40, uffd);
    }
    w.append(b, 1);
  }
  if (ri(2)) w.close({ endedAtBootNs: ts + 1e6, reason: 'completed' });
  else w.abort();
}

// A real-looking recording to damage: `uffdscope simulate` (no root needed).
const sim = p('sim.uscope');
let simBytes: Buffer;

test('setup: a generated recording reads as complete', { timeout: 30_000 }, async () => {
  const r = await runCli(['simulate', '-s', 'mode-toggle', '-o', sim, '-d', '2', '--fault-rate', '50', '--seed', '7'], { timeoutMs: 20_000 });
  assert.equal(r.code, 0, r.stderr);
  simBytes = readFileSync(sim);
  const rep = await runCli(['report', '--json', sim]);
  assert.equal(rep.code, 0, rep.stderr);
  const s = JSON.parse(rep.stdout);
  assert.equal(s.source.complete, true);
  assert.deepEqual(s.source.damage, []);
  assert.equal(rep.stderr, '', 'no warning for an intact recording');
  assert.ok(s.events.received > 100, 'events in the generated recording');
});

interface Damaged {
  name: string;
  bytes: () => Buffer;
  /** the file cannot be read at all: exit 2 */
  unreadable?: boolean;
}

function flip(at: (b: Buffer) => number, bit = 0): () => Buffer {
  return () => {
    const b = Buffer.from(simBytes);
    const i = at(b);
    b[i] ^= 1 << bit;
    return b;
  };
}

const hdrLen = () => simBytes.readUInt32LE(12);
const dataOffset = () => {
  const end = 16 + hdrLen() + 4;
  return end + ((8 - (end & 7)) & 7);
};

const DAMAGED: Damaged[] = [
  { name: 'empty file', bytes: () => Buffer.alloc(0), unreadable: true },
  { name: 'one byte', bytes: () => simBytes.subarray(0, 1), unreadable: true },
  { name: 'magic only', bytes: () => simBytes.subarray(0, 8), unreadable: true },
  { name: 'cut inside the fixed preamble', bytes: () => simBytes.subarray(0, 13), unreadable: true },
  { name: 'cut inside the header JSON', bytes: () => simBytes.subarray(0, 16 + (hdrLen() >> 1)), unreadable: true },
  { name: 'cut before the header checksum', bytes: () => simBytes.subarray(0, 16 + hdrLen() + 2), unreadable: true },
  { name: 'header only, no chunk', bytes: () => simBytes.subarray(0, dataOffset()) },
  { name: 'cut inside the first chunk header', bytes: () => simBytes.subarray(0, dataOffset() + 20) },
  { name: 'cut inside the first chunk payload', bytes: () => simBytes.subarray(0, dataOffset() + 300) },
  { name: 'cut at 50%', bytes: () => simBytes.subarray(0, simBytes.length >> 1) },
  { name: 'cut 8 bytes before the end (trailer damaged)', bytes: () => simBytes.subarray(0, simBytes.length - 8) },
  { name: 'format version 0', bytes: () => Buffer.concat([simBytes.subarray(0, 8), Buffer.from([0, 0, 0, 0]), simBytes.subarray(12)]), unreadable: true },
  { name: 'format version 2 (newer)', bytes: () => Buffer.concat([simBytes.subarray(0, 8), Buffer.from([2, 0, 0, 0]), simBytes.subarray(12)]), unreadable: true },
  { name: 'format version 0xffffffff', bytes: () => Buffer.concat([simBytes.subarray(0, 8), Buffer.from([255, 255, 255, 255]), simBytes.subarray(12)]), unreadable: true },
  { name: 'header length 0xffffffff', bytes: () => Buffer.concat([simBytes.subarray(0, 12), Buffer.from([255, 255, 255, 255]), simBytes.subarray(16)]), unreadable: true },
  { name: 'bit flip in the magic', bytes: flip(() => 3), unreadable: true },
  { name: 'bit flip in the header JSON', bytes: flip(() => 16 + 10, 1), unreadable: true },
  { name: 'bit flip in the header checksum', bytes: flip(() => 16 + hdrLen()), unreadable: true },
  { name: 'bit flip in the header padding', bytes: flip(() => dataOffset() - 1), unreadable: true },
  { name: 'bit flip in the first chunk magic', bytes: flip(() => dataOffset()) },
  { name: 'bit flip in the first chunk length', bytes: flip(() => dataOffset() + 9, 3) },
  { name: 'bit flip in the first chunk payload', bytes: flip(() => dataOffset() + 32 + 50, 5) },
  { name: 'bit flip at 40%', bytes: flip((b) => Math.floor(b.length * 0.4), 2) },
  { name: 'bit flip at 80%', bytes: flip((b) => Math.floor(b.length * 0.8), 7) },
  { name: 'bit flip in the trailer', bytes: flip((b) => b.length - 20, 0) },
  { name: 'junk after the trailer', bytes: () => Buffer.concat([simBytes, Buffer.from('junk junk junk')]) },
  {
    name: 'text-mode transfer (CR LF -> LF)',
    bytes: () => Buffer.concat([Buffer.from('USCOPE\n', 'latin1'), simBytes.subarray(8)]),
    unreadable: true,
  },
  { name: 'zeros', bytes: () => Buffer.alloc(8192), unreadable: true },
  {
    name: 'random bytes',
    bytes: () => {
      const r = prng(99);
      return Buffer.from(Array.from({ length: 8192 }, () => Math.floor(r() * 256)));
    },
    unreadable: true,
  },
  {
    name: 'valid magic and version, random rest',
    bytes: () => {
      const r = prng(5);
      return Buffer.concat([simBytes.subarray(0, 12), Buffer.from(Array.from({ length: 4096 }, () => Math.floor(r() * 256)))]);
    },
    unreadable: true,
  },
  { name: 'a text file', bytes: () => Buffer.from('hello, this is not a recording\n'.repeat(10)), unreadable: true },
  {
    name: 'header of a newer record ABI',
    bytes: () => Buffer.concat([encodePreamble(header({ format: 2, recordAbi: BUILD_RECORD_ABI + 1 })), simBytes.subarray(dataOffset())]),
    unreadable: true,
  },
  {
    name: 'header with a bad field (clock.name)',
    bytes: () => encodePreamble({ ...header(), clock: { name: 'realtime', bootToRealtimeOffsetNs: 0, startedAtBootNs: 0 } } as unknown as RecordingHeader),
    unreadable: true,
  },
  {
    name: 'header JSON that is an array',
    bytes: () => {
      const json = Buffer.from('[1,2,3]');
      const b = Buffer.alloc(16 + json.length + 4 + 5);
      Buffer.from('USCOPE\r\n', 'latin1').copy(b, 0);
      b.writeUInt32LE(1, 8);
      b.writeUInt32LE(json.length, 12);
      json.copy(b, 16);
      // (a wrong checksum is covered above: this one is right)
      b.writeUInt32LE(crc32(json), 16 + json.length);
      return b;
    },
    unreadable: true,
  },
];

/** The damaged files run through the CLI (all three commands); every file runs in-process below. */
const THROUGH_CLI = new Set([
  'empty file',
  'cut inside the header JSON',
  'header only, no chunk',
  'cut at 50%',
  'cut 8 bytes before the end (trailer damaged)',
  'format version 2 (newer)',
  'bit flip in the header JSON',
  'bit flip in the first chunk payload',
  'bit flip at 80%',
  'junk after the trailer',
  'random bytes',
]);

test('damaged, cut, foreign and random files, in-process: an input error (exit 2) or a read up to the damage that says so', { timeout: 120_000 }, () => {
  assert.ok(simBytes, 'setup ran');
  for (const [i, d] of DAMAGED.entries()) {
    const file = p(`damaged-${i}.uscope`);
    writeFileSync(file, d.bytes());
    const what = `"${d.name}"`;
    try {
      const { summary: s } = analyzeRecording(file, null);
      assert.ok(!d.unreadable, `${what}: read although it cannot be a recording`);
      const damage = s.source!.damage as unknown[];
      assert.ok(s.source!.complete === false || damage.length > 0, `${what}: the summary says it is damaged`);
      assert.equal(s.model.open_faults, 0, `${what}: every fault ended`);
      formatSummaryTable(s);
    } catch (e) {
      assert.equal((e as { exitCode?: number }).exitCode, 2, `${what}: ${(e as Error).stack}`);
      assert.doesNotMatch((e as Error).message, /\n/, `${what}: one line`);
      assert.ok((e as Error).message.includes(file), `${what}: names the file: ${(e as Error).message}`);
    }
    try {
      const drv = new ReplayDriver(file, null, () => ({ kernel: 'k', backend: 'b', source: 'recording', generated: true, demo: false, selection: 'x' }), 1);
      drv.seek(drv.durationS + 1);
    } catch (e) {
      const err = recordingInputError(file, e) as Error & { exitCode?: number };
      assert.equal(err.exitCode, 2, `${what} replay: ${(e as Error).stack}`);
    }
  }
});

/** The warning a command must print on stderr for this recording ('' for an intact one). */
function expectedWarning(file: string): string {
  return damageWarning(file, openRecording(file).status()).map((l) => `uffdscope: ${l}\n`).join('');
}

/** stderr without export's notes about the output (GENERATED input, the file it wrote). */
const warningsOf = (stderr: string) => stderr.split(/(?<=\n)/).filter((l) => !/^uffdscope: (GENERATED|wrote) /.test(l)).join('');

/** Checks one command's outcome on a damaged file. */
function checkDamaged(d: Damaged, file: string, cmd: string[], r: CliRun): void {
  const what = `${cmd.join(' ')} on "${d.name}"`;
  if (d.unreadable || r.code !== 0) {
    assert.ok(!r.timedOut, `${what}: hung`);
    if (d.unreadable) assert.equal(r.code, 2, `${what}: cannot be read, exit 2 expected: ${r.stderr}`);
    assertOneLineError(r, 2, new RegExp(file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), what);
    assert.equal(r.stdout, '', `${what}: nothing on stdout`);
    return;
  }
  // read what could be read: exit 0, and the warning on stderr whatever the output format
  const warning = expectedWarning(file);
  assert.notEqual(warning, '', `${what}: a damaged or unfinished file has a warning`);
  assert.equal(warningsOf(r.stderr), warning, `${what}: stderr`);
  assertNoStack(r, what);
  if (cmd[0] === 'report' && cmd[1] === '--json') {
    const s = JSON.parse(r.stdout);
    assert.equal(s.schema, 'uffdscope.summary/1');
    assert.deepEqual(s.source.damage, openRecording(file).status().damage, `${what}: the summary lists the damage`);
    assert.ok(s.source.complete === false || s.source.damage.length > 0, `${what}: the summary says the file is damaged: ${JSON.stringify(s.source)}`);
    assert.equal(s.model.open_faults, 0, `${what}: every fault ended`);
  } else if (cmd[0] === 'report') {
    assert.match(r.stdout, /DAMAGED|CUT SHORT/, `${what}: the table says it is damaged`);
  } else if (cmd[0] === 'export') {
    // one line per record of every chunk read (a generated recording has no record of an unknown type)
    assert.equal(r.stdout.split('\n').filter(Boolean).length, openRecording(file).status().records, `${what}: every event read is exported`);
  } else {
    assert.ok(r.stdout.length > 0, `${what}: replay prints its table`);
  }
}

test('damaged, cut, foreign and random files through the CLI: report, report --json, replay, export', { timeout: 240_000 }, async (t) => {
  assert.ok(simBytes, 'setup ran');
  const specs: Array<{ d: Damaged; file: string; cmd: string[] }> = [];
  for (const [i, d] of DAMAGED.entries()) {
    const file = p(`damaged-${i}.uscope`);
    writeFileSync(file, d.bytes());
    const cmds = THROUGH_CLI.has(d.name) ? [['report'], ['report', '--json'], ['replay'], ['export', '--format', 'ndjson', '-o', '-']] : [];
    for (const cmd of cmds) specs.push({ d, file, cmd });
  }
  const runs = await pool(3, specs.map((s) => () => runCli([...s.cmd, s.file], { timeoutMs: 30_000 })));
  for (const [i, x] of specs.entries()) await t.test(`${x.cmd.join(' ')}: ${x.d.name}`, () => checkDamaged(x.d, x.file, x.cmd, runs[i]));
});

test('random records in valid chunks: the analysis and the replay view never throw, every fault ends', { timeout: 120_000 }, (t) => {
  // 40 seeds x 2 modes by default; USCOPE_FUZZ_RUNS (as for the format fuzz) scales it
  const runs = Math.max(5, Math.round(Number(process.env.USCOPE_FUZZ_RUNS ?? 2000) / 50));
  const file = p('random.uscope');
  let decodeErrors = 0;
  for (let seed = 1; seed <= runs; seed++) {
    for (const mode of ['raw', 'plausible'] as const) {
      randomRecording(file, seed, mode);
      const what = `seed ${seed} ${mode}`;
      try {
        const { summary: s } = analyzeRecording(file, null);
        JSON.stringify(s);
        formatSummaryTable(s);
        const ended = Object.values(s.faults.ended as Record<string, number>).reduce((a, b) => a + b, 0);
        assert.equal(ended, s.faults.entries, `${what}: every fault record has an end`);
        assert.equal(s.model.open_faults, 0, `${what}: nothing open after the end`);
      } catch (e) {
        // the only acceptable failure: a one-line input error (exit 2)
        assert.equal((e as { exitCode?: number }).exitCode, 2, `${what}: ${(e as Error).stack}`);
        assert.doesNotMatch((e as Error).message, /\n/);
        decodeErrors++;
      }
      try {
        const d = new ReplayDriver(file, null, () => ({ kernel: 'k', backend: 'b', source: 'recording', generated: true, demo: false, selection: 'x' }), 1);
        const pub = new SnapshotPublisher(
          () => d.model,
          { now: () => d.now, lost: () => 0, uptimeS: () => d.position / 1e9, replay: () => ({ positionS: d.position / 1e9, durationS: d.durationS, speed: 1, paused: false, ended: d.atEnd }) },
          100,
          {},
        );
        d.seek(d.durationS + 1);
        pub.refresh();
        assert.ok(renderPlain(pub.current()).length > 0);
        d.seek(-d.durationS / 2); // back: rebuilds from the start
        pub.refresh();
        renderPlain(pub.current());
      } catch (e) {
        // replay turns these into exit 2 (recordingInputError)
        assert.ok(['DecodeError', 'RecordingFormatError'].includes((e as Error).constructor.name), `${what} replay: ${(e as Error).stack}`);
      }
    }
  }
  t.diagnostic(`random recordings: ${runs * 2}, refused as damaged records: ${decodeErrors}`);
});

test('random records in valid chunks through the CLI: exit 0 or one-line exit 2', { timeout: 120_000 }, async (t) => {
  const specs: Array<{ file: string; cmd: string[] }> = [];
  for (const [seed, mode] of [[3, 'raw'], [4, 'plausible'], [11, 'plausible'], [12, 'raw']] as const) {
    const file = p(`random-${seed}-${mode}.uscope`);
    randomRecording(file, seed, mode);
    for (const cmd of [['report'], ['report', '--json'], ['replay']]) specs.push({ file, cmd });
  }
  const runs = await pool(4, specs.map((s) => () => runCli([...s.cmd, s.file], { timeoutMs: 30_000 })));
  for (const [i, sp] of specs.entries()) {
    const r = runs[i];
    const what = `${sp.cmd.join(' ')} ${sp.file}`;
    await t.test(what, () => {
      if (r.code === 0) {
        assert.equal(r.stderr, expectedWarning(sp.file), `${what}: only the warning for a recording without a trailer`);
        if (sp.cmd[1] === '--json') JSON.parse(r.stdout);
      } else assertOneLineError(r, 2, /damaged|recording/, what);
    });
  }
});

// ---------------------------------------------------------------- arguments

/** A pid that no process has now. */
function freePid(): number {
  const max = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
  for (let pid = max - 1; pid > 1000; pid--) if (!existsSync(`/proc/${pid}`)) return pid;
  throw new Error('no free pid');
}

interface ArgCase {
  args: string[];
  code: number;
  names: RegExp;
}

test('bad arguments, files and paths: documented exit code, one line naming the problem', { timeout: 180_000 }, async (t) => {
  const existing = p('exists.uscope');
  writeFileSync(existing, 'x');
  const adir = p('a-directory');
  mkdirSync(adir, { recursive: true });
  const fifo = p('a-fifo');
  spawnSync('mkfifo', [fifo]);
  chmodSync(fifo, 0o644);
  const out = p('never-written.uscope');
  const nopid = String(freePid());
  const cases: ArgCase[] = [
    { args: ['bogus'], code: 2, names: /unknown command 'bogus'/ },
    { args: ['report'], code: 2, names: /missing required argument/ },
    { args: ['report', '--nope', sim], code: 2, names: /unknown option '--nope'/ },
    { args: ['record'], code: 2, names: /required option '-o/ },
    { args: ['record', '-o', out, '--pid', '0'], code: 2, names: /--pid.*"0"/ },
    { args: ['record', '-o', out, '--pid', '-1'], code: 2, names: /--pid.*"-1"/ },
    { args: ['record', '-o', out, '--pid', 'abc'], code: 2, names: /--pid.*"abc"/ },
    { args: ['record', '-o', out, '--pid', '1.5'], code: 2, names: /--pid.*"1\.5"/ },
    { args: ['record', '-o', out, '--pid', ''], code: 2, names: /--pid/ },
    { args: ['record', '-o', out, '--pid', nopid], code: 2, names: new RegExp(`--pid ${nopid}: no such process`) },
    { args: ['stat', '--pid', nopid], code: 2, names: new RegExp(`--pid ${nopid}: no such process`) },
    { args: ['top', '--pid', nopid], code: 2, names: new RegExp(`--pid ${nopid}: no such process`) },
    { args: ['record', '-o', out, '--duration', '0'], code: 2, names: /--duration.*"0"/ },
    { args: ['record', '-o', out, '--duration', '-1'], code: 2, names: /--duration/ },
    { args: ['record', '-o', out, '--duration', 'soon'], code: 2, names: /--duration.*"soon"/ },
    { args: ['stat', '--interval', '0'], code: 2, names: /--interval.*seconds/ },
    { args: ['record', '-o', out, '--ring-buffer-mb', '3'], code: 2, names: /--ring-buffer-mb.*power of two.*"3"/ },
    { args: ['record', '-o', out, '--ring-buffer-mb', '0'], code: 2, names: /--ring-buffer-mb/ },
    { args: ['record', '-o', out, '--ring-buffer-mb', '4096'], code: 2, names: /--ring-buffer-mb/ },
    { args: ['record', '-o', out, '--ring-buffer-kb', '3'], code: 2, names: /--ring-buffer-kb/ },
    { args: ['record', '-o', out, '--uapi', 'BAD'], code: 2, names: /--uapi BAD: expected NAME=VALUE/ },
    { args: ['record', '-o', out, '--uapi', 'NOPE=1'], code: 2, names: /--uapi NOPE=1: unknown constant NOPE/ },
    { args: ['report', '--uapi', 'UFFD_FEATURE_RWP=zz', sim], code: 2, names: /--uapi UFFD_FEATURE_RWP=zz/ },
    { args: ['doctor', '--uapi', 'NOPE=1'], code: 2, names: /unknown constant NOPE/ },
    { args: ['replay', '--speed', '0', sim], code: 2, names: /--speed.*"0"/ },
    { args: ['simulate', '-s', 'nope', '-o', out], code: 2, names: /--scenario nope/ },
    { args: ['report', p('no-such-file.uscope')], code: 2, names: /no-such-file\.uscope: no such file/ },
    { args: ['report', '--json', p('no-such-file.uscope')], code: 2, names: /no such file/ },
    { args: ['replay', p('no-such-file.uscope')], code: 2, names: /no such file/ },
    { args: ['report', adir], code: 2, names: /a-directory: is a directory/ },
    { args: ['replay', adir], code: 2, names: /a-directory: is a directory/ },
    { args: ['record', '-o', existing, '--', 'true'], code: 2, names: /exists.*--force/ },
    { args: ['record', '--force', '-o', adir, '--', 'true'], code: 2, names: /a-directory: is a directory/ },
    { args: ['record', '--force', '-o', fifo, '--', 'true'], code: 2, names: /a-fifo: not a regular file/ },
    { args: ['record', '-o', p('no/such/dir/x.uscope'), '--', 'true'], code: 2, names: /no such directory/ },
    { args: ['record', '-o', out, '--', p('no-such-program')], code: 2, names: /cannot run .*no-such-program: no such file/ },
    { args: ['record', '-o', out, '--', 'no-such-program-in-path-xyz'], code: 2, names: /cannot run no-such-program-in-path-xyz: not found in PATH/ },
    { args: ['record', '-o', out, '--', existing], code: 2, names: /cannot run .*exists\.uscope: .*not executable/ },
    { args: ['stat', '--json-out', p('no/such/dir/s.json'), '--', 'true'], code: 2, names: /--json-out .*no such directory/ },
    { args: ['stat', '--json-out', adir, '--', 'true'], code: 2, names: /--json-out .*is a directory/ },
    { args: ['stat', '--', p('no-such-program')], code: 2, names: /cannot run/ },
  ];
  const runs = await pool(3, cases.map((c) => () => runCli(c.args, { timeoutMs: 10_000 })));
  for (const [i, c] of cases.entries()) {
    await t.test(`uffdscope ${c.args.join(' ')}`, () => assertOneLineError(runs[i], c.code, c.names, `uffdscope ${c.args.join(' ')}`));
  }
  assert.ok(!existsSync(out), 'no output file was left behind by a refused command');
  assert.equal(statSync(fifo).mode & 0o777, 0o644, 'the FIFO was not chmod-ed');
  assert.equal(readFileSync(existing, 'utf8'), 'x', 'an existing file is not overwritten without --force');
});

test('record --force -o a character device is refused and the device is left alone', { timeout: 20_000 }, async (t) => {
  if (!isRoot) return skipOrFail(t, 'mknod needs root');
  // a private node with /dev/null's numbers: if this regressed, the real /dev/null would be chmod-ed 0600
  const dev = p('my-null');
  assert.equal(spawnSync('mknod', [dev, 'c', '1', '3']).status, 0);
  chmodSync(dev, 0o666);
  const r = await runCli(['record', '--force', '-o', dev, '--', 'true'], { timeoutMs: 10_000 });
  assertOneLineError(r, 2, /my-null: not a regular file/, 'record --force -o <char device>');
  assert.equal(statSync(dev).mode & 0o777, 0o666, 'the device keeps its mode');
});

test('no output is a crash: `| head` closing the pipe gives no stack trace', { timeout: 30_000 }, async () => {
  const bin = process.execPath;
  for (const args of [['doctor', '--uapi-table'], ['report', sim], ['report', '--json', sim], ['replay', sim]]) {
    const sh = `'${bin}' '${cli}' ${args.map((a) => `'${a}'`).join(' ')} | head -c 1 >/dev/null; echo "rc=\${PIPESTATUS[0]}" >&2`;
    const r = await runProgram('bash', ['-c', sh], { timeoutMs: 20_000 });
    assert.equal(r.timedOut, false, `${args.join(' ')} | head: hung`);
    assert.doesNotMatch(r.stderr, /EPIPE|^\s+at |Error:/m, `${args.join(' ')} | head: ${r.stderr}`);
    assert.match(r.stderr, /rc=0\s*$/, `${args.join(' ')} | head: exit status ${r.stderr}`);
  }
});

// ---------------------------------------------------------------- privileges

test('no privileges (user nobody): record, stat, top exit 3 with one line naming root and CAP_BPF; doctor exits 3', { timeout: 60_000 }, async (t) => {
  let asNobody = false;
  if (isRoot) {
    if (!hasSetpriv) return skipOrFail(t, 'setpriv (util-linux) is not installed');
    asNobody = true;
  } else if (/^CapEff:\s*0*([1-9a-f])/m.test(readFileSync('/proc/self/status', 'utf8'))) {
    return skipOrFail(t, 'this user has capabilities and cannot drop them here');
  }
  const o = { asNobody, cwd: '/', timeoutMs: 15_000 };
  const out = p('nobody.uscope');
  const cases: string[][] = [
    ['record', '-o', out, '--', 'true'],
    ['record', '-o', out, '--pid', '1'],
    ['stat', '--', 'true'],
    ['stat', '--duration', '1'],
    ['top', '--demo'],
    ['top', '--pid', '1', '--duration', '1'],
  ];
  const runs = await pool(3, cases.map((c) => () => runCli(c, o)));
  for (const [i, c] of cases.entries()) {
    await t.test(`as nobody: uffdscope ${c.join(' ')}`, () => {
      assertOneLineError(runs[i], 3, /root.*CAP_BPF|CAP_BPF.*root/, `as nobody: ${c.join(' ')}`);
    });
  }
  assert.ok(!existsSync(out), 'no recording file is created without privileges');
  const doc = await runCli(['doctor'], o);
  assert.equal(doc.code, 3, `doctor as nobody: ${doc.stderr}`);
  assertNoStack(doc, 'doctor as nobody');
  assert.match(doc.stdout, /FAIL\s+privileges\s+.*root.*CAP_BPF/, 'doctor names the missing privilege');
  const docJson = await runCli(['doctor', '--json'], o);
  assert.equal(docJson.code, 3);
  assert.equal(JSON.parse(docJson.stdout).privileges.ok, false);
  // bad input is still bad input without privileges
  const r = await runCli(['record', '-o', out, '--pid', freePid().toString()], o);
  assertOneLineError(r, 2, /no such process/, 'as nobody: record --pid <free pid>');
  if (asNobody) {
    // a recording of root's, mode 0600: nobody may not read it
    const mine = p('root-only.uscope');
    writeFileSync(mine, simBytes);
    chmodSync(mine, 0o600);
    for (const cmd of [['report'], ['report', '--json'], ['replay']]) {
      const x = await runCli([...cmd, mine], o);
      assertOneLineError(x, 2, /root-only\.uscope: permission denied/, `as nobody: ${cmd.join(' ')} <0600 file of root>`);
    }
  }
});

// ---------------------------------------------------------------- check

test('check refuses a damaged recording (exit 2, one line naming it and --allow-damaged); with --allow-damaged it compares and warns', { timeout: 90_000 }, async () => {
  assert.ok(simBytes, 'setup ran');
  // in 4 KiB chunks, so that a flip costs one of many
  const bad = p('check-damaged.uscope');
  rechunk(sim, bad, 4096);
  const b = readFileSync(bad);
  b[Math.floor(b.length * 0.4)] ^= 4;
  writeFileSync(bad, b);
  const warning = expectedWarning(bad);
  assert.match(warning, /is damaged: 1 byte range skipped/);
  for (const args of [['check', '--baseline', sim, bad], ['check', '--baseline', bad, sim]]) {
    const r = await runCli(args, { timeoutMs: 30_000 });
    assertOneLineError(r, 2, /check-damaged\.uscope: recording is damaged .*--allow-damaged/, args.join(' '));
  }
  // a summary of a damaged recording is a damaged input too
  const rep = await runCli(['report', '--json', bad]);
  const badSummary = p('check-damaged.json');
  writeFileSync(badSummary, rep.stdout);
  const rs = await runCli(['check', '--baseline', sim, badSummary], { timeoutMs: 30_000 });
  assertOneLineError(rs, 2, /check-damaged\.json: summary of a damaged recording .*--allow-damaged/, 'check <summary of a damaged recording>');

  const ok = await runCli(['check', '--allow-damaged', '--baseline', bad, bad], { timeoutMs: 30_000 });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stderr, warning + warning, 'the warning, once per side');
  assert.match(ok.stdout, /check-damaged\.uscope: damaged \(1 byte range skipped .*\); compared anyway \(--allow-damaged\)/);
});

test('check: bad summary and budget files', { timeout: 180_000 }, async () => {
  // (main.js runs the CLI when imported: ask the CLI itself)
  const help = await runCli(['check', '--help']);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /Usage: uffdscope check/);
  const good = p('good-summary.json');
  const rep = await runCli(['report', '--json', sim]);
  writeFileSync(good, rep.stdout);
  const bads: Array<[string, string]> = [
    ['not-json.json', '{ this is not json'],
    ['wrong-schema.json', JSON.stringify({ schema: 'something/9' })],
    ['array.json', '[]'],
    ['empty.json', ''],
  ];
  for (const [name, text] of bads) {
    const f = p(name);
    writeFileSync(f, text);
    for (const args of [['check', '--baseline', f, good], ['check', '--baseline', good, f]]) {
      const r = await runCli(args, { timeoutMs: 20_000 });
      assertOneLineError(r, 2, new RegExp(name.replace('.', '\\.')), args.join(' '));
    }
  }
  for (const [name, text] of [
    ['budget-bad.yaml', 'metrics: [unclosed'],
    ['budget-type.json', JSON.stringify({ confidence: 'high' })],
    ['budget-range.json', JSON.stringify({ confidence: 7 })],
    ['budget-unknown.json', JSON.stringify({ metrics: { nonsense: { p99: { threshold: 0.1 } } } })],
  ]) {
    const f = p(name);
    writeFileSync(f, text);
    const r = await runCli(['check', '--budget', f, '--baseline', good, good], { timeoutMs: 20_000 });
    assertOneLineError(r, 2, new RegExp(name.replace('.', '\\.')), `check --budget ${name}`);
  }
  const noBudget = await runCli(['check', '--budget', p('no-such-budget.yaml'), '--baseline', good, good], { timeoutMs: 20_000 });
  assertOneLineError(noBudget, 2, /no-such-budget/, 'check --budget <missing>');
  // a file that is not readable as anything
  const fd = openSync(p('zero.bin'), 'w');
  closeSync(fd);
  const r = await runCli(['check', '--baseline', p('zero.bin'), good], { timeoutMs: 20_000 });
  assertOneLineError(r, 2, /zero\.bin/, 'check --baseline <empty file>');
  const missing = await runCli(['check', '--baseline', p('no-such-baseline'), good], { timeoutMs: 20_000 });
  assertOneLineError(missing, 2, /no-such-baseline/, 'check --baseline <missing>');
});
