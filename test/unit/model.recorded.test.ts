// The model on a REAL recorded stream (not generated): the tracepoint backend
// tracing test/fixtures/streams/scen.c on Linux 6.18 (see scen-tracepoint.json).
// Expected values come from what scen.c does, phase by phase.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decodeAll } from '../../src/events/decode.js';
import { resolveUapi } from '../../src/events/uapi.js';
import { Analysis } from '../../src/stats/pipeline.js';
import { formatSummaryTable } from '../../src/stats/summaryText.js';
import type { FaultRecord } from '../../src/model/faultLifecycle.js';

const dir = new URL('../../../test/fixtures/streams/', import.meta.url);
const N = 20; // ./scen 20

function load() {
  const uapi = resolveUapi();
  const events = decodeAll(new Uint8Array(readFileSync(new URL('scen-tracepoint.bin', dir))), uapi);
  const meta = JSON.parse(readFileSync(new URL('scen-tracepoint.json', dir), 'utf8')) as { records: number; lost: number };
  const a = new Analysis(uapi);
  const recs: FaultRecord[] = [];
  a.onFault((r) => recs.push(r));
  a.pushAll(events);
  a.finish();
  return { events, meta, a, recs, s: a.summary({ backend: 'tracepoint', lost: meta.lost }) };
}

test('recorded stream: every phase of scen.c is recognised', () => {
  const { events, meta, recs, s, a } = load();
  assert.equal(events.length, meta.records);
  assert.equal(s.events.lost, 0);
  // fault entries: missing, WP-armed ordinary, WP, minor, WP_ASYNC, separate handler, 4 in the wake phase
  assert.equal(s.faults.entries, 6 * N + 4);
  assert.equal(recs.length, s.faults.entries);
  // userfaults: all but the WP-armed VMA's ordinary first touches
  assert.equal(s.faults.total, 5 * N + 4);
  assert.equal(s.faults.missing, 2 * N + 4);
  assert.equal(s.faults.wp, N);
  assert.equal(s.faults.minor, N);
  assert.equal(s.faults.async, N);
  assert.equal(s.faults.rwp, 0);
  assert.equal(s.faults.ended.no_wait, N);
  assert.equal(s.faults.ended.async, N);
  assert.equal(s.faults.ended.signal_or_spurious, 1);
  assert.equal(s.faults.ended.closed, 1);
  assert.equal(s.faults.ended.resolved, 4 * N + 2);
  assert.equal(s.faults.rewaits, 1);
  assert.equal(s.faults.recovered, 0);
  assert.equal(s.faults.incomplete, 0);
  assert.equal(a.lifecycle.counters.orphanMsgs, 0, 'every pagefault message joined its fault');
  // every blocked fault has all four stages, and they add up
  const blocked = recs.filter((r) => r.blocked);
  assert.equal(blocked.length, 4 * N + 4);
  for (const r of blocked) {
    const st = r.stages;
    assert.equal(st.queue! + st.service! + st.wake!, st.total!, `stage sum ${r.tid} ${r.faultTs}`);
    assert.ok(st.total! > 0);
  }
  // resolvers by kind
  const by = (kind: string) => recs.filter((r) => r.kind === kind && r.end === 'resolved').map((r) => r.resolveIoctl?.name);
  assert.ok(by('wp').every((n) => n === 'UFFDIO_WRITEPROTECT'));
  assert.ok(by('minor').every((n) => n === 'UFFDIO_CONTINUE'));
  assert.ok(by('missing').every((n) => n === 'UFFDIO_COPY'));
  // the re-wait after a spurious UFFDIO_WAKE is one fault, resolved by the COPY
  const re = recs.find((r) => r.nblocks === 2)!;
  assert.equal(re.resolveIoctl?.name, 'UFFDIO_COPY');
  assert.equal(re.end, 'resolved');
  // SET_MODE on a kernel without the RWP series: two EINVAL attempts
  assert.deepEqual(
    s.mode_switches.map((m) => [m.enable, m.disable, m.result, m.errno]),
    [
      ['0x40000', '0x0', -22, 'EINVAL'],
      ['0x40000', '0x40000', -22, 'EINVAL'],
    ],
  );
  // the separate handler process read the messages and resolved the faults
  const sep = s.uffds.filter((u) => u.handler_pids.some((p) => p !== u.pid));
  assert.equal(sep.length, 1);
  assert.equal(sep[0].faults, N);
  // the kernel reused the context address: 7 uffds, 6 at one address
  assert.equal(s.uffds.length, 7);
  assert.equal(new Set(s.uffds.map((u) => u.id)).size, 2);
  assert.deepEqual(
    s.uffds.map((u) => u.mode),
    ['sync', 'sync', 'sync', 'async', 'sync', 'sync', 'sync'],
  );
  assert.deepEqual(
    s.uffds.map((u) => u.faults),
    [N, N, N, N, 0, N, 4],
  );
  assert.equal(BigInt(s.uffds[3].features) & (1n << 15n), 1n << 15n, 'WP_ASYNC negotiated (a hex string: u64 masks never become JSON numbers)');
  assert.equal(s.ioctls.UFFDIO_COPY.count, 2 * N + 2);
  assert.equal(s.ioctls.UFFDIO_CONTINUE.count, N);
  assert.ok(formatSummaryTable(s).includes('UFFDIO_SET_MODE'));
});
