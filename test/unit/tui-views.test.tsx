// The TUI views' line builders on GENERATED fixture snapshots
// (test/fixtures/tui): expected numbers, layout widths, plain-text fallback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fx from '../fixtures/tui/fixtures.js';
import { rowText, rowWidth, type Row } from '../../tui/rows.js';
import { overviewRows, visibleUffds } from '../../tui/OverviewView.js';
import { histogramRows, latencyRows, stageRows, stageShare } from '../../tui/LatencyView.js';
import { columnOf, markerRow, modeBar, timelineRows, visibleLanes } from '../../tui/TimelineView.js';
import { eventsRows, filterEvents, scrollAnchor, anchorIndex } from '../../tui/EventsView.js';
import { KEY_HELP, MEANINGS, helpRows } from '../../tui/HelpView.js';
import { GENERATED_BANNER, demoBanner, headerRows } from '../../tui/Header.js';
import { tabBarRow } from '../../tui/TabBar.js';
import { renderPlain } from '../../tui/plainTable.js';
import { runPlain } from '../../tui/run.js';
import { StaticSnapshotSource } from '../../tui/snapshotSource.js';
import { derive, initialUiState, nextSpeed, reduceKey, type KeyContext } from '../../tui/uiState.js';

const text = (rows: Row[]) => rows.map(rowText).join('\n');
const WIDTHS = [40, 60, 80, 100, 132, 200];

function assertFits(rows: Row[], width: number, what: string) {
  rows.forEach((r, i) => assert.ok(rowWidth(r) <= width, `${what} @${width} line ${i} is ${rowWidth(r)}: ${rowText(r)}`));
}

test('overview: the fixture numbers, sorted by faults/s, selection marker', () => {
  const s = fx.snapshot();
  const rows = visibleUffds(s.uffds, '', 'faults', false);
  const out = text(overviewRows({ rows, total: 4, selectedKey: `${fx.IDS.firecracker}@-`, sortKey: 'faults', reversed: false, filter: '', width: 80, height: 18 }));
  const lines = out.split('\n');
  assert.match(lines[0]!, /^ PROCESS +UFFD +CREATED MODE +ARMED FLT\/s▼ +P50 +P99 +PEND$/);
  assert.match(lines[1]!, /^›firecracker\/4242 +…103a4c000 +- sync +2G +12\.5k +18\.4µs +412µs +3$/);
  assert.match(lines[2]!, /^ qemu-system-x86\/3117 .*async +8G +3\.4k +2\.1µs +9\.8µs +0/);
  assert.match(lines[4]!, /^ criu\/5120 .*sync +512M +0 +- +- +0$/);
  // wider: HANDLER gets what its cells need before TREND takes the rest
  const wide = overviewRows({ rows, total: 4, selectedKey: `${fx.IDS.firecracker}@-`, sortKey: 'faults', reversed: false, filter: '', width: 132, height: 18 }).map(rowText);
  assert.match(wide[0]!, /PEND HANDLER {14}TREND +$/); // HANDLER is 20 wide: qemu-system-x86/3117
  assert.match(wide[2]!, / qemu-system-x86\/3117 [▁▂▃▄▅▆▇█]{24}$/);
  assert.match(wide.join('\n'), /[▁▂▃▄▅▆▇█]{3}/); // the trend sparkline
  assert.match(lines[lines.length - 1]!, /4 uffds · 2 async · 4 pending · sort FLT\/s▼/);
});

test('overview: sorting, reversing and filtering', () => {
  const s = fx.snapshot();
  const ids = (k: Parameters<typeof visibleUffds>[2], rev: boolean, f = '') => visibleUffds(s.uffds, f, k, rev).map((r) => r.comm);
  assert.deepEqual(ids('faults', false), ['firecracker', 'qemu-system-x86', 'uffd-workload', 'criu']);
  assert.deepEqual(ids('faults', true), ['criu', 'uffd-workload', 'qemu-system-x86', 'firecracker']);
  assert.deepEqual(ids('p99', false), ['firecracker', 'uffd-workload', 'qemu-system-x86', 'criu']); // no latency last
  assert.deepEqual(ids('process', false), ['criu', 'firecracker', 'qemu-system-x86', 'uffd-workload']);
  assert.deepEqual(ids('faults', false, 'qemu'), ['qemu-system-x86']);
  assert.deepEqual(ids('faults', false, '5120'), ['criu']);
  const out = text(overviewRows({ rows: [], total: 4, selectedKey: null, sortKey: 'faults', reversed: false, filter: 'nope', width: 80, height: 10 }));
  assert.match(out, /no uffd matches filter "nope"/);
});

test('latency: bpftrace-style histogram rows, bars scaled to the width', () => {
  const s = fx.snapshot();
  const rows = histogramRows(s.latency.buckets, 80, 20).map(rowText);
  assert.equal(rows.length, 13); // [512ns, 1µs) .. [2.1ms, 4.2ms), empty ends left out
  const peak = rows.find((r) => r.startsWith('[16µs, 33µs)'))!;
  assert.match(peak, /^\[16µs, 33µs\) +6100 \|@+\|$/);
  const barOf = (r: string) => (/\|(@*) *\|/.exec(r)?.[1] ?? '').length;
  assert.equal(rowWidth([{ text: peak }]), 79);
  const full = barOf(peak);
  assert.ok(full >= 50, `peak bar ${full}`);
  const half = rows.find((r) => r.startsWith('[8.2µs, 16µs)'))!;
  assert.equal(barOf(half), Math.round((3900 / 6100) * full));
  assert.match(rows.at(-1)!, /^\[2\.1ms, 4\.2ms\) +1 \|@ +\|$/);
  // wider terminal, wider bars
  const wide = histogramRows(s.latency.buckets, 160, 20).map(rowText);
  assert.ok(barOf(wide.find((r) => r.startsWith('[16µs'))!) > full + 50);
  // not enough lines: the busiest buckets, the rest summed each side
  const few = histogramRows(s.latency.buckets, 80, 6).map(rowText);
  assert.equal(few.length, 6);
  assert.match(few[0]!, /^< 4\.1µs +1600 faults in faster buckets/);
  assert.match(few.at(-1)!, /^>= 66µs +2042 faults in slower buckets \(10%\)/);
  assert.match(text(histogramRows([], 80, 5)), /no fault has a measured latency yet/);
});

test('latency: stage table with count, p50, p90, p99, max and share of total p50', () => {
  const s = fx.snapshot();
  const lines = stageRows(s.latency, 80).map(rowText);
  assert.match(lines[0]!, /STAGE\s+COUNT\s+P50\s+P90\s+P99\s+MAX\s+%P50/);
  assert.match(lines[1]!, /^total\s+20\.2k\s+18\.9µs\s+61µs\s+240µs\s+3\.9ms\s+100%/);
  assert.match(lines[2]!, /^queue\s+20\.2k\s+6\.3µs\s+22µs\s+120µs\s+2ms\s+33%/);
  assert.match(lines[3]!, /^service\s+20\.1k\s+9\.8µs\s+30µs\s+95µs\s+1\.7ms\s+52%/);
  assert.match(lines[4]!, /^wake\s+20\.2k\s+2\.4µs\s+6\.1µs\s+31µs\s+400µs\s+13%/);
  assert.equal(stageShare(s.latency.queue, s.latency.total), 6300 / 18900);
  assert.equal(stageShare({ count: 0, p50Ns: null, p90Ns: null, p99Ns: null, maxNs: null }, s.latency.total), null);
  const wide = stageRows(s.latency, 140).map(rowText).join('\n');
  assert.match(wide, /fault → handler reads the message/);
  const sel = text(latencyRows({ latency: { ...s.latency, selected: `${fx.IDS.qemu}@-` }, uffds: s.uffds, width: 80, height: 19 }));
  assert.match(sel, /^Fault latency  uffd …8810badd800 pre qemu-system-x86\/3117  20\.2k faults$/m);
  assert.match(sel, /qemu-system-x86\/3117/);
});

test('timeline: mode bar, markers positioned by time, errno, legend with ioctl latency, drain, wake-up and woken', () => {
  const s = fx.snapshot();
  const fc = s.timeline.lanes[0]!;
  assert.equal(columnOf(-30, 60, 60), 30);
  assert.equal(columnOf(0, 60, 60), 59);
  assert.equal(columnOf(-60, 60, 60), 0);
  assert.equal(columnOf(-61, 60, 60), null);
  const marks = rowText(markerRow(fc.markers, 60, 60));
  assert.equal([...marks].length, 60);
  assert.equal([...marks][30], '▲');
  assert.equal([...marks][48], '▲');
  assert.equal([...marks][55], '✗');
  assert.equal([...marks].slice(56, 60).join(''), 'EINV'); // errno, cut at the edge
  const bar = [...rowText(modeBar(fc.spans, 60, 60))];
  assert.equal(bar[10], '─');
  assert.equal(bar[40], '█');
  assert.equal(bar[55], '─');
  const out = text(timelineRows({ timeline: s.timeline, lanes: s.timeline.lanes, scroll: 0, width: 80, height: 19 }));
  assert.match(out, /^firecracker\/4242 /m);
  assert.match(out, /^…f888103a4c000 pre ─/m); // which uffd: address tail, created before tracing
  assert.match(out, /^sync +16k\/s max /m);
  // only the ioctl latency where the drain was not observed (tracepoint backend, or refused)
  assert.match(out, /✗ +-5\.0s +firecracker\/4242 +pre +EINVAL enable 0x80 disable 0x0 +ioctl 900ns$/m);
  assert.match(out, /▲ +-30\.0s +firecracker\/4242 +pre +→ async +drain 9\.1µs +wake-up 4\.3µs +woke 7/);
  assert.match(out, /▲ +-45\.0s +qemu-system-…\/3117 pre +→ async +ioctl 8\.7µs +woke 2/);
  assert.match(out, /▲ switched +✗ refused +─ sync +█ async/);
  assert.match(out, /16k\/s max/);
  // filter narrows the lanes
  assert.deepEqual(visibleLanes(s.timeline, s.uffds, 'qemu').map((l) => l.label), ['qemu-system-x86/3117']);
});

test('events: newest at the bottom, filter, scroll anchor survives new lines', () => {
  const s = fx.snapshot();
  const lines = eventsRows({ events: s.events, total: 60, filter: '', anchor: null, width: 80, height: 19 }).map(rowText);
  assert.match(lines[0]!, /TIME\s+KIND\s+PROCESS\s+WHAT/);
  assert.match(lines[lines.length - 5]!, /#59 UFFDIO_ZEROPAGE/);
  assert.match(lines.at(-1)!, /following newest .*lines 47-60 of 60/);
  // the detail pane: the selected (newest) line in full
  const pane = lines.slice(-4, -1).map((l) => l.trim()).filter((l) => l).join(' ');
  assert.equal(pane, `${s.events[59]!.atS.toFixed(3)}s ioctl uffd-workload/6003: ${s.events[59]!.text}`);
  const q = filterEvents(s.events, 'qemu');
  assert.ok(q.length > 0 && q.every((e) => e.comm.includes('qemu')));
  const back = scrollAnchor(s.events, null, -10, 17);
  assert.ok(back);
  assert.equal(anchorIndex(s.events, back), 49);
  // more lines arrive and old ones fall out: the anchored line stays at the bottom
  const more = [...s.events.slice(5), ...fx.events(70).slice(60)];
  assert.equal(more[anchorIndex(more, back)]!.text, s.events[49]!.text);
  assert.equal(scrollAnchor(s.events, back, 100, 17), null); // back to following
  const scrolled = eventsRows({ events: s.events, total: 60, filter: '', anchor: back, width: 80, height: 19 }).map(rowText);
  assert.match(scrolled.at(-1)!, /scrolled back 10 lines · End follows/);
});

test('help: every key and every meaning', () => {
  const out = text(helpRows(80));
  for (const [k, v] of KEY_HELP) {
    assert.ok(out.includes(k), `key ${k}`);
    assert.ok(out.replace(/\s+/g, ' ').includes(v), `key text ${v}`);
  }
  for (const [k, v] of MEANINGS) {
    assert.ok(out.includes(k), `term ${k}`);
    assert.ok(out.replace(/\s+/g, ' ').includes(v), `meaning ${v}`);
  }
  const flat = out.replace(/\s+/g, ' ');
  for (const must of [
    'fault entry to the faulting thread running again',
    'fault to the handler reading the message',
    'message read to the resolving ioctl finishing',
    'resolving ioctl to the thread back on a CPU',
    'faults waiting now',
    "the uffd's RWP_ASYNC/WP_ASYNC state",
    'UFFDIO_SET_MODE attempts',
    'ioctl latency (drain and wake-up apart with the fentry/kprobe backends) and the waiters they woke',
    'records the kernel could not queue',
    'simulated data',
  ]) {
    assert.ok(flat.includes(must), must);
  }
});

test('header: DEMO, GENERATED, replay and PAUSED banners; lost highlighted', () => {
  const demo = text(headerRows({ header: fx.header({ demo: true, generated: false, source: 'live' }), width: 200 }));
  assert.ok(demo.includes('DEMO: tracing the bundled workload (mixed scenario) because nothing else on this host uses userfaultfd'));
  assert.ok(!demo.includes('GENERATED DATA'));
  assert.equal(demoBanner('command: uffd-workload --scenario postcopy').includes('(postcopy scenario)'), true);
  const gen = text(headerRows({ header: fx.header(), width: 80 }));
  assert.ok(gen.includes(GENERATED_BANNER));
  const replay = text(headerRows({ header: fx.replaySnapshot(true).header, width: 100 }));
  assert.match(replay, /REPLAY 0:12\.5 \/ 1:00\.0/);
  assert.match(replay, /speed 2x/);
  assert.match(replay, /PAUSED/);
  const paused = text(headerRows({ header: fx.header(), width: 80, paused: true }));
  assert.match(paused, /PAUSED — display frozen/);
  const lostRows = headerRows({ header: fx.header({ lost: 1234 }), width: 80 });
  const lostSeg = lostRows.flat().find((x) => x.text.includes('LOST'));
  assert.ok(lostSeg && lostSeg.bg === 'red', 'lost > 0 is highlighted');
  assert.match(lostSeg!.text, /LOST 1\.23k/);
  const noLost = headerRows({ header: fx.header(), width: 80 }).flat().find((x) => x.text.includes('lost'));
  assert.ok(noLost && !noLost.bg);
});

test('every builder fits every width', () => {
  const s = fx.snapshot({ headerOver: { demo: true, lost: 99, replay: { positionS: 1, durationS: 2, speed: 1, paused: true, ended: false }, metricsAddress: '127.0.0.1:9464' } });
  for (const w of WIDTHS) {
    assertFits(headerRows({ header: s.header, width: w, paused: true, totals: { uffds: 4, faultsPerSec: 1e6, pending: 3 } }), w, 'header');
    assertFits([tabBarRow({ active: 'events', width: w, filter: 'a-very-long-filter-term,another' })], w, 'tabs');
    for (const h of [5, 19, 40]) {
      const rows = visibleUffds(s.uffds, '', 'faults', false);
      const o = overviewRows({ rows, total: 4, selectedKey: null, sortKey: 'p50', reversed: true, filter: '', width: w, height: h });
      assertFits(o, w, 'overview');
      assert.ok(o.length <= h);
      const l = latencyRows({ latency: s.latency, uffds: s.uffds, width: w, height: h, requested: fx.IDS.qemu });
      assertFits(l, w, 'latency');
      assert.ok(l.length <= h);
      const t = timelineRows({ timeline: s.timeline, lanes: s.timeline.lanes, scroll: 0, width: w, height: h });
      assertFits(t, w, 'timeline');
      assert.ok(t.length <= h);
      const e = eventsRows({ events: s.events, total: 60, filter: 'fire', anchor: null, width: w, height: h });
      assertFits(e, w, 'events');
      assert.ok(e.length <= h);
    }
    assertFits(helpRows(w), w, 'help');
  }
});

test('renderPlain: header, uffd table, latency stages, mode switches; no ANSI', () => {
  const s = fx.snapshot({ headerOver: { demo: true, lost: 7 } });
  const out = renderPlain(s);
  assert.ok(!out.includes('\u001B'), 'no escape codes');
  assert.ok(!/[\u0000-\u0008\u000b-\u001f]/.test(out), 'no control characters');
  const lines = out.trimEnd().split('\n');
  assert.match(lines[0]!, /^uffdscope generated  kernel 6\.12\.0-rwp\+  backend tracepoint  tracing host-wide  events 48\.2k\/s  total 1234567  lost 7 \(!\)  up 1m23s$/);
  assert.ok(out.includes('DEMO: tracing the bundled workload'));
  assert.ok(out.includes(GENERATED_BANNER));
  assert.match(out, /PID +COMM +UFFD +CREATED +MODE +ARMED +FLT\/s +FAULTS +P50 +P99 +PENDING +HANDLER/);
  assert.match(out, /4242 +firecracker +0xffff888103a4c000 +- +sync +2G +12\.5k +900000 +18\.4µs +412µs +3 +fc_uffd\/4250/);
  assert.match(out, /latency \(all uffds, 20242 faults\): total p50 18\.9µs p99 240µs \| queue p50 6\.3µs p99 120µs \(33% of p50\)/);
  assert.match(out, /mode switches \(newest first\):\n  -5\.0s firecracker\/4242 0xffff888103a4c000 pre REFUSED EINVAL/);
  assert.match(out, /-30\.0s firecracker\/4242 0xffff888103a4c000 pre ok → async drain 9\.1µs wake-up 4\.3µs woke 7/);
});

test('runPlain writes a table now and on every tick of its schedule until stopped', () => {
  const src = new StaticSnapshotSource(fx.snapshot());
  const chunks: string[] = [];
  let tick: (() => void) | null = null;
  let stopped = false;
  const stop = runPlain(
    src,
    (t) => {
      tick = t;
      return () => (stopped = true);
    },
    (t) => chunks.push(t),
  );
  assert.equal(chunks.length, 1, 'a table at once');
  tick!();
  tick!();
  assert.equal(chunks.length, 3, 'one more per tick');
  assert.equal(stopped, false);
  stop();
  assert.equal(stopped, true, 'stopping it stops the schedule');
  assert.ok(chunks.every((c) => !c.includes('\u001B')));
});

test('key map as a pure reducer: views, sort, selection, replay speeds', () => {
  const snap = fx.replaySnapshot();
  const ctx: KeyContext = { snapshot: snap, latest: snap, width: 80, height: 24, can: { setPaused: true, seek: true, setSpeed: true, setFilter: true, selectUffd: true, startDemo: false } };
  let ui = initialUiState();
  const press = (input: string, key = {}) => {
    const r = reduceKey(ui, input, key, ctx);
    ui = r.ui;
    return r.effects;
  };
  press('', { tab: true });
  assert.equal(ui.view, 'latency');
  press('', { tab: true, shift: true });
  press('', { tab: true, shift: true });
  assert.equal(ui.view, 'events');
  press('1');
  press('', { downArrow: true });
  assert.equal(derive(ui, snap, 80, 24).selectedKey, `${fx.IDS.qemu}@-`);
  assert.deepEqual(press('', { return: true }), [{ type: 'selectUffd', id: `${fx.IDS.qemu}@-` }]);
  assert.equal(ui.view, 'latency');
  assert.deepEqual(press('a'), [{ type: 'selectUffd', id: null }]);
  assert.deepEqual(press(' '), [{ type: 'setPaused', paused: true }]);
  assert.deepEqual(press('', { leftArrow: true }), [{ type: 'seek', deltaS: -5 }]);
  assert.deepEqual(press('', { rightArrow: true }), [{ type: 'seek', deltaS: 5 }]);
  assert.deepEqual(press('+'), [{ type: 'setSpeed', x: 4 }]);
  assert.deepEqual(press('-'), [{ type: 'setSpeed', x: 2 }], 'from the 4x asked for, not the 2x the snapshot still shows');
  assert.equal(nextSpeed(64, 1), 64);
  assert.equal(nextSpeed(0.1, -1), 0.1);
  assert.deepEqual(press('q'), [{ type: 'quit' }]);
  assert.deepEqual(press('c', { ctrl: true }), [{ type: 'quit' }]);
});
