// Frame tests of every view on a REAL capture: the mixed workload recorded
// on Linux 6.18 (test/fixtures/recordings/mixed.uscope, the workload's own
// account in mixed.truth.json), replayed through the same driver, model and
// snapshot publisher as `uffdscope replay`. The kernel reused context
// addresses in this run, so it also checks that each uffd is its own row and
// lane. Keys go in as a terminal sends them, several per chunk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../src/paths.js';
import { ReplayDriver, replayHeader, replayPublisher } from '../../src/view/replayDriver.js';
import type { SnapshotPublisher } from '../../src/view/snapshotPublisher.js';
import { KEY, assertFits80x24, withMounted, type Mounted } from './inkHarness.js';
import { EVENT_DETAIL_LINES, eventDetail } from '../../tui/EventsView.js';

const dir = join(projectRoot, 'test', 'fixtures', 'recordings');
const file = join(dir, 'mixed.uscope');

interface Truth {
  pid: number;
  uffds_created: number;
  ioctls: Record<string, { count: number; errors: number }>;
  scenarios: Array<{ scenario: string; uffds_created: number; faults: { total: number; wp_async: number }; latency_ns: { fault: { count: number } } }>;
}
const truth = JSON.parse(readFileSync(join(dir, 'mixed.truth.json'), 'utf8')) as Truth;

/** The replay's source; played to the end unless `atStart`. */
function replay(atStart = false): { driver: ReplayDriver; pub: SnapshotPublisher } {
  const driver = new ReplayDriver(file, null, replayHeader, 1);
  const pub = replayPublisher(driver, 0, 20);
  if (!atStart) driver.seek(driver.durationS + 1);
  pub.refresh();
  return { driver, pub };
}

/** Mounts the App on the replay; the publisher refreshes on its clock as in `uffdscope replay` (the driver is not ticked). */
async function withReplay(fn: (m: Mounted<SnapshotPublisher>, driver: ReplayDriver) => Promise<void>, opts: { atStart?: boolean; columns?: number; rows?: number } = {}) {
  const { driver, pub } = replay(opts.atStart);
  pub.start();
  try {
    await withMounted(pub, (m) => fn(m, driver), opts);
  } finally {
    pub.stop();
  }
}

/** Table rows of the overview (not the detail pane): "›uffd-workload/2974 …bb09780 0.013931s ..." */
function tableRows(f: string): string[] {
  return f.split('\n').filter((l) => /^[› ]\S+\/\d+ +…[0-9a-f]+ /.test(l));
}

// what the workload did, uffd by uffd in creation order (the same order as scenarios)
const perUffd = truth.scenarios.flatMap((s) => Array.from({ length: s.uffds_created }, (_, i) => (i === 0 ? s : null)));

test('recorded mixed run: the overview has one row per uffd though the kernel reused their addresses', async () => {
  assert.equal(perUffd.length, truth.uffds_created);
  await withReplay(async (m, driver) => {
    const snap = m.src.current();
    assert.equal(snap.uffds.length, truth.uffds_created);
    assert.equal(new Set(snap.uffds.map((r) => r.key)).size, truth.uffds_created);
    assert.ok(new Set(snap.uffds.map((r) => r.id)).size < truth.uffds_created, 'addresses were reused in this run');
    // each uffd's faults and mode, in creation order, are the workload's
    const byCreation = [...snap.uffds].sort((a, b) => a.createdS! - b.createdS!);
    assert.deepEqual(
      byCreation.map((r) => r.faultsTotal),
      perUffd.map((s) => s?.faults.total ?? 0),
    );
    assert.deepEqual(
      byCreation.map((r) => r.mode),
      perUffd.map((s) => (s !== null && s.faults.wp_async > 0 ? 'async' : 'sync')),
    );
    assert.ok(snap.uffds.every((r) => r.closed && r.pid === truth.pid));

    const f = m.frame();
    assertFits80x24(f, 'overview');
    assert.match(f, /REPLAY 0:00\.3 \/ 0:00\.3 .* ENDED /);
    assert.match(f, new RegExp(`uffds ${truth.uffds_created} `));
    const rows = tableRows(f);
    assert.equal(rows.length, truth.uffds_created);
    // the CREATED column tells apart the uffds at one address
    const shown = rows.map((l) => /…([0-9a-f]+) +(\d+\.\d{6})s /.exec(l)!.slice(1, 3).join('@'));
    assert.equal(new Set(shown).size, truth.uffds_created);
    assert.match(f, new RegExp(`^${truth.uffds_created} uffds · 2 async · ${truth.uffds_created} closed · 0 pending · sort FLT/s▼$`, 'm'));
    // the detail pane: the selected row in full
    assert.match(f, new RegExp(`^ uffd-workload/${truth.pid} · uffd 0x[0-9a-f]+ created \\+\\d\\.\\d{6}s \\(closed\\) ·\n  async · armed now 0 · 64 faults · p50 - p99 - · handler uffd-workload/${truth.pid}$`, 'm'));
    assert.equal(driver.atEnd, true);
  });
});

test('recorded mixed run: keys in one chunk run in order (sort, invert, select, Enter) and the latency view follows the uffd', async () => {
  await withReplay(async (m) => {
    // CREATED is three columns left of FLT/s; invert to oldest first
    await m.press('<<<', 'I');
    let f = m.frame();
    assert.match(f, /CREATED▲/);
    const created = tableRows(f).map((l) => Number(/ (\d+\.\d{6})s /.exec(l)![1]));
    assert.deepEqual(created, [...created].sort((a, b) => a - b));
    assert.match(tableRows(f)[0]!, /^›/);
    // jjj then kk: the third row down, then back to the first
    await m.press('jjj');
    assert.match(tableRows(m.frame())[3]!, /^›/);
    await m.press('kkk');
    assert.match(tableRows(m.frame())[0]!, /^›/);
    // the first uffd made: the first postcopy run; Enter shows its latency
    await m.press(KEY.enter);
    f = m.frame();
    const first = truth.scenarios[0]!;
    assert.equal(first.scenario, 'postcopy');
    assert.match(f, new RegExp(`Fault latency .*uffd …[0-9a-f]+ \\+\\d\\.\\d{6}s uffd-workload/${truth.pid}  ${first.latency_ns.fault.count} faults`));
    assert.equal(m.src.current().latency.total.count, first.latency_ns.fault.count);
    assertFits80x24(f, 'latency');
    await m.press('a');
    assert.match(m.frame(), /all uffds/);
  });
});

test('recorded mixed run: a pasted filter is typed into the prompt; counts and cursor stay right', async () => {
  await withReplay(async (m) => {
    await m.press(`/${truth.pid}\r`);
    let f = m.frame();
    assert.match(f, new RegExp(`${truth.uffds_created} of ${truth.uffds_created} uffds match "${truth.pid}"`));
    assert.match(f, /Overview/);
    assert.equal(tableRows(f).length, truth.uffds_created);
    assert.match(tableRows(f)[0]!, /^›/);
    await m.press('/\u007f\u007f\u007f\u007f9999\r');
    f = m.frame();
    assert.match(f, new RegExp(`0 of ${truth.uffds_created} uffds match "9999"`));
    assert.match(f, /no uffd matches filter "9999"/);
    await m.press(KEY.esc);
    assert.equal(tableRows(m.frame()).length, truth.uffds_created);
  });
});

test('recorded mixed run: the timeline has a lane per uffd and every SET_MODE attempt', async () => {
  await withReplay(async (m) => {
    const lanes = m.src.current().timeline.lanes;
    assert.equal(lanes.length, truth.uffds_created);
    assert.equal(new Set(lanes.map((l) => l.key)).size, truth.uffds_created);
    const attempts = truth.ioctls.UFFDIO_SET_MODE!;
    assert.equal(lanes.reduce((a, l) => a + l.markers.length, 0), attempts.count);
    assert.equal(lanes.flatMap((l) => l.markers).filter((x) => !x.ok && x.errno === 'EINVAL').length, attempts.errors);
    // the lanes with attempts come first, one per set-mode run
    const setModeRuns = truth.scenarios.filter((s) => s.scenario === 'set-mode').length;
    assert.deepEqual(
      lanes.map((l) => l.markers.length > 0),
      lanes.map((_, i) => i < setModeRuns),
    );
    await m.press('3');
    const f = m.frame();
    assertFits80x24(f, 'timeline');
    assert.match(f, /window 60s/);
    // both lanes with attempts are drawn: ✗ and its errno in the marker row
    const markerRows = f.split('\n').filter((l) => /^uffd-workload\/\d+ +✗/.test(l));
    assert.equal(markerRows.length, setModeRuns);
    // each lane names its uffd: address tail and creation time, all different
    const ids = f.split('\n').filter((l) => /^…[0-9a-f]+ \+\d+\.\d{6}s( |$)/.test(l));
    assert.ok(ids.length >= 2);
    assert.equal(new Set(ids.map((l) => l.slice(0, 17))).size, ids.length);
    // the newest attempts listed under the legend, the rest counted
    assert.match(f, new RegExp(`^  \\+${truth.ioctls.UFFDIO_SET_MODE!.count - 3} older mode switches$`, 'm'));
    assert.match(f, /✗ +-0\.\ds +uffd-workload\/\d+ +\+0\.\d{6}s EINVAL enable 0x[0-9a-f]+ disable 0x[0-9a-f]+  +ioc/);
    // j scrolls the lanes
    await m.press('jj');
    assert.match(m.frame(), /lanes 3-\d+ of 12/);
  });
});

test('recorded mixed run: the events view lists what the workload did and shows the selected line in full', async () => {
  await withReplay(async (m) => {
    const events = m.src.current().events;
    const ioc = truth.ioctls;
    assert.equal(events.filter((e) => e.kind === 'mode').length, ioc.UFFDIO_SET_MODE!.count);
    assert.equal(events.filter((e) => e.kind === 'error').length, ioc.UFFDIO_API!.errors + ioc.UFFDIO_RWPROTECT!.errors);
    assert.equal(events.filter((e) => / created via syscall/.test(e.text)).length, truth.uffds_created);
    assert.equal(events.filter((e) => e.text.startsWith('UFFDIO_REGISTER')).length, ioc.UFFDIO_REGISTER!.count);
    await m.press('4');
    let f = m.frame();
    assertFits80x24(f, 'events');
    assert.match(f, new RegExp(`following newest .*of ${events.length}`));
    // Home: the oldest page; its bottom line is the selected one, shown in full under the log
    await m.press(KEY.home);
    f = m.frame();
    const lines = f.split('\n');
    const logStart = lines.findIndex((l) => /TIME KIND +PROCESS +WHAT/.test(l)) + 1;
    const logEnd = lines.length - 2 - EVENT_DETAIL_LINES; // the pane, then the view's status line and the keys
    assert.match(lines[logStart]!, new RegExp(` ${events[0]!.atS.toFixed(3)}s ${events[0]!.kind}`));
    const shown = logEnd - logStart;
    const sel = events[shown - 1]!;
    assert.ok(lines[logEnd - 1]!.includes(sel.text.slice(0, 20)), 'the bottom log line is the selected event');
    const pane = lines.slice(logEnd, logEnd + EVENT_DETAIL_LINES).map((l) => l.trim()).filter((l) => l).join(' ');
    assert.equal(pane, eventDetail(sel));
  });
});

test('recorded mixed run: help (h) says what ARMED and CREATED mean', async () => {
  await withReplay(
    async (m) => {
      await m.press('h');
      const f = m.frame().replace(/\s+/g, ' ');
      assert.ok(f.includes('ARMED address space registered on the uffd now (0 after UNREGISTER)'));
      assert.ok(f.includes('CREATED seconds after the start when the uffd was created'));
      assert.ok(f.includes('< > (s) overview: sort by the column to the left / right (in screen order)'));
      await m.press('h');
      assert.match(m.frame(), /PROCESS +UFFD +CREATED/);
    },
    { columns: 100, rows: 80 },
  );
});

test('recorded mixed run: replay pauses, seeks while paused, and ends', async () => {
  await withReplay(
    async (m, driver) => {
      assert.match(m.frame(), /REPLAY 0:00\.0 \/ 0:00\.3 .* PLAYING /);
      await m.press(' ');
      assert.equal(driver.paused, true);
      await m.waitFor((f) => / PAUSED /.test(f) && !/display frozen/.test(f), 'playback paused, display live');
      // → while paused: the view moves to the end of the recording
      await m.press(KEY.right);
      let f = await m.waitFor((x) => / ENDED /.test(x), 'ended');
      assert.equal(tableRows(f).length, truth.uffds_created);
      assert.match(f, /← seeks back/);
      // ← back to the start: nothing yet, paused again
      await m.press(KEY.left);
      f = await m.waitFor((x) => / PAUSED /.test(x), 'back at the start');
      assert.match(f, /REPLAY 0:00\.0/);
      assert.match(f, /no uffds yet/);
      // p is the same as Space in a replay; ++ in one chunk: two speed steps
      await m.press('p');
      assert.equal(driver.paused, false);
      await m.press('++');
      assert.equal(driver.speed, 4);
    },
    { atStart: true },
  );
});
