// The Perfetto exporter: traces decoded back with the same protos and checked
// structurally (exporters/perfetto/validate.ts), on a GENERATED recording
// (`simulate`, marked as such), on a real recording of the bundled workload
// (root only; skipped without it locally, a failure under CI), and on
// GENERATED event streams with lost and reordered events.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { runSimulate } from '../../src/cli/simulate.js';
import { resolveUapi } from '../../src/events/uapi.js';
import type { UffdEvent } from '../../src/events/types.js';
import { Analysis } from '../../src/stats/pipeline.js';
import { projectRoot, workloadBinary } from '../../src/paths.js';
import { exportPerfetto, type PerfettoExportOptions } from '../../exporters/perfetto/export.js';
import { PerfettoWriter } from '../../exporters/perfetto/writer.js';
import { validatePerfettoTrace, type PerfettoValidation } from '../../exporters/perfetto/validate.js';
import { StreamBuilder, thread } from './streamBuilder.js';
import { skipOrFail } from '../fixtures/skipOrFail.js';

const uapi = resolveUapi();
const dir = mkdtempSync(join(tmpdir(), 'uffdscope-export-'));
const simFile = join(dir, 'sim.uscope');

after(() => rmSync(dir, { recursive: true, force: true }));

before(() => {
  // GENERATED: a short mode-toggle scenario (RWP faults, SET_MODE switches)
  runSimulate({ scenario: 'mode-toggle', output: simFile, seed: 7, duration: 3, faultRate: 200, uapi, force: true });
});

function faultSlices(v: PerfettoValidation) {
  return v.slices.filter((s) => s.category === 'uffd.fault');
}

function exportAndCheck(rec: string, name: string, opts: PerfettoExportOptions = {}) {
  const out = join(dir, name);
  const r = exportPerfetto(rec, out, null, { force: true, ...opts });
  const v = validatePerfettoTrace(out);
  assert.deepEqual(v.errors, [], 'structural errors');
  return { r, v, out };
}

test('simulated recording: structure, counts, flows, stages, generated marker', () => {
  const { r, v } = exportAndCheck(simFile, 'sim.pftrace');
  const s = r.summary;
  assert.ok(s.faults.total > 1000, `enough faults (${s.faults.total})`);
  // one slice per userfault
  assert.equal(faultSlices(v).length, s.faults.total);
  assert.equal(r.stats.faultSlices, s.faults.total);
  assert.equal(r.stats.late, 0);
  assert.equal(r.stats.forcedFlushes, 0);
  // one sequence, cleared first, with a clock snapshot (BOOTTIME <-> REALTIME)
  assert.deepEqual(v.sequences, [1]);
  assert.ok(v.clockSnapshot);
  // ioctl slices: one per ioctl exit
  const ioctls = v.slices.filter((x) => x.category === 'uffd.ioctl');
  assert.equal(ioctls.length, s.events.by_type.ioctl_exit);
  // every resolved fault has its flow (validate checks each is fault <-> ioctl, once each way)
  const resolved = faultSlices(v).filter((x) => x.args.resolved_by !== undefined).length;
  assert.ok(resolved > 0);
  assert.equal(v.flows, resolved);
  assert.equal(r.stats.flowsMissed, 0);
  // a flow ends on the ioctl the record names
  const byFlow = new Map<number, string>();
  for (const x of ioctls) for (const id of [...x.flowIds, ...x.terminatingFlowIds]) byFlow.set(id, x.name);
  for (const f of faultSlices(v)) {
    for (const id of [...f.flowIds, ...f.terminatingFlowIds]) assert.equal(byFlow.get(id), f.args.resolved_by);
  }
  // stage slices, inside their faults (validate), queue + service + wake == the fault when all known
  const stages = v.slices.filter((x) => x.category === 'uffd.stage');
  assert.ok(stages.some((x) => x.name === 'queue') && stages.some((x) => x.name === 'service') && stages.some((x) => x.name === 'wake'));
  // fault annotations
  const f0 = faultSlices(v).find((x) => x.args.end_reason === 'resolved')!;
  assert.match(String(f0.args.address), /^0x[0-9a-f]+$/);
  assert.match(String(f0.args.uffd), /^0x[0-9a-f]+$/);
  assert.ok(['rwp', 'async', 'missing', 'wp', 'minor', 'unknown'].includes(String(f0.args.kind)));
  assert.equal(typeof f0.args.error_code, 'number');
  // SET_MODE attempts: one instant each, with the summary's result and woken counts
  const sm = v.instants.filter((i) => i.name.startsWith('UFFDIO_SET_MODE'));
  assert.equal(sm.length, s.mode_switches.length);
  const want = s.mode_switches.map((m) => `${m.ts_ns}/${m.result}/${m.woken}`).sort();
  const got = sm.map((i) => `${i.args.enter_ts_ns}/${i.args.result}/${i.args.waiters_woken}`).sort();
  assert.deepEqual(got, want);
  assert.ok(sm.some((i) => i.args.errno === 'EINVAL'), 'the refused switch');
  // the same timings and names as the summary: ioctl latency, and drain and wake-up apart
  const byTs = new Map(s.mode_switches.map((m) => [m.ts_ns, m]));
  for (const i of sm) {
    const m = byTs.get(Number(i.args.enter_ts_ns))!;
    assert.equal(i.args.latency_ns, m.latency_ns ?? undefined);
    assert.equal(i.args.drain_ns, m.drain_ns ?? undefined);
    assert.equal(i.args.wakeup_ns, m.wakeup_ns ?? undefined);
  }
  assert.ok(sm.some((i) => Number(i.args.drain_ns) > 0 && Number(i.args.wakeup_ns) > 0), 'a switch with drain and wake-up apart');
  assert.ok(sm.some((i) => i.args.errno === 'EINVAL' && i.args.drain_ns === undefined), 'no drain for a refused attempt');
  assert.ok(s.mode_switches.some((m) => m.woken > 0), 'a switch that woke waiters');
  // mode spans: sync and async slices on per-uffd tracks that are children of the owner process
  const modes = v.slices.filter((x) => x.category === 'uffd.mode');
  assert.ok(modes.some((x) => x.name === 'async') && modes.some((x) => x.name === 'sync'));
  for (const m of modes) {
    const t = v.tracks.get(m.track)!;
    assert.match(t.name ?? '', /^\[generated\] uffd 0x[0-9a-f]+( created \+\d+\.\d{6}s)? mode$/);
    assert.ok(t.parent !== null && v.tracks.get(t.parent)!.processName !== undefined, 'uffd track under its owner process');
  }
  // counters per uffd: faults/s, blocked faults, async-resolved faults
  const counterNames = [...v.tracks.values()].filter((t) => t.counter).map((t) => t.name ?? '');
  for (const what of ['faults/s', 'blocked faults', 'async-resolved faults']) {
    assert.ok(counterNames.some((n) => n.endsWith(what)), `a ${what} counter`);
  }
  // blocked faults go back to 0; async-resolved ends at the summary's async count
  let asyncTotal = 0;
  for (const [uuid, samples] of v.counters) {
    const name = v.tracks.get(uuid)!.name ?? '';
    if (name.endsWith('blocked faults')) assert.equal(samples[samples.length - 1].value, 0);
    if (name.endsWith('async-resolved faults')) asyncTotal += samples[samples.length - 1].value;
    if (name.endsWith('faults/s')) assert.equal(samples[samples.length - 1].value, 0);
  }
  assert.equal(asyncTotal, s.faults.ended.async);
  // GENERATED marker: names and an instant at the start
  const procs = [...v.tracks.values()].filter((t) => t.processName !== undefined);
  assert.ok(procs.length >= 2);
  for (const p of procs) assert.match(p.processName!, /^\[generated\] /);
  for (const t of v.tracks.values()) if (t.threadName !== undefined) assert.match(t.threadName, /^\[generated\] /);
  const marker = v.instants.find((i) => i.name.startsWith('GENERATED DATA'));
  assert.ok(marker, 'GENERATED DATA instant');
  assert.equal(marker!.ts, Math.min(...v.instants.map((i) => i.ts), ...v.slices.map((x) => x.start)));
});

test('real mixed-workload recording: one set of tracks per uffd, though the kernel reused their addresses', () => {
  const fx = join(projectRoot, 'test', 'fixtures', 'recordings');
  const truth = JSON.parse(readFileSync(join(fx, 'mixed.truth.json'), 'utf8')) as { uffds_created: number; faults: { total: number } };
  const { r, v } = exportAndCheck(join(fx, 'mixed.uscope'), 'mixed.pftrace');
  const s = r.summary;
  assert.equal(s.uffds.length, truth.uffds_created);
  assert.ok(new Set(s.uffds.map((u) => u.id)).size < truth.uffds_created, 'addresses were reused');
  const modeTracks = [...v.tracks.values()].filter((t) => / mode$/.test(t.name ?? ''));
  assert.equal(modeTracks.length, truth.uffds_created, 'one mode track per uffd');
  const want = s.uffds.map((u) => `uffd ${u.id} created +${((u.created_ns! - s.start_ns!) / 1e9).toFixed(6)}s mode`).sort();
  assert.deepEqual(modeTracks.map((t) => t.name).sort(), want);
  // each SET_MODE instant is on the track of the uffd the summary names
  const sm = v.instants.filter((i) => i.name.startsWith('UFFDIO_SET_MODE'));
  assert.equal(sm.length, s.mode_switches.length);
  for (const i of sm) {
    const m = s.mode_switches.find((x) => x.ts_ns === i.args.enter_ts_ns)!;
    assert.equal(v.tracks.get(i.track)!.name, `uffd ${m.uffd} created +${((m.uffd_created_ns! - s.start_ns!) / 1e9).toFixed(6)}s mode`);
  }
  // faults/s counters: the userfaults of each uffd add up to the workload's
  assert.equal(faultSlices(v).length, truth.faults.total);
});

test('bounded buffers: forced output and late records keep the trace well formed and complete', () => {
  // tiny buffer: operations written early
  const a = exportAndCheck(simFile, 'forced.pftrace', { maxBufferedOps: 1024, reorderWindowMs: 1 });
  assert.equal(faultSlices(a.v).length, a.r.summary.faults.total);
  // records held far less than they take: many come after their time was written
  const b = exportAndCheck(simFile, 'late.pftrace', { maxHoldMs: 0.05, reorderWindowMs: 0, maxBufferedOps: 1024 });
  assert.ok(b.r.stats.late > 0, 'late records');
  assert.ok(b.v.sequences.length > 1, 'late records on their own sequences');
  assert.equal(b.r.stats.lateDropped, 0);
  assert.equal(faultSlices(b.v).length, b.r.summary.faults.total);
});

test('real recording of the bundled workload (root)', (t) => {
  const why =
    typeof process.getuid === 'function' && process.getuid() !== 0
      ? 'not root'
      : !existsSync(workloadBinary)
        ? 'workload not built'
        : !existsSync('/sys/kernel/btf/vmlinux')
          ? 'no kernel BTF'
          : null;
  if (why) return skipOrFail(t, `real recording needed: ${why}`);
  const rec = join(dir, 'real.uscope');
  const p = spawnSync(join(projectRoot, 'bin', 'uffdscope'), ['record', '-o', rec, '--force', '--', workloadBinary, '--scenario', 'mixed', '--pages', '64'], {
    encoding: 'utf8',
    timeout: 60_000,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (p.status !== 0 || !existsSync(rec)) {
    return skipOrFail(t, `record failed (${p.status}): ${p.stderr.trim().split('\n').pop()}`);
  }
  const { r, v } = exportAndCheck(rec, 'real.pftrace');
  assert.ok(r.summary.faults.total > 0, 'faults traced');
  assert.equal(faultSlices(v).length, r.summary.faults.total);
  assert.ok(v.flows > 0);
  // no generated marker on captured data
  assert.equal(v.instants.filter((i) => i.name.startsWith('GENERATED')).length, 0);
  for (const tr of v.tracks.values()) {
    assert.doesNotMatch(tr.processName ?? '', /generated/);
    assert.doesNotMatch(tr.name ?? '', /generated/);
  }
  assert.ok(statSync(join(dir, 'real.pftrace')).size > 0);
});

// GENERATED streams: random interleavings of sync faults, async faults,
// ioctls and SET_MODE on several threads, with events lost and reordered as
// a lossy ring buffer would. The trace must stay well formed and complete.
test('generated lossy, reordered streams stay well formed (property)', () => {
  const U = 0xffff888012340000n;
  const vcpus = [thread(100, 101, 'vcpu0'), thread(100, 102, 'vcpu1'), thread(100, 103, 'vcpu2')];
  const handler = thread(100, 110, 'handler');
  const step = fc.oneof(
    fc.record({ k: fc.constant('sync' as const), v: fc.nat(2), page: fc.nat(31) }),
    fc.record({ k: fc.constant('async' as const), v: fc.nat(2), page: fc.nat(31) }),
    fc.record({ k: fc.constant('ioctl' as const), v: fc.nat(2), page: fc.nat(31) }),
    fc.record({ k: fc.constant('setmode' as const), v: fc.nat(2), page: fc.nat(31) }),
    fc.record({ k: fc.constant('idle' as const), v: fc.nat(2), page: fc.nat(31) }),
  );
  let n = 0;
  fc.assert(
    fc.property(fc.array(step, { minLength: 1, maxLength: 50 }), fc.array(fc.nat(), { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 12 }), (steps, drops, swaps) => {
      const b = new StreamBuilder(5_000_000_000);
      b.create(handler, U);
      for (const s of steps) {
        const t = vcpus[s.v];
        const addr = 0x7f0000000000n + BigInt(s.page) * 4096n;
        if (s.k === 'sync') b.missingFault(t, handler, U, addr);
        else if (s.k === 'async') {
          const rwpAsync = Number(uapi.UFFD_FEATURE_RWP_ASYNC);
          b.fault(t, U, addr, { armed: ['unknown'], ctxFeatures: rwpAsync, errorCode: 4 });
        } else if (s.k === 'ioctl') b.ioctl(t, U, 'UFFDIO_WAKE', { start: addr, len: 4096n });
        else if (s.k === 'setmode') b.ioctl(handler, U, 'UFFDIO_SET_MODE', { enable: uapi.UFFD_FEATURE_RWP_ASYNC, disable: 0n }, s.page % 3 === 0 ? -22 : 0);
        else b.tick(2_000_000 * (s.page + 1));
      }
      const events: UffdEvent[] = b.events.slice();
      for (const d of drops) if (events.length > 2) events.splice(1 + (d % (events.length - 1)), 1);
      for (const w of swaps) {
        const i = w % (events.length - 1);
        if (i + 1 < events.length) [events[i], events[i + 1]] = [events[i + 1], events[i]];
      }
      const out = join(dir, `prop-${n++ % 4}.pftrace`);
      const analysis = new Analysis(uapi);
      const w = new PerfettoWriter(out, { uapi, analysis, force: true, reorderWindowMs: 1, maxHoldMs: 5 });
      for (const e of events) {
        analysis.push(e);
        w.event(e);
      }
      analysis.finish();
      const st = w.close();
      const v = validatePerfettoTrace(out);
      assert.deepEqual(v.errors, []);
      const s = analysis.summary({ backend: 'generated' });
      assert.equal(faultSlices(v).length + st.lateDropped + st.laneOverflow, s.faults.total);
      assert.equal(st.lateDropped + st.laneOverflow, 0);
    }),
    { numRuns: Number(process.env.FC_RUNS ?? 60), seed: process.env.FC_SEED ? Number(process.env.FC_SEED) : 20261125 },
  );
});
