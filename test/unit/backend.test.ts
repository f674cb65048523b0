// Capture backends without a kernel: the HU record (handle_userfault()
// entry/exit from the fentry and kprobe backends) round-trips through the
// decoder and encoder, its counters slot is accounted, the three BPF
// objects keep the same rodata and map names (so one configuration path
// serves them all), and a kernel refusal becomes one well-formed attempt.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../src/paths.js';
import { skipOrFail } from '../fixtures/skipOrFail.js';
import { C, L } from '../../src/events/layout.generated.js';
import { L as L1 } from '../../src/events/layout.abi1.generated.js';
import { decodeAll } from '../../src/events/decode.js';
import { RecordEncoder } from '../../src/events/encode.js';
import { resolveUapi } from '../../src/events/uapi.js';
import type { HuEvent, UffdEvent } from '../../src/events/types.js';
import { attemptFromError, summarizeCounters, BACKEND_ORDER } from '../../src/capture/liveCapture.js';
import { abi2RecordTypeName } from '../../src/events/decodeAbi2.js';
import { NativeError, validateTracerConfig, loadAddon, type NativeCounters, type TracerConfig } from '../../src/native/addon.js';
import { backendDetail } from '../../src/cli/doctor.js';

const uapi = resolveUapi();
const OUT = join(projectRoot, 'out', 'bpf');

function hu(kind: HuEvent['kind'], over: Partial<HuEvent> = {}): HuEvent {
  return {
    type: 'hu',
    ts: 1_000_500,
    cpu: 3,
    pid: 100,
    tid: 101,
    comm: 'vcpu0',
    kind,
    uffd: 0xffff888012345000n,
    address: 0x7f0000001234n,
    reason: uapi.VM_UFFD_MISSING,
    faultFlags: 0x1255n,
    enterTs: 1_000_000,
    ret: kind === 'exit' ? 0x400 : 0,
    ctxFeatures: 0x80000000,
    argReadOk: false,
    ...over,
  };
}

test('USCOPE_REC_HU is appended after every existing type and fits the counters arrays', () => {
  assert.equal(C.USCOPE_REC_HU, 11);
  assert.ok(C.USCOPE_REC_HU > C.USCOPE_REC_PROC, 'a new type, not a reused number');
  // produced[]/lost[] hold USCOPE_REC_TYPE_COUNT + 1 slots: index 11 exists
  assert.equal(L.uscope_counters.fields.produced.count, C.USCOPE_REC_TYPE_COUNT + 1);
  assert.ok(C.USCOPE_REC_HU <= C.USCOPE_REC_TYPE_COUNT);
  assert.equal(L.uscope_hu.size, 80);
  assert.equal(L1.uscope_hu.size, 104);
  assert.equal(L.uscope_hu.fields.h.offset, 0);
  assert.equal(abi2RecordTypeName(C.USCOPE_REC_HU), 'hu');
  assert.equal(abi2RecordTypeName(C.USCOPE_REC_PROC), 'proc');
  assert.equal(abi2RecordTypeName(4), undefined, 'a number ABI 2 leaves unused');
});

test('HU records: encode -> decode is the identity for every kind', () => {
  const events: UffdEvent[] = [
    hu('enter'),
    hu('exit', { ts: 1_090_000 }),
    hu('set_mode_enter', { address: 0x7ffd00001000n, reason: 1n << 18n, faultFlags: 0n, argReadOk: true }),
    hu('set_mode_exit', { address: 0x7ffd00001000n, reason: 1n << 18n, faultFlags: 0n, argReadOk: true, ret: -22 }),
  ];
  const enc = new RecordEncoder(uapi);
  for (const e of events) enc.push(e);
  const { bytes, count } = enc.take();
  assert.equal(bytes.byteLength, 4 * L1.uscope_hu.size);
  const back = decodeAll(bytes, uapi, count);
  assert.deepEqual(back, events);
});

test('an HU record of an unknown kind is stepped over, not misread', () => {
  const enc = new RecordEncoder(uapi);
  enc.push(hu('enter'));
  enc.push({ type: 'proc', ts: 5, cpu: 0, pid: 1, tid: 1, comm: 'x', kind: 'exec', otherPid: 0, otherTid: 0 });
  const { bytes } = enc.take();
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(L1.uscope_hu.fields.kind.offset, 99, true);
  const back = decodeAll(bytes, uapi);
  assert.deepEqual(back.map((e) => e.type), ['proc']);
});

function counters(huProduced: number, huLost: number): NativeCounters {
  const slots = C.USCOPE_REC_TYPE_COUNT + 1;
  const produced = new Array(slots).fill(0);
  const lost = new Array(slots).fill(0);
  produced[C.USCOPE_REC_FAULT] = 10;
  lost[C.USCOPE_REC_FAULT] = 1;
  produced[C.USCOPE_REC_HU] = huProduced;
  lost[C.USCOPE_REC_HU] = huLost;
  return {
    perCpu: [{ produced, lost, vmaLookupFailed: 0, stackFailed: 0, msgsTruncated: 0, inflightDropped: 0, fastIoctls: new Array(C.USCOPE_FAST_IOCTL_NRS).fill(0) }],
    delivered: 10 - 1 + huProduced - huLost,
    discardedAtClose: 0,
  };
}

test('counters: the HU slot is accounted when used, absent when not (tracepoint output unchanged)', () => {
  const tp = summarizeCounters(counters(0, 0));
  assert.ok(!('hu' in tp.produced), 'no hu key for a tracepoint capture');
  assert.equal(tp.producedTotal, 10);
  assert.equal(tp.lostTotal, 1);
  const precise = summarizeCounters(counters(20, 2));
  assert.equal(precise.produced.hu, 20);
  assert.equal(precise.lost.hu, 2);
  assert.equal(precise.producedTotal, 30);
  assert.equal(precise.lostTotal, 3);
  assert.equal(precise.delivered + precise.lostTotal, precise.producedTotal, 'delivered + lost == produced');
});

test('a kernel refusal becomes one attempt: step, errno, code, program, hint', () => {
  const load = Object.assign(new NativeError('load: Operation not permitted'), {
    step: 'load',
    errno: 1,
    libbpfLog: "libbpf: prog 'uscope_hu_entry': BPF program load failed: Operation not permitted\nlibbpf: failed to load object 'uffdscope_fentry'",
  });
  const a = attemptFromError('fentry', load);
  assert.deepEqual(a, {
    backend: 'fentry',
    hooks: 'btf',
    ok: false,
    step: 'load',
    errno: 1,
    code: 'EPERM',
    message: 'load: Operation not permitted (EPERM)',
    program: 'uscope_hu_entry',
    hint: 'the kernel refuses BPF tracing programs (fentry/fexit trampolines)',
  });
  assert.equal(backendDetail(a), 'refused: load: Operation not permitted (EPERM) [uscope_hu_entry]; the kernel refuses BPF tracing programs (fentry/fexit trampolines)');

  const attach = Object.assign(new NativeError('attach uscope_hu_entry (kprobe/handle_userfault): No such file or directory'), {
    step: 'attach uscope_hu_entry (kprobe/handle_userfault)',
    errno: 2,
  });
  const k = attemptFromError('kprobe', attach);
  assert.equal(k.step, 'attach');
  assert.equal(k.code, 'ENOENT');
  assert.equal(k.program, 'uscope_hu_entry');
  assert.equal(k.message, 'attach uscope_hu_entry (kprobe/handle_userfault): No such file or directory (ENOENT)');
  assert.ok(!backendDetail(k).includes('[uscope_hu_entry]'), 'the program is not repeated when the message names it');
});

test('backend order and validation', () => {
  assert.deepEqual(BACKEND_ORDER, ['fentry', 'kprobe', 'tracepoint']);
  const cfg: TracerConfig = {
    filterTgids: true,
    followChildren: true,
    handleUserfaultStart: 0n,
    handleUserfaultEnd: 0n,
    vmUffdMissing: 0x200n,
    vmUffdWp: 0x1000n,
    vmUffdMinor: 1n << 41n,
    wakeupBytes: 0,
    ringBytes: 1 << 20,
    pollTimeoutMs: 50,
    batchBytes: 1 << 16,
  };
  for (const b of BACKEND_ORDER) validateTracerConfig({ ...cfg, backend: b });
  assert.throws(() => validateTracerConfig({ ...cfg, backend: 'uprobe' as never }), /backend uprobe: must be one of fentry, kprobe, tracepoint/);
});

// The skeletons bpftool generated: what the native adapter relies on.
function skel(name: string): string {
  return readFileSync(join(OUT, `${name}.skel.h`), 'utf8');
}
function block(text: string, opener: RegExp): string[] {
  const m = opener.exec(text);
  assert.ok(m, `${opener} in skeleton`);
  const body = text.slice(m.index + m[0].length, text.indexOf('}', m.index + m[0].length));
  return [...body.matchAll(/(\w+)(?:\[\d+\])?;/g)].map((x) => x[1]).filter((n) => !n.startsWith('__pad'));
}

test('all three BPF objects are built, with identical rodata and map names', (t) => {
  if (!existsSync(join(OUT, 'uffdscope.skel.h'))) return skipOrFail(t, 'BPF objects not built (npm ci builds them)');
  const names = { tracepoint: 'uffdscope', fentry: 'uffdscope_fentry', kprobe: 'uffdscope_kprobe' };
  const tp = skel(names.tracepoint);
  const tpRodata = block(tp, /struct uffdscope__rodata \{/);
  const tpMaps = block(tp, /struct uffdscope \{[\s\S]*?struct \{/);
  const tpProgs = block(tp, /\} maps;\s*struct \{/);
  assert.ok(tpRodata.includes('filter_tgids') && tpRodata.includes('wakeup_bytes'));
  assert.ok(tpProgs.every((p) => p.startsWith('uscope_')), 'programs are uscope_*');
  assert.ok(tpMaps.filter((m) => m !== 'rodata' && m !== 'bss').every((m) => m.startsWith('uscope_')), 'maps are uscope_*');
  for (const b of ['fentry', 'kprobe'] as const) {
    const s = skel(names[b]);
    assert.deepEqual(block(s, new RegExp(`struct ${names[b]}__rodata \\{`)), tpRodata, `${b}: same rodata`);
    const maps = block(s, new RegExp(`struct ${names[b]} \\{[\\s\\S]*?struct \\{`));
    for (const m of tpMaps) assert.ok(maps.includes(m), `${b}: has map ${m}`);
    const progs = block(s, /\} maps;\s*struct \{/);
    assert.deepEqual(progs.slice(0, tpProgs.length), tpProgs, `${b}: every tracepoint program, same names`);
    assert.deepEqual(progs.slice(tpProgs.length), ['uscope_hu_entry', 'uscope_hu_exit', 'uscope_sm_entry', 'uscope_sm_exit'], `${b}: its own programs`);
  }
  // Sections: what each backend attaches to.
  const sections = (name: string) => readFileSync(join(OUT, `${name}.bpf.o`)).toString('latin1');
  const fe = sections(names.fentry);
  for (const sec of ['fentry/handle_userfault', 'fexit/handle_userfault', 'fentry/userfaultfd_set_mode', 'fexit/userfaultfd_set_mode']) assert.ok(fe.includes(sec), sec);
  const kp = sections(names.kprobe);
  for (const sec of ['kprobe/handle_userfault', 'kretprobe/handle_userfault', 'kprobe/userfaultfd_set_mode', 'kretprobe/userfaultfd_set_mode']) assert.ok(kp.includes(sec), sec);
});

test('the addon is built with every backend and knows the HU record size', (t) => {
  if (!existsSync(join(projectRoot, 'build', 'Release', 'uffdscope.node'))) return skipOrFail(t, 'native addon not built (npm ci builds it)');
  const addon = loadAddon();
  assert.deepEqual([...(addon.backends ?? [])].sort(), [...BACKEND_ORDER].sort());
  assert.equal(addon.recordSizes().uscope_hu, L.uscope_hu.size);
});

// The precise backends add HU records next to the tracepoint records; the
// model must not change its verdicts because of them (an HU record happens
// inside the fault, so it must not count as "the thread moved on").
test('the fault lifecycle gives the same verdicts with HU records interleaved', async () => {
  const { Analysis } = await import('../../src/stats/pipeline.js');
  const dir = new URL('../../../test/fixtures/streams/', import.meta.url);
  const events = decodeAll(new Uint8Array(readFileSync(new URL('scen-tracepoint.bin', dir))), uapi);
  // what a precise backend adds: entry right after each fault, exit right
  // before the faulting thread runs again
  const withHu: UffdEvent[] = [];
  const open = new Map<number, HuEvent>();
  for (const e of events) {
    const entered = open.get(e.tid);
    if (e.type === 'resume' && entered) {
      withHu.push({ ...entered, kind: 'exit', ts: e.ts, ret: 0x400 });
      open.delete(e.tid);
    }
    withHu.push(e);
    if (e.type === 'fault') {
      const h = hu('enter', { ts: e.ts, enterTs: e.ts, cpu: e.cpu, pid: e.pid, tid: e.tid, comm: e.comm, uffd: e.uffd, address: e.address });
      withHu.push(h);
      open.set(e.tid, h);
    }
  }
  const verdicts = (evs: UffdEvent[]) => {
    const a = new Analysis(uapi);
    const ends: Record<string, number> = {};
    a.onFault((r) => (ends[r.end] = (ends[r.end] ?? 0) + 1));
    a.pushAll(evs);
    a.finish();
    return ends;
  };
  assert.deepEqual(verdicts(withHu), verdicts(events));
});
