// NDJSON export: every line parses, one line per decoded event, field names
// stable (snapshot in test/fixtures/export/ndjson-keys.json, and documented
// in exporters/NDJSON.md). Input: a GENERATED recording (`simulate`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSimulate } from '../../src/cli/simulate.js';
import { resolveUapi } from '../../src/events/uapi.js';
import { EVENT_TYPES, type IoctlEvent, type UffdEvent } from '../../src/events/types.js';
import { analyzeRecording } from '../../src/pipeline/recordingPipeline.js';
import { projectRoot } from '../../src/paths.js';
import { eventToJson, exportNdjson, NDJSON_SCHEMA } from '../../exporters/ndjson.js';

const uapi = resolveUapi();
const fixture = JSON.parse(readFileSync(join(projectRoot, 'test', 'fixtures', 'export', 'ndjson-keys.json'), 'utf8')) as {
  schema: string;
  keys: Record<string, string[]>;
};

const base = { ts: 1_000_000_000_123, cpu: 1, pid: 10, tid: 11, comm: 'vcpu' };
const U = 0xffff88810c000000n;
/** one hand-made event of every type (GENERATED) */
const samples: UffdEvent[] = [
  { type: 'fault', ...base, address: 0x7f0000001234n, ip: 0x401000n, errorCode: 6, uffd: U, vmFlags: 0x200000073n, vmaStart: 0x7f0000000000n, vmaEnd: 0x7f0000100000n, ctxFeatures: 0x100, armed: ['missing'] },
  { type: 'block', ...base, address: 0x7f0000001234n, uffd: U, faultTs: 1, prevState: 1, how: 'stack', nblocks: 1 },
  { type: 'wake', ...base, address: 0x7f0000001234n, uffd: U, faultTs: 1, targetPid: 10, targetTid: 12 },
  { type: 'resume', ...base, address: 0x7f0000001234n, uffd: U, faultTs: 1, wakeTs: 2, wakerTid: 20 },
  { type: 'ioctl_enter', ...base, uffd: U, cmd: 0xc028aa03, name: 'UFFDIO_COPY', argPtr: 0x7ffd0000n, args: { dst: 0x7f0000001000n, src: 0x10000000n, len: 4096n, mode: 0n, copy: 0n }, enterTs: base.ts, ret: 0, fd: 3, ctxFeatures: 0 },
  { type: 'ioctl_exit', ...base, uffd: U, cmd: 0xc028aa03, name: 'UFFDIO_COPY', argPtr: 0x7ffd0000n, args: { dst: 0x7f0000001000n, src: 0x10000000n, len: 4096n, mode: 0n, copy: -11n }, enterTs: base.ts - 100, ret: -11, fd: 3, ctxFeatures: 0 },
  { type: 'msg', ...base, uffd: U, readEnterTs: 5, event: 0x12, eventName: 'pagefault', fd: 3, index: 0, inRead: 1, body: [1n, 0x7f0000001000n, 12n], pagefault: { flags: 1n, address: 0x7f0000001000n, ptid: 12, kind: 'missing' } },
  { type: 'uffd_create', ...base, uffd: U, ret: 3, flags: 0x80800, source: 'syscall' },
  { type: 'uffd_close', ...base, uffd: U, fd: 3 },
  { type: 'proc', ...base, kind: 'fork', otherPid: 99, otherTid: 99 },
  // in-kernel handle_userfault() entry/exit (fentry/kprobe backends), field order as decoded
  { type: 'hu', ...base, kind: 'exit', uffd: U, address: 0x7f0000001234n, reason: 0x200n, faultFlags: 0x255n, enterTs: 5, ret: 0x400, ctxFeatures: 0x100, argReadOk: false } as unknown as UffdEvent,
];

test('field names per type match the snapshot and the documentation', () => {
  assert.equal(fixture.schema, NDJSON_SCHEMA);
  for (const t of EVENT_TYPES) assert.ok(fixture.keys[t], `${t} in the snapshot`);
  assert.deepEqual(samples.map((e) => e.type).sort(), Object.keys(fixture.keys).sort(), 'a sample of every type in the snapshot');
  const doc = readFileSync(join(projectRoot, 'exporters', 'NDJSON.md'), 'utf8');
  for (const e of samples) {
    const keys = Object.keys(eventToJson(e, null));
    assert.deepEqual(keys, fixture.keys[e.type], `keys of ${e.type}`);
    for (const k of keys) assert.ok(doc.includes(`| \`${k}\` |`), `${k} documented in NDJSON.md`);
    assert.ok(doc.includes(`\`${e.type}\``), `${e.type} documented`);
  }
});

test('value rules: hex strings for addresses/ids/masks, numbers otherwise', () => {
  const f = eventToJson(samples[0], null);
  assert.equal(f.address, '0x7f0000001234');
  assert.equal(f.uffd, '0xffff88810c000000');
  assert.equal(f.vm_flags, '0x200000073');
  assert.equal(f.error_code, 6);
  assert.equal(f.ts_ns, 1_000_000_000_123);
  const x = eventToJson(samples[5], null) as { args: Record<string, unknown>; errno: unknown; cmd: unknown };
  assert.deepEqual(x.args, { dst: '0x7f0000001000', src: '0x10000000', len: 4096, mode: '0x0', copy: -11 });
  assert.equal(x.errno, 'EAGAIN');
  assert.equal(x.cmd, '0xc028aa03');
  const exit = samples[5] as IoctlEvent;
  const big = eventToJson({ ...exit, args: { start: 0n, len: (1n << 64n) - 4096n } }, null) as { args: Record<string, unknown> };
  assert.equal(big.args.len, '18446744073709547520', 'beyond 2^53: a decimal string, not a rounded number');
  const hu = eventToJson(samples[10], null);
  assert.equal(hu.reason, '0x200');
  assert.equal(hu.enter_ts_ns, 5);
  assert.equal(hu.arg_read_ok, false);
  assert.equal(hu.ctx_features, '0x100');
  assert.equal(hu.ret, 0x400);
  const m = eventToJson(samples[6], null) as { body: unknown; pagefault: unknown };
  assert.deepEqual(m.body, ['0x1', '0x7f0000001000', '0xc']);
  assert.deepEqual(m.pagefault, { flags: '0x1', address: '0x7f0000001000', ptid: 12, kind: 'missing' });
});

test('simulated recording: every line parses, one per event, keys stable per type', () => {
  const dir = mkdtempSync(join(tmpdir(), 'uffdscope-ndjson-'));
  const rec = join(dir, 'sim.uscope');
  runSimulate({ scenario: 'mode-toggle', output: rec, seed: 3, duration: 2, faultRate: 200, uapi, force: true });
  const out = join(dir, 'sim.ndjson');
  const r = exportNdjson(rec, out, null);
  const { summary } = analyzeRecording(rec, null);
  const text = readFileSync(out, 'utf8');
  assert.ok(text.endsWith('\n'));
  const lines = text.slice(0, -1).split('\n');
  assert.equal(lines.length, summary.events.received);
  assert.equal(r.lines, summary.events.received);
  const counts: Record<string, number> = {};
  let lastTs = 0;
  for (const line of lines) {
    const o = JSON.parse(line) as Record<string, unknown>;
    const t = o.type as string;
    counts[t] = (counts[t] ?? 0) + 1;
    assert.deepEqual(Object.keys(o), fixture.keys[t], `keys of a ${t} line`);
    assert.equal(typeof o.ts_ns, 'number');
    lastTs = Math.max(lastTs, o.ts_ns as number);
  }
  for (const [t, n] of Object.entries(summary.events.by_type)) assert.equal(counts[t] ?? 0, n, `${t} lines`);
  assert.ok(lastTs > 0);
  // refuses to overwrite without force
  assert.throws(() => exportNdjson(rec, out, null), /EEXIST/);
  rmSync(dir, { recursive: true, force: true });
});

test('real mixed-workload recording: (uffd, uffd_created_ns) tells apart uffds at one reused address', () => {
  const fx = join(projectRoot, 'test', 'fixtures', 'recordings');
  const truth = JSON.parse(readFileSync(join(fx, 'mixed.truth.json'), 'utf8')) as { uffds_created: number; faults: { total: number } };
  const dir = mkdtempSync(join(tmpdir(), 'uffdscope-ndjson-'));
  const out = join(dir, 'mixed.ndjson');
  exportNdjson(join(fx, 'mixed.uscope'), out, null);
  const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  rmSync(dir, { recursive: true, force: true });
  const created = lines.filter((o) => o.type === 'uffd_create' && (o.ret as number) >= 0);
  assert.equal(created.length, truth.uffds_created);
  for (const o of created) assert.equal(o.uffd_created_ns, o.ts_ns, 'a creation names itself');
  const addresses = new Set(created.map((o) => o.uffd));
  assert.ok(addresses.size < truth.uffds_created, 'the kernel reused addresses in this run');
  const uffds = new Set(created.map((o) => `${o.uffd}@${o.uffd_created_ns}`));
  assert.equal(uffds.size, truth.uffds_created, 'one (uffd, uffd_created_ns) pair per uffd');
  // every event of a uffd names one of those uffds, created before it
  for (const o of lines) {
    if (!('uffd' in o)) continue;
    assert.ok(uffds.has(`${o.uffd}@${o.uffd_created_ns}`), `${o.type} at ${o.ts_ns} names a created uffd`);
    assert.ok((o.uffd_created_ns as number) <= (o.ts_ns as number), `${o.type} at ${o.ts_ns}: created before it`);
  }
});
