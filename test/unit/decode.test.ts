// Decoder tests on GENERATED records (encoded from typed events with the
// same generated layout), plus a fuzz of arbitrary bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeAll, decodeRecords, DecodeError } from '../../src/events/decode.js';
import { RecordEncoder } from '../../src/events/encode.js';
import { resolveUapi } from '../../src/events/uapi.js';
import type { UffdEvent } from '../../src/events/types.js';
import { L } from '../../src/events/layout.abi1.generated.js';

const uapi = resolveUapi();
const base = { ts: 1_000_000_123, cpu: 1, pid: 4242, tid: 4243, comm: 'vmm-vcpu0' };
const uffd = 0xffff888012345600n;

const samples: UffdEvent[] = [
  { ...base, type: 'fault', address: 0x7f0000001234n, ip: 0x401000n, errorCode: 6, uffd, vmFlags: 0x200n | 0x73n, vmaStart: 0x7f0000000000n, vmaEnd: 0x7f0000100000n, ctxFeatures: 0x100, armed: ['missing'] },
  { ...base, type: 'block', address: 0x7f0000001234n, uffd, faultTs: 999, prevState: 1, how: 'stack', nblocks: 1 },
  { ...base, type: 'wake', address: 0x7f0000001234n, uffd, faultTs: 999, targetPid: 4242, targetTid: 4250 },
  { ...base, type: 'resume', address: 0x7f0000001234n, uffd, faultTs: 999, wakeTs: 1500, wakerTid: 4251 },
  { ...base, type: 'ioctl_enter', uffd, cmd: 0xc028aa03, name: 'UFFDIO_COPY', argPtr: 0x7ffd0000n, args: { dst: 0x7f0000001000n, src: 0x5000n, len: 4096n, mode: 0n, copy: 0n }, enterTs: base.ts, ret: 0, fd: 5, ctxFeatures: 0 },
  { ...base, type: 'ioctl_exit', uffd, cmd: 0x4010aa0a, name: 'UFFDIO_SET_MODE', argPtr: 0x7ffd0000n, args: { enable: 1n << 18n, disable: 0n }, enterTs: base.ts - 500, ret: -22, fd: 5, ctxFeatures: 0 },
  { ...base, type: 'ioctl_exit', uffd, cmd: 0xc028aa03, name: 'UFFDIO_COPY', argPtr: 0x7ffd0000n, args: { dst: 0x7f0000001000n, src: 0x5000n, len: 4096n, mode: 0n, copy: -17n }, enterTs: base.ts - 500, ret: -17, fd: 5, ctxFeatures: 0 },
  { ...base, type: 'msg', uffd, readEnterTs: 900, event: 0x12, eventName: 'pagefault', fd: 5, index: 0, inRead: 1, body: [2n, 0x7f0000001000n, 4250n], pagefault: { flags: 2n, address: 0x7f0000001000n, ptid: 4250, kind: 'wp' } },
  { ...base, type: 'uffd_create', uffd, ret: 5, flags: 0x80800, source: 'dev' },
  { ...base, type: 'uffd_close', uffd, fd: 5 },
  { ...base, type: 'proc', kind: 'fork', otherPid: 5000, otherTid: 5000 },
];

test('every event type round-trips through the record layout', () => {
  const enc = new RecordEncoder(uapi);
  for (const s of samples) enc.push(s);
  const { bytes, count } = enc.take();
  assert.equal(count, samples.length);
  const back = decodeAll(bytes, uapi, count);
  assert.deepEqual(back, samples);
});

test('unknown record types are stepped over by size and counted', () => {
  const enc = new RecordEncoder(uapi);
  enc.push(samples[0]);
  const { bytes } = enc.take();
  const withUnknown = new Uint8Array(bytes.length + 48);
  withUnknown.set(bytes);
  const dv = new DataView(withUnknown.buffer);
  dv.setUint16(bytes.length, 99, true); // a future record type
  dv.setUint16(bytes.length + 2, 48, true);
  const seen: UffdEvent[] = [];
  const stats = decodeRecords(withUnknown, uapi, (e) => seen.push(e));
  assert.equal(stats.records, 2);
  assert.equal(stats.unknown, 1);
  assert.equal(seen.length, 1);
});

test('impossible sizes and count mismatches raise DecodeError', () => {
  const enc = new RecordEncoder(uapi);
  enc.push(samples[0]);
  const { bytes } = enc.take();
  const bad = bytes.slice();
  new DataView(bad.buffer).setUint16(2, 12, true);
  assert.throws(() => decodeAll(bad, uapi), DecodeError);
  assert.throws(() => decodeAll(bytes.subarray(0, 50), uapi), DecodeError);
  assert.throws(() => decodeAll(bytes, uapi, 2), /holds 1/);
  const shrunk = bytes.slice();
  new DataView(shrunk.buffer).setUint16(2, 48, true); // fault record smaller than its struct
  assert.throws(() => decodeAll(shrunk.subarray(0, 48), uapi), /smaller than/);
});

test('fuzz: arbitrary bytes either decode or raise DecodeError, never anything else', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (arr) => {
      try {
        decodeAll(arr, uapi);
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e;
      }
    }),
    { numRuns: 3000 },
  );
});

test('fuzz: mutations of a valid batch decode or raise DecodeError', () => {
  const enc = new RecordEncoder(uapi);
  for (const s of samples) enc.push(s);
  const { bytes } = enc.take();
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), (muts) => {
      const b = bytes.slice();
      for (const [i, v] of muts) b[i] = v;
      try {
        decodeAll(b, uapi);
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e;
      }
    }),
    { numRuns: 3000 },
  );
});

test('process names are UTF-8, up to the NUL; a character the kernel cut at 15 bytes is dropped', () => {
  const enc = new RecordEncoder(uapi);
  const names = ['qemu-ü-vcpu', 'vmm-名前-0', 'fc-🚀', 'qemu-vcpu-名前'];
  for (const comm of names) enc.push({ ...base, comm, type: 'uffd_close', uffd, fd: 5 });
  const { bytes, count } = enc.take();
  const back = decodeAll(bytes, uapi, count).map((e) => e.comm);
  // the encoder keeps whole characters within 15 bytes, as names read back
  assert.deepEqual(back, ['qemu-ü-vcpu', 'vmm-名前-0', 'fc-🚀', 'qemu-vcpu-名']);

  // the kernel cuts bytes, not characters: "qemu-vcpu-名前" is 16 bytes, the 15th is inside 前
  const one = new RecordEncoder(uapi);
  one.push({ ...base, comm: 'x', type: 'uffd_close', uffd, fd: 5 });
  const rec = one.take().bytes;
  const commAt = L.uscope_header.fields.comm.offset;
  rec.set(new TextEncoder().encode('qemu-vcpu-名前').subarray(0, 15), commAt);
  rec[commAt + 15] = 0;
  assert.equal(decodeAll(rec, uapi, 1)[0].comm, 'qemu-vcpu-名');
  // bytes after the NUL are not part of the name
  rec.set(new TextEncoder().encode('ab\0cdefgh'), commAt);
  assert.equal(decodeAll(rec, uapi, 1)[0].comm, 'ab');
});
