// The App under ink-testing-library, on GENERATED fixture snapshots
// (test/fixtures/tui): keys, pause, filter, help, banners and 80x24 layout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { render } from 'ink-testing-library';
import { KEY, assertFits80x24, sleep, withMounted, type Mounted } from './inkHarness.js';
import * as fx from '../fixtures/tui/fixtures.js';
import { App } from '../../tui/App.js';
import { StaticSnapshotSource, type SnapshotSource } from '../../tui/snapshotSource.js';
import { runTui } from '../../tui/run.js';
import { stripAnsi, visibleWidth } from '../../tui/format.js';
import type { TopSnapshot } from '../../src/view/topSnapshot.js';

async function withApp(snap: TopSnapshot, fn: (m: Mounted<StaticSnapshotSource>) => Promise<void>, size?: { columns?: number; rows?: number }) {
  await withMounted(new StaticSnapshotSource(snap), fn, size);
}

test('overview renders the uffd table with the fixture numbers', async () => {
  await withApp(fx.snapshot(), async (m) => {
    const f = m.frame();
    assert.match(f, /uffdscope GENERATED/);
    assert.match(f, /events 48\.2k\/s  total 1\.23M  lost 0  uffds 4  faults 16\.8k\/s  pending 4/);
    // at 80 columns HANDLER and TREND give way to whole process names; the detail pane has the rest
    assert.match(f, /^ PROCESS +UFFD +CREATED MODE +ARMED FLT\/s▼ +P50 +P99 +PEND$/m);
    assert.match(f, /^›firecracker\/4242 +…103a4c000 +- sync +2G +12\.5k +18\.4µs +412µs +3$/m);
    assert.match(f, /^ qemu-system-x86\/3117 +…10badd800 +- async +8G +3\.4k +2\.1µs +9\.8µs +0$/m);
    assert.match(f, /^ criu\/5120 +…1deadbe00 +- sync +512M +0 +- +- +0$/m);
    assert.match(f, /^ firecracker\/4242 · uffd 0xffff888103a4c000 created before tracing · sync ·\n  armed now 2G · 900k faults · p50 18\.4µs p99 412µs · handler fc_uffd\/4250$/m);
    assert.match(f, / 1 Overview {3}2 Latency {3}3 Timeline {3}4 Events/);
  });
});

test('1-4, Tab and Shift-Tab switch views; each view shows its numbers', async () => {
  await withApp(fx.snapshot(), async (m) => {
    await m.press('2');
    let f = m.frame();
    assert.match(f, /Fault latency \(fault entry → running again\)  all uffds  20\.2k faults/);
    assert.match(f, /\[16µs, 33µs\) +6100 \|@+\|/);
    assert.match(f, /queue +20\.2k +6\.3µs +22µs +120µs +2ms +33%/);
    await m.press('3');
    f = m.frame();
    assert.match(f, /window 60s +-60s/);
    assert.match(f, /▲ +-30\.0s +firecracker\/4242 +pre +→ async +drain 9\.1µs +wake-up 4\.3µs +woke 7/);
    assert.match(f, /✗EINVA/);
    await m.press('4');
    f = m.frame();
    assert.match(f, /TIME KIND +PROCESS +WHAT/);
    assert.match(f, /22\.950s ioctl uffd-workl…\/6003 #59 UFFDIO_ZEROPAGE/);
    await m.press(KEY.tab);
    assert.match(m.frame(), /PROCESS +UFFD +CREATED MODE/); // wraps to overview
    await m.press(KEY.shiftTab);
    assert.match(m.frame(), /TIME KIND/);
    await m.press(KEY.shiftTab);
    assert.match(m.frame(), /window 60s/);
  });
});

test('q and Ctrl-C call onQuit (the App never exits the process)', async () => {
  await withApp(fx.snapshot(), async (m) => {
    await m.press('q');
    assert.equal(m.quits(), 1);
    await m.press(KEY.ctrlC);
    assert.equal(m.quits(), 2);
  });
});

test('p freezes the drawn frame while the source changes, and tells the source', async () => {
  await withApp(fx.snapshot(), async (m) => {
    await m.press('p');
    assert.match(m.frame(), /PAUSED — display frozen, capture continues/);
    assert.deepEqual(m.src.calls.at(-1), ['setPaused', true]);
    const changed = fx.snapshot();
    changed.uffds[0]!.faultsPerSec = 99_900;
    changed.header.eventsPerSec = 777;
    m.src.set(changed);
    await sleep(60); // many frames
    let f = m.frame();
    assert.match(f, /12\.5k/);
    assert.ok(!f.includes('99.9k'));
    assert.ok(!f.includes('events 777/s'));
    await m.press('p');
    f = await m.waitFor((x) => x.includes('99.9k'), 'resumed frame');
    assert.ok(!f.includes('PAUSED'));
    assert.match(f, /events 777\/s/);
    assert.deepEqual(m.src.calls.at(-1), ['setPaused', false]);
  });
});

test('the App samples the source on its clock: a new snapshot shows up without a key', async () => {
  await withApp(fx.snapshot(), async (m) => {
    const next = fx.snapshot();
    next.uffds[1]!.faultsPerSec = 4321;
    m.src.set(next);
    await m.waitFor((f) => f.includes('4.32k'), 'new snapshot');
  });
});

test('/ filter: typing, Enter applies (locally and via setFilter), Esc cancels or clears', async () => {
  await withApp(fx.snapshot(), async (m) => {
    await m.press('/');
    assert.match(m.frame(), /filter \(name or pid\): █/);
    await m.press('q', 'e', 'm', 'u');
    assert.match(m.frame(), /filter \(name or pid\): qemu█/);
    assert.equal(m.quits(), 0, 'q typed into the prompt does not quit');
    await m.press(KEY.enter);
    let f = m.frame();
    assert.match(f, /^›qemu-system-x86\/3117/m, 'the cursor is on the match');
    assert.ok(!f.includes('firecracker/4242'));
    assert.ok(!f.includes('criu/5120'));
    assert.match(f, /1 of 4 uffds match "qemu"/);
    assert.match(f, /filter qemu/);
    assert.deepEqual(m.src.calls.at(-1), ['setFilter', 'qemu']);
    // events are filtered too
    await m.press('4');
    f = m.frame();
    assert.ok(!f.includes('firecracker/4242') && !f.includes('fc_uffd/4250'));
    assert.match(f, /qemu-syste…\/3117 +#55 UFFDIO_SET_MODE/);
    // a pid works as well; Esc while typing cancels the edit
    await m.press('1', '/', KEY.backspace, KEY.backspace, KEY.backspace, KEY.backspace, '5', '1', '2', '0', KEY.esc);
    f = m.frame();
    assert.match(f, /qemu-system-x86\/3117/);
    assert.ok(!f.includes('criu/5120'));
    await m.press('/', KEY.backspace, KEY.backspace, KEY.backspace, KEY.backspace, '5', '1', '2', '0', KEY.enter);
    f = m.frame();
    assert.match(f, /^›criu\/5120/m);
    assert.match(f, /1 of 4 uffds match "5120"/);
    assert.ok(!f.includes('qemu-syste'));
    // Esc outside the prompt clears the filter
    await m.press(KEY.esc);
    f = m.frame();
    assert.match(f, /firecracker\/4242/);
    assert.match(f, /4 uffds ·/);
    assert.deepEqual(m.src.calls.at(-1), ['setFilter', '']);
  });
});

test('overview: < > move the sort column in screen order, I inverts, ↑/↓ select, Enter opens that uffd in latency', async () => {
  await withApp(fx.snapshot(), async (m) => {
    const order = () =>
      m
        .frame()
        .split('\n')
        .map((l) => /^[›\s](firecracker|qemu|uffd-w|criu)\S*\/\d+ +…/.exec(l)?.[1]) // table rows, not the detail pane
        .filter(Boolean);
    assert.deepEqual(order(), ['firecracker', 'qemu', 'uffd-w', 'criu']);
    await m.press('I');
    assert.deepEqual(order(), ['criu', 'uffd-w', 'qemu', 'firecracker']);
    assert.match(m.frame(), /FLT\/s▲/);
    // the columns right of FLT/s, then it wraps to the first one
    await m.press('>');
    assert.match(m.frame(), /P50▼/);
    await m.press('>');
    assert.match(m.frame(), /P99▼/);
    assert.deepEqual(order(), ['firecracker', 'uffd-w', 'qemu', 'criu']);
    await m.press('>', '>');
    assert.match(m.frame(), / PROCESS▲/, 'past the last column shown (PEND) to the first');
    assert.deepEqual(order(), ['criu', 'firecracker', 'qemu', 'uffd-w']);
    await m.press('<');
    assert.match(m.frame(), /PEND▼/);
    await m.press('<', '<', '<', '<');
    assert.match(m.frame(), /ARMED▼/);
    await m.press('<', '<', '<');
    assert.match(m.frame(), /UFFD▲/);
    await m.press('>', '>', '>', '>');
    assert.match(m.frame(), /FLT\/s▼/);
    await m.press(KEY.down, KEY.down);
    assert.match(m.frame(), /^›uffd-workload\/6001/m);
    await m.press(KEY.up);
    assert.match(m.frame(), /^›qemu-system-x86\/3117/m);
    await m.press(KEY.enter);
    assert.deepEqual(m.src.calls.at(-1), ['selectUffd', `${fx.IDS.qemu}@-`]);
    const f = m.frame();
    assert.match(f, /Fault latency/);
    assert.match(f, /switching to …8810badd800 pre…\)/); // the static source keeps showing "all"
    await m.press('a');
    assert.deepEqual(m.src.calls.at(-1), ['selectUffd', null]);
  });
});

test('? toggles help: every key and what each number means', async () => {
  await withApp(
    fx.snapshot(),
    async (m) => {
      await m.press('?');
      const f = m.frame().replace(/\s+/g, ' ');
      for (const k of ['Tab / Shift-Tab', '1 2 3 4', 'q Ctrl-C', '? h', ' p ', ' / ', 'Esc', 'Enter', '< > (s)', 'I (r)', ' a ', 'PgUp PgDn', 'Home End', 'Space', '← →', '+ -']) {
        assert.ok(f.includes(k), `help lists ${k}`);
      }
      for (const meaning of [
        'fault latency fault entry to the faulting thread running again',
        'queue fault to the handler reading the message',
        'service message read to the resolving ioctl finishing',
        'wake resolving ioctl to the thread back on a CPU',
        'pending faults waiting now',
        "mode sync/async the uffd's RWP_ASYNC/WP_ASYNC state",
        'markers UFFDIO_SET_MODE attempts',
        'their ioctl latency',
        'drain and wake-up apart',
        'lost records the kernel could not queue',
        'generated simulated data',
      ]) {
        assert.ok(f.includes(meaning), `help explains: ${meaning}`);
      }
      await m.press('?');
      assert.match(m.frame(), /PROCESS +UFFD/);
    },
    { columns: 100, rows: 70 },
  );
});

test('help scrolls at 80x24', async () => {
  await withApp(fx.snapshot(), async (m) => {
    await m.press('?');
    let f = m.frame();
    assert.match(f, /Keys/);
    assert.match(f, /↓ more/);
    assertFits80x24(f, 'help');
    await m.press(KEY.pageDown, KEY.pageDown, KEY.pageDown);
    f = m.frame();
    assert.match(f, /records the kernel could not/);
    assertFits80x24(f, 'help scrolled');
    await m.press(KEY.esc);
    assert.match(m.frame(), /PROCESS +UFFD/);
  });
});

test('header shows the DEMO and GENERATED banners', async () => {
  await withApp(fx.snapshot({ headerOver: { demo: true, generated: false, source: 'live', selection: 'command: uffd-workload --scenario mixed' } }), async (m) => {
    const f = m.frame().replace(/\s*\n\s*/g, ' ');
    assert.ok(f.includes('DEMO: tracing the bundled workload (mixed scenario) because nothing else on this host uses userfaultfd'));
    assert.ok(!f.includes('GENERATED DATA'));
  });
  await withApp(fx.snapshot(), async (m) => {
    assert.ok(m.frame().includes('GENERATED DATA — simulated, not captured from a kernel'));
    assert.ok(!m.frame().includes('DEMO'));
  });
});

test('lost records are shown when > 0', async () => {
  await withApp(fx.snapshot({ headerOver: { lost: 1234 } }), async (m) => {
    assert.match(m.frame(), / LOST 1\.23k /);
  });
});

test('replay: space, ←/→ and +/- drive the source; the header shows position and speed', async () => {
  const snap = fx.replaySnapshot();
  await withApp(snap, async (m) => {
    assert.match(m.frame(), /REPLAY 0:12\.5 \/ 1:00\.0 .*speed 2x +PLAYING/);
    // each key starts from what the one before asked for, not from the (static) snapshot
    await m.press(' ', KEY.left, KEY.right, '+', '-', '++', ' ');
    assert.deepEqual(m.src.calls, [
      ['setPaused', true],
      ['seek', -5],
      ['seek', 5],
      ['setSpeed', 4],
      ['setSpeed', 2],
      ['setSpeed', 4],
      ['setSpeed', 8],
      ['setPaused', false],
    ]);
    m.src.set(fx.replaySnapshot(true));
    await m.waitFor((f) => /speed 2x +PAUSED/.test(f), 'replay paused');
  });
});

test('a source without controls still works: keys say what is not supported', async () => {
  const snap = fx.replaySnapshot();
  const bare: SnapshotSource = { current: () => snap, subscribe: () => () => {} };
  let quits = 0;
  const inst = render(<App source={bare} onQuit={() => quits++} frameMs={5} columns={80} rows={24} />);
  try {
    await sleep(20);
    inst.stdin.write(KEY.left);
    await sleep(30);
    assert.match(stripAnsi(inst.lastFrame() ?? ''), /this source cannot seek/);
    inst.stdin.write('p');
    await sleep(30);
    assert.match(stripAnsi(inst.lastFrame() ?? ''), /PAUSED/);
  } finally {
    inst.unmount();
  }
  assert.equal(quits, 0);
});

test('D asks a source that offers the demo to start it; without the offer, D changes nothing', async () => {
  await withApp(fx.snapshot(), async (m) => {
    const before = m.frame();
    await m.press('D');
    assert.deepEqual(m.src.calls.at(-1), ['startDemo', null]);
    assert.equal(m.frame(), before, 'the view stays as it was');
  });
  const snap = fx.snapshot();
  const noOffer: SnapshotSource = { current: () => snap, subscribe: () => () => {} };
  const inst = render(<App source={noOffer} onQuit={() => {}} frameMs={5} columns={80} rows={24} />);
  try {
    await sleep(20);
    const before = stripAnsi(inst.lastFrame() ?? '');
    inst.stdin.write('D');
    await sleep(30);
    assert.equal(stripAnsi(inst.lastFrame() ?? ''), before);
  } finally {
    inst.unmount();
  }
});

test('events: PgUp scrolls back and stays put, End follows again', async () => {
  await withApp(fx.snapshot(), async (m) => {
    await m.press('4', KEY.pageUp);
    let f = m.frame();
    const back = Number(/scrolled back (\d+) lines · End follows/.exec(f)?.[1]);
    assert.equal(back, 13); // one page: the 18-line body less its header, detail pane and status lines
    assert.ok(!f.includes('#59 '));
    const lines = f.split('\n');
    assert.match(lines[lines.length - 6]!, /#46 /); // the bottom log line, above the detail pane, status and key lines
    // the detail pane shows the selected (bottom) line in full
    assert.match(f, /^ 22\.300s \w+ \S+: #46 /m);
    // new lines arrive: the scrolled-back window stays where it is
    m.src.set(fx.snapshot({ events: [...fx.events(70).slice(5)] }));
    await sleep(40);
    assert.match(m.frame().split('\n').at(-6)!, /#46 /);
    await m.press('\u001B[F'); // End
    f = m.frame();
    assert.match(f, /#59 /);
    assert.match(f, /following newest/);
  });
});

test('every view at 80x24 fits: no line longer than 80, at most 23 lines', async () => {
  const snaps: Array<[string, TopSnapshot]> = [
    ['generated', fx.snapshot()],
    ['all banners', fx.snapshot({ headerOver: { demo: true, lost: 5, replay: { positionS: 3, durationS: 9, speed: 0.5, paused: true, ended: false }, metricsAddress: '127.0.0.1:9464' } })],
  ];
  for (const [name, snap] of snaps) {
    await withApp(snap, async (m) => {
      for (const k of ['1', '2', '3', '4', '?']) {
        await m.press(k);
        assertFits80x24(m.frame(), `${name} view ${k}`);
        if (k === '?') await m.press('?');
      }
      await m.press('p', '1', '/', 'x');
      assertFits80x24(m.frame(), `${name} paused + prompt`);
    });
  }
});

test('larger terminals get more: wider histogram, full uffd ids, more event lines', async () => {
  await withApp(
    fx.snapshot(),
    async (m) => {
      let f = m.frame();
      assert.match(f, /ffff888103a4c000/);
      assert.match(f, /firecracker\/4242 +ffff888103a4c000/);
      await m.press('2');
      f = m.frame();
      const bar = /\[16µs, 33µs\) +6100 \|(@+)\|/.exec(f)?.[1] ?? '';
      assert.ok(bar.length > 100, `bar ${bar.length}`);
      assert.match(f, /\[2\.1ms, 4\.2ms\)/); // every bucket fits now
      await m.press('4');
      f = m.frame();
      assert.match(f, /#13 /);
      for (const l of f.split('\n')) assert.ok(visibleWidth(l) <= 160);
    },
    { columns: 160, rows: 60 },
  );
});

test('runTui renders, quits on q, unmounts and restores the terminal', async () => {
  class FakeStdout extends EventEmitter {
    isTTY = true;
    columns = 80;
    rows = 24;
    out = '';
    write(s: string) {
      this.out += s;
      return true;
    }
  }
  class FakeStdin extends EventEmitter {
    isTTY = true;
    raw = false;
    data: string | null = null;
    setRawMode(v: boolean) {
      this.raw = v;
    }
    setEncoding() {}
    resume() {}
    pause() {}
    ref() {}
    unref() {}
    read() {
      const d = this.data;
      this.data = null;
      return d;
    }
    send(s: string) {
      this.data = s;
      this.emit('readable');
    }
  }
  const stdout = new FakeStdout();
  const stdin = new FakeStdin();
  const src = new StaticSnapshotSource(fx.snapshot());
  const done = runTui(src, {
    frameMs: 5,
    stdout: stdout as unknown as NodeJS.WriteStream,
    stdin: stdin as unknown as NodeJS.ReadStream,
    stderr: stdout as unknown as NodeJS.WriteStream,
  });
  try {
    // With CI set in the environment Ink draws only the final frame (at
    // unmount), so the frame is checked after quitting, below.
    for (let i = 0; i < 300 && !/firecracker\/4242/.test(stripAnsi(stdout.out)); i++) await sleep(10);
    assert.ok(stdout.out.startsWith('\u001B[?1049h'), 'alternate screen entered');
    assert.equal(stdin.raw, true);
  } finally {
    // Always quit, so a failed assertion cannot leave the UI (and the test
    // process) running.
    stdin.send('q');
    await Promise.race([done, sleep(5000)]);
  }
  await done;
  assert.match(stripAnsi(stdout.out), /firecracker\/4242/, 'the UI was drawn');
  assert.equal(stdin.raw, false, 'raw mode restored');
  assert.ok(stdout.out.endsWith('\u001B[?1049l\u001B[?25h'), 'main screen and cursor restored');
  assert.equal(src.subscriberCount, 0, 'the sampler unsubscribed');
});

test('runTui refuses a stdin that is not a terminal (use runPlain)', async () => {
  const src = new StaticSnapshotSource(fx.snapshot());
  await assert.rejects(runTui(src, { stdin: { isTTY: false } as unknown as NodeJS.ReadStream }), /needs a terminal on stdin/);
});
