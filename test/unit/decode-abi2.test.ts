// Record ABI 2: records written as the BPF side sends them (Abi2Encoder:
// a waited fault as one record after its handler's message and ioctl, a
// thread's name once) decode through RecordStream into the same events,
// in time order, and the model makes the same summary of them as of the
// ABI 1 recording they came from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Abi2Encoder } from '../../src/events/encodeAbi2.js';
import { abi2RecordTypeName } from '../../src/events/decodeAbi2.js';
import { RecordStream } from '../../src/events/recordStream.js';
import { DecodeError, SIGNED_ARGS } from '../../src/events/decode.js';
import { RecordEncoder } from '../../src/events/encode.js';
import { C, L } from '../../src/events/layout.generated.js';
import { uffdIoctl } from '../../src/kernel/uffdIoctls.js';
import { resolveUapi } from '../../src/events/uapi.js';
import type { UffdEvent } from '../../src/events/types.js';
import { forEachRecordedEvent } from '../../src/source/recordingSource.js';
import { Analysis } from '../../src/stats/pipeline.js';
import { RecordingWriter, openRecording, RecordingFormatError } from '../../src/recording/index.js';
import { encodePreamble } from '../../src/recording/format.js';

const uapi = resolveUapi();
const fixture = new URL('../../../test/fixtures/recordings/mixed.uscope', import.meta.url).pathname;

function decode(bytes: Uint8Array, count: number, opts = {}): { events: UffdEvent[]; stream: RecordStream } {
  const events: UffdEvent[] = [];
  const stream = new RecordStream(uapi, C.USCOPE_RECORD_ABI, (e) => events.push(e), opts);
  stream.push(bytes, count);
  stream.end();
  return { events, stream };
}

function encode(events: UffdEvent[]): { bytes: Uint8Array; count: number } {
  const enc = new Abi2Encoder();
  for (const e of events) enc.push(e);
  return enc.take();
}

/** Plain data with sorted keys (bigints as strings), for comparing events. */
function canon(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return v.map(canon);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon((v as Record<string, unknown>)[k])]));
  }
  return v;
}

/** An event as ABI 2 has it: a per-fault ioctl's entry lacks the value its result field had then. */
function asAbi2(e: UffdEvent): UffdEvent {
  if (e.type !== 'ioctl_enter' || e.args === null || !uffdIoctl(e.name)?.perFault) return e;
  return { ...e, args: Object.fromEntries(Object.entries(e.args).filter(([k]) => !SIGNED_ARGS.has(k))) };
}

function summary(events: UffdEvent[]): unknown {
  const a = new Analysis(uapi);
  for (const e of events) a.push(e);
  a.finish();
  return canon(a.summary({ backend: 'tracepoint', lost: 0, durationNs: 1 }));
}

test('a recorded ABI 1 stream sent as ABI 2 decodes to the same events and the same summary', () => {
  const v1: UffdEvent[] = [];
  forEachRecordedEvent(fixture, null, (e) => v1.push(e));
  const { bytes, count } = encode(v1);
  const { events: v2, stream } = decode(bytes, count);
  assert.equal(stream.stats.late, 0);
  assert.equal(stream.stats.records, count);
  const key = (e: UffdEvent) => JSON.stringify(canon(asAbi2(e)));
  assert.deepEqual(v2.map(key).sort(), v1.map(key).sort());
  // handed on in time order (the ABI 1 stream was in ring order, 17 events behind a later one)
  for (let i = 1; i < v2.length; i++) assert.ok(v2[i].ts >= v2[i - 1].ts, `event ${i} in time order`);
  assert.deepEqual(summary(v2), summary(v1));
  // the recording's 640 faults, 384 of them waited: 1793 records in all, against 3090 in ABI 1
  // (the 512 not of a MISSING-armed page are sent at entry, and the 256 of them that waited once more)
  assert.equal(v1.length, 3090);
  assert.equal(count, 1793);
});

const vcpu = { pid: 100, tid: 101, comm: 'vcpu-0' };
const handler = { pid: 100, tid: 102, comm: 'uffd-handler' };
const uffd = 0xffff888000001000n;
const address = 0x7f0000002345n;
const T = 5_000_000_000;

function waitedFault(waitNs: number, readNs: number): UffdEvent[] {
  const f = T;
  return [
    { type: 'fault', ts: f, cpu: 1, ...vcpu, address, ip: 0x401000n, errorCode: 6, uffd, vmFlags: 0x200073n, vmaStart: 0x7f0000000000n, vmaEnd: 0x7f0000100000n, ctxFeatures: 0x100, armed: ['missing'] },
    { type: 'block', ts: f + 2_000, cpu: 1, ...vcpu, address, uffd, faultTs: f, prevState: 1, how: 'waitqueue', nblocks: 1 },
    { type: 'msg', ts: f + 10_000, cpu: 0, ...handler, uffd, readEnterTs: f + 10_000 - readNs, event: 0x12, eventName: 'pagefault', fd: 5, index: 0, inRead: 1, body: [0n, address & ~0xfffn, 101n], pagefault: { flags: 0n, address: address & ~0xfffn, ptid: 101, kind: 'missing' } },
    { type: 'ioctl_enter', ts: f + waitNs - 5_000, cpu: 0, ...handler, uffd, cmd: 0xc028aa03, name: 'UFFDIO_COPY', argPtr: 0x7ffd0000n, args: { dst: 0x7f0000002000n, src: 0x5000n, len: 4096n, mode: 0n }, enterTs: f + waitNs - 5_000, ret: 0, fd: 5, ctxFeatures: 0x100 },
    { type: 'wake', ts: f + waitNs - 1_000, cpu: 0, ...handler, address, uffd, faultTs: f, targetPid: 100, targetTid: 101 },
    { type: 'ioctl_exit', ts: f + waitNs, cpu: 0, ...handler, uffd, cmd: 0xc028aa03, name: 'UFFDIO_COPY', argPtr: 0x7ffd0000n, args: { dst: 0x7f0000002000n, src: 0x5000n, len: 4096n, mode: 0n, copy: 4096n }, enterTs: f + waitNs - 5_000, ret: 0, fd: 5, ctxFeatures: 0x100 },
    { type: 'resume', ts: f + waitNs + 3_000, cpu: 1, ...vcpu, address, uffd, faultTs: f, wakeTs: f + waitNs - 1_000, wakerTid: 102 },
  ];
}

test('a waited MISSING fault is 3 records and 240 bytes (after its threads\' names and its VMA), and decodes in time order', () => {
  const events = waitedFault(50_000, 1_000);
  const { bytes, count } = encode(events);
  // TASK vcpu, VMA, TASK handler, MSG, IOCTL, FAULT
  assert.equal(count, 6);
  assert.equal(bytes.byteLength, 2 * L.uscope_task.size + L.uscope_vma.size + L.uscope_msg.size + L.uscope_ioctl.size + L.uscope_fault.size);
  assert.equal(L.uscope_msg.size + L.uscope_ioctl.size + L.uscope_fault.size, 240);
  // the fault's record is the last one, after its handler's message and ioctl
  const dv = new DataView(bytes.buffer, bytes.byteOffset);
  assert.equal(dv.getUint8(bytes.byteLength - L.uscope_fault.size), C.USCOPE_REC_FAULT);
  assert.deepEqual(canon(decode(bytes, count).events), canon(events.map(asAbi2)));
});

test('times past 32 bits (a 5 s wait, a read() that waited 6 s, a 5 s ioctl) take the wide records and stay exact', () => {
  const events = waitedFault(5_000_000_000, 6_000_000_000);
  const enter = events[3] as UffdEvent & { enterTs: number };
  const exit = events[5] as UffdEvent & { enterTs: number };
  enter.ts = enter.enterTs = exit.enterTs = T + 1_000;
  const { bytes, count } = encode(events);
  assert.equal(bytes.byteLength, 2 * L.uscope_task.size + L.uscope_vma.size + L.uscope_msg_wide.size + L.uscope_ioctl_in.size + L.uscope_fault_wide.size);
  // the window must hold a 5 s wait to put it back in order
  const { events: back, stream } = decode(bytes, count, { windowNs: 10e9 });
  assert.equal(stream.stats.late, 0);
  const sorted = [...events].sort((a, b) => a.ts - b.ts);
  assert.deepEqual(canon(back), canon(sorted.map(asAbi2)));
});

test('a fault that waited longer than the reorder window and the hold behind its message comes late, counted, with nothing lost', () => {
  const events = waitedFault(2_000_000_000, 1_000);
  const { bytes, count } = encode(events);
  const { events: back, stream } = decode(bytes, count, { windowNs: 1e9, holdNs: 1e9 });
  assert.equal(back.length, events.length);
  // fault and block (2 s before their record) come after the handler's message, handed on by then
  assert.equal(stream.stats.late, 2);
  assert.deepEqual(back.map((e) => e.type), ['msg', 'fault', 'block', 'ioctl_enter', 'wake', 'ioctl_exit', 'resume']);
});

test('a fault that waited 10 times the live window: every count of the summary as if it had come in order', () => {
  const events = waitedFault(500_000_000, 1_000);
  const { bytes, count } = encode(events);
  const { events: back, stream } = decode(bytes, count, { windowNs: 50e6 });
  assert.equal(back.length, events.length);
  assert.equal(stream.stats.late, 0, 'held behind its message');
  assert.deepEqual(summary(back), summary(events.map(asAbi2)));
});

test('a pagefault message whose fault never comes holds what follows for holdNs, then lets it go', () => {
  const events = waitedFault(80_000_000, 1_000).filter((e) => e.type === 'msg' || e.type === 'ioctl_enter' || e.type === 'ioctl_exit');
  const { bytes, count } = encode(events);
  const out: UffdEvent[] = [];
  const stream = new RecordStream(uapi, C.USCOPE_RECORD_ABI, (e) => out.push(e), { windowNs: 50e6, holdNs: 100e6 });
  stream.push(bytes, count);
  // 80 ms on: past the window of the message (at 10 us), not past its hold
  stream.advance(T + 80_000_000);
  assert.equal(out.length, 0);
  stream.advance(T + 200_000_000);
  assert.deepEqual(out.map((e) => e.type), ['msg', 'ioctl_enter', 'ioctl_exit']);
});

/** A WP fault (sent at entry, its wait when it ends) resolved by UFFDIO_WRITEPROTECT after `waitNs`; without `blocks`, resolved before it slept. */
function wpFault(waitNs: number, blocks = true): UffdEvent[] {
  const f = T;
  const page = address & ~0xfffn;
  const range = { start: page, len: 4096n, mode: 0n };
  const events: UffdEvent[] = [
    { type: 'fault', ts: f, cpu: 1, ...vcpu, address, ip: 0x401000n, errorCode: 7, uffd, vmFlags: 0x1073n, vmaStart: 0x7f0000000000n, vmaEnd: 0x7f0000100000n, ctxFeatures: 0x100, armed: ['wp'] },
    { type: 'block', ts: f + 2_000, cpu: 1, ...vcpu, address, uffd, faultTs: f, prevState: 1, how: 'waitqueue', nblocks: 1 },
    { type: 'msg', ts: f + 10_000, cpu: 0, ...handler, uffd, readEnterTs: f + 9_000, event: 0x12, eventName: 'pagefault', fd: 5, index: 0, inRead: 1, body: [3n, page, 101n], pagefault: { flags: 3n, address: page, ptid: 101, kind: 'wp' } },
    { type: 'ioctl_enter', ts: f + waitNs - 5_000, cpu: 0, ...handler, uffd, cmd: 0xc018aa06, name: 'UFFDIO_WRITEPROTECT', argPtr: 0x7ffd0000n, args: range, enterTs: f + waitNs - 5_000, ret: 0, fd: 5, ctxFeatures: 0x100 },
    { type: 'wake', ts: f + waitNs - 1_000, cpu: 0, ...handler, address, uffd, faultTs: f, targetPid: 100, targetTid: 101 },
    { type: 'ioctl_exit', ts: f + waitNs, cpu: 0, ...handler, uffd, cmd: 0xc018aa06, name: 'UFFDIO_WRITEPROTECT', argPtr: 0x7ffd0000n, args: range, enterTs: f + waitNs - 5_000, ret: 0, fd: 5, ctxFeatures: 0x100 },
    { type: 'resume', ts: f + waitNs + 3_000, cpu: 1, ...vcpu, address, uffd, faultTs: f, wakeTs: f + waitNs - 1_000, wakerTid: 102 },
  ];
  return blocks ? events : events.filter((e) => e.type !== 'block' && e.type !== 'wake' && e.type !== 'resume');
}

/** The handler's UFFDIO_WAKE of another page every `everyNs` from `from` to `to`: a stream in time order that keeps the window small. */
function steadyIoctls(from: number, to: number, everyNs: number): UffdEvent[] {
  const out: UffdEvent[] = [];
  const args = { start: 0x7f0000100000n, len: 4096n };
  for (let t = from; t < to; t += everyNs) {
    const enter: UffdEvent = { type: 'ioctl_enter', ts: t, cpu: 0, ...handler, uffd, cmd: 0x8010aa02, name: 'UFFDIO_WAKE', argPtr: 0x7ffd0000n, args, enterTs: t, ret: 0, fd: 5, ctxFeatures: 0x100 };
    out.push(enter, { ...enter, type: 'ioctl_exit', ts: t + 2_000 });
  }
  return out;
}

test('a WP fault is sent at entry and its wait when it ends: a wait 10 times the live window comes back in order behind its message', () => {
  const events = wpFault(500_000_000);
  const { bytes, count } = encode(events);
  // TASK vcpu, VMA, FAULT (entry), TASK handler, MSG, IOCTL, FAULT (block, wake, resume)
  assert.equal(count, 7);
  const { events: back, stream } = decode(bytes, count, { windowNs: 50e6 });
  assert.equal(stream.stats.late, 0, 'the wait held behind its message');
  assert.deepEqual(canon(back), canon(events.map(asAbi2)));
  assert.deepEqual(summary(back), summary(events.map(asAbi2)));
});

test('a WP message whose fault did not wait holds events only until its thread is seen again, not for holdNs', () => {
  const events = [...wpFault(60_000, false), ...steadyIoctls(T + 100_000, T + 20_000_000, 1_000_000)];
  // the vCPU faults again 10 ms on: its first fault is over
  const next: UffdEvent = { ...(events[0] as Extract<UffdEvent, { type: 'fault' }>), ts: T + 10_000_000, address: address + 0x1000n };
  const all = [...events, next].sort((a, b) => a.ts - b.ts);
  const { bytes, count } = encode(all);
  const out: UffdEvent[] = [];
  const stream = new RecordStream(uapi, C.USCOPE_RECORD_ABI, (e) => out.push(e), { windowNs: 50e6, holdNs: 10e9 });
  stream.push(bytes, count);
  stream.advance(T + 200_000_000);
  // 200 ms on: past the window of everything, far from holdNs
  assert.equal(out.length, all.length, `handed on: ${out.length} of ${all.length}`);
  assert.equal(stream.stats.late, 0);
});

test('a MISSING fault read soon but resolved late, after a steady stream shrank the window, comes back in order', () => {
  // 1.5 s of the handler's ioctls in time order: the window in use falls to about a millisecond
  const f = T + 1_500_000_000;
  const fault = waitedFault(30_000_000, 1_000).map((e) => ({ ...e, ts: e.ts + 1_500_000_000, ...('faultTs' in e ? { faultTs: e.faultTs + 1_500_000_000 } : {}), ...('enterTs' in e ? { enterTs: e.enterTs + 1_500_000_000 } : {}), ...('readEnterTs' in e ? { readEnterTs: e.readEnterTs + 1_500_000_000 } : {}), ...('wakeTs' in e ? { wakeTs: e.wakeTs + 1_500_000_000 } : {}) }) as UffdEvent);
  // its message is read 10 us after the fault, its page copied 30 ms after it, while other ioctls go on
  const all = [...steadyIoctls(T + 500, f + 40_000_000, 1_000_000), ...fault].sort((a, b) => a.ts - b.ts);
  const { bytes, count } = encode(all);
  const { events: back, stream } = decode(bytes, count, { windowNs: 50e6, holdNs: 1e9 });
  assert.equal(stream.stats.late, 0, 'nothing after the fault was handed on before it came');
  assert.deepEqual(canon(back), canon(all.map(asAbi2)));
});

test('control ioctls keep what the caller passed: UFFDIO_API requested vs granted features', () => {
  const enter: UffdEvent = { type: 'ioctl_enter', ts: T, cpu: 0, ...handler, uffd, cmd: 0xc018aa3f, name: 'UFFDIO_API', argPtr: 0x7ffd0000n, args: { api: 0xaan, features: 0x1ffffn, ioctls: 0n }, enterTs: T, ret: 0, fd: 5, ctxFeatures: 0 };
  const exit: UffdEvent = { ...enter, type: 'ioctl_exit', ts: T + 900, cpu: 1, args: { api: 0xaan, features: 0x1ff00n, ioctls: 0x1cn }, ctxFeatures: 0x1ff00 };
  const { bytes, count } = encode([enter, exit]);
  assert.equal(bytes.byteLength, L.uscope_task.size + L.uscope_ioctl_in.size);
  assert.deepEqual(canon(decode(bytes, count).events), canon([enter, exit]));
});

test('a failed per-fault ioctl from the in-kernel engine says its entry was not timed; its duration stays out of the summary', () => {
  const enter: UffdEvent = { type: 'ioctl_enter', ts: T, cpu: 1, ...handler, uffd, cmd: 0xc028aa03, name: 'UFFDIO_COPY', argPtr: 0x7ffd0000n, args: { dst: 0x7f0000002000n, src: 0x5000n, len: 4096n, mode: 0n }, enterTs: T, ret: 0, fd: 5, ctxFeatures: 0, untimed: true };
  const exit: UffdEvent = { ...enter, type: 'ioctl_exit', args: { dst: 0x7f0000002000n, src: 0x5000n, len: 4096n, mode: 0n, copy: -17n }, ret: -17 };
  const { bytes, count } = encode([enter, exit]);
  const back = decode(bytes, count).events;
  assert.deepEqual(canon(back), canon([enter, exit]));
  const s = summary(back) as { ioctls: Record<string, { count: number; errors: number; p50_ns: number | null; max_ns: number | null }> };
  assert.deepEqual([s.ioctls.UFFDIO_COPY.count, s.ioctls.UFFDIO_COPY.errors, s.ioctls.UFFDIO_COPY.p50_ns, s.ioctls.UFFDIO_COPY.max_ns], [1, 1, null, null]);
  // the same call timed (a recording's) keeps its duration
  const timed = decode(...Object.values(encode([{ ...enter, untimed: undefined }, { ...exit, ts: T + 700, untimed: undefined }])) as [Uint8Array, number]).events;
  assert.equal((summary(timed) as typeof s).ioctls.UFFDIO_COPY.max_ns, 700);
});

test('a fault sent after its process\'s VMA changed gets the VMA it had', () => {
  const first = waitedFault(50_000, 1_000);
  const later: UffdEvent = { ...(first[0] as Extract<UffdEvent, { type: 'fault' }>), tid: 103, ts: T + 20_000, vmFlags: 0x1073n, vmaStart: 0x7f0000000000n, vmaEnd: 0x7f0000004000n, armed: ['wp'] };
  // the second fault (another thread, a re-registered VMA) is sent before the first fault's record
  const events = [...first.slice(0, 3), later, ...first.slice(3)];
  const { bytes, count } = encode(events);
  const back = decode(bytes, count).events.filter((e) => e.type === 'fault');
  assert.deepEqual(back.map((e) => [e.tid, e.vmFlags, e.vmaEnd]), [
    [101, 0x200073n, 0x7f0000100000n],
    [103, 0x1073n, 0x7f0000004000n],
  ]);
});

test('a record of an unknown type is stepped over and counted; an impossible size is an error', () => {
  const { bytes, count } = encode(waitedFault(50_000, 1_000));
  const withUnknown = new Uint8Array(bytes.byteLength + 24);
  withUnknown.set(bytes);
  const dv = new DataView(withUnknown.buffer);
  dv.setUint8(bytes.byteLength, 200);
  dv.setUint16(bytes.byteLength + 2, 24, true);
  const { events, stream } = decode(withUnknown, count + 1);
  assert.equal(events.length, 7);
  assert.equal(stream.stats.unknown, 1);
  dv.setUint16(bytes.byteLength + 2, 12, true);
  assert.throws(() => decode(withUnknown, count + 1), DecodeError);
});

test('RecordStream reads ABI 1 records as before, in the order they come', () => {
  const enc = new RecordEncoder(uapi);
  const events = waitedFault(50_000, 1_000);
  for (const e of events) enc.push(e);
  const { bytes, count } = enc.take();
  const back: UffdEvent[] = [];
  const stream = new RecordStream(uapi, 1, (e) => back.push(e));
  stream.push(bytes, count);
  stream.end();
  // (ABI 1 has the whole argument struct at entry: the result field too)
  assert.deepEqual(canon(back.map(asAbi2)), canon(events.map(asAbi2)));
  assert.throws(() => new RecordStream(uapi, 3, () => {}), /ABI 3/);
});

test('a format 2 recording of ABI 2 records reads back; a format 1 file claiming ABI 2 is refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'uscope-abi2-'));
  try {
    const header = openRecording(fixture).header;
    const path = join(dir, 'v2.uscope');
    const w = RecordingWriter.create(path, { ...header, format: 2, recordAbi: C.USCOPE_RECORD_ABI });
    const events = waitedFault(50_000, 1_000);
    const { bytes, count } = encode(events);
    w.append(bytes, count);
    w.close({ endedAtBootNs: T + 1e9, reason: 'completed' });
    const back: UffdEvent[] = [];
    const read = forEachRecordedEvent(path, null, (e) => back.push(e));
    assert.equal(read.decode.records, count);
    assert.deepEqual(canon(back), canon(events.map(asAbi2)));
    // a header that says format 1 with ABI 2 records cannot be written
    assert.throws(() => RecordingWriter.create(join(dir, 'bad.uscope'), { ...header, format: 1, recordAbi: C.USCOPE_RECORD_ABI }), /must be 2 for record ABI 2/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the reader refuses a file whose version and header disagree', () => {
  const dir = mkdtempSync(join(tmpdir(), 'uscope-abi2-'));
  try {
    const header = openRecording(fixture).header;
    const path = join(dir, 'x.uscope');
    const pre = encodePreamble({ ...header, format: 2, recordAbi: 2 });
    pre.writeUInt32LE(1, 8); // the preamble says version 1
    writeFileSync(path, pre);
    assert.throws(() => openRecording(path), (e: unknown) => e instanceof RecordingFormatError && e.code === 'header-field');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every ABI 2 record type has a counter name; the numbers ABI 2 left unused have none', () => {
  const names = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map(abi2RecordTypeName);
  assert.deepEqual(names, ['fault', 'task', 'vma', undefined, undefined, 'ioctl', 'msg', 'uffd_create', 'uffd_close', 'proc', 'hu']);
});
