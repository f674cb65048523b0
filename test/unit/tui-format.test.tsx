// Unit tests of the TUI's pure formatting helpers (tui/format.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  SPARK_CHARS,
  bar,
  barLength,
  fit,
  fitColumns,
  formatAgo,
  formatClock,
  formatCount,
  formatMiB,
  formatNs,
  formatNsBound,
  formatUptime,
  matchesFilter,
  procLabel,
  resample,
  shortUffd,
  sparkline,
  stripAnsi,
  truncate,
  truncateStart,
  visibleWidth,
  wordWrap,
} from '../../tui/format.js';

test('formatNs: ns, µs, ms, s with 3 significant digits', () => {
  assert.equal(formatNs(0), '0ns');
  assert.equal(formatNs(850), '850ns');
  assert.equal(formatNs(999), '999ns');
  assert.equal(formatNs(1000), '1µs');
  assert.equal(formatNs(1234), '1.23µs');
  assert.equal(formatNs(12_345), '12.3µs');
  assert.equal(formatNs(123_456), '123µs');
  assert.equal(formatNs(999_400), '999µs');
  assert.equal(formatNs(999_600), '1ms'); // promoted, never "1000µs"
  assert.equal(formatNs(1_500_000), '1.5ms');
  assert.equal(formatNs(2_040_000_000), '2.04s');
  assert.equal(formatNs(5_000_000_000_000), '5000s');
  assert.equal(formatNs(null), '-');
  assert.equal(formatNs(Number.NaN), '-');
  assert.equal(formatNs(-5), '0ns');
});

test('formatNs never takes more than 6 cells below 1000 s', () => {
  for (let e = 0; e < 12; e += 0.01) {
    const s = formatNs(10 ** e);
    assert.ok(visibleWidth(s) <= 6, `${10 ** e} -> ${s}`);
  }
});

test('formatNsBound: histogram bounds of log2 buckets', () => {
  assert.equal(formatNsBound(0), '0');
  assert.equal(formatNsBound(512), '512ns');
  assert.equal(formatNsBound(1024), '1µs');
  assert.equal(formatNsBound(4096), '4.1µs');
  assert.equal(formatNsBound(16384), '16µs');
  assert.equal(formatNsBound(2 ** 20), '1ms');
});

test('formatCount, formatMiB, formatUptime, formatClock, formatAgo', () => {
  assert.equal(formatCount(0), '0');
  assert.equal(formatCount(950), '950');
  assert.equal(formatCount(12.5), '12.5');
  assert.equal(formatCount(1234), '1.23k');
  assert.equal(formatCount(12_500), '12.5k');
  assert.equal(formatCount(999_999), '1M');
  assert.equal(formatCount(3_400_000), '3.4M');
  assert.equal(formatMiB(0.5), '512K');
  assert.equal(formatMiB(512), '512M');
  assert.equal(formatMiB(1536), '1.5G');
  assert.equal(formatUptime(45), '45s');
  assert.equal(formatUptime(185), '3m05s');
  assert.equal(formatUptime(3720), '1h02m');
  assert.equal(formatClock(12.5), '0:12.5');
  assert.equal(formatClock(62), '1:02.0');
  assert.equal(formatAgo(-42.1), '-42.1s');
  assert.equal(formatAgo(0), 'now');
});

test('sparkline: ▁..█ scaled to the max, zero is blank, exactly width cells', () => {
  assert.equal(sparkline([1, 2, 3, 4, 5, 6, 7, 8], 8), '▁▂▃▄▅▆▇█');
  assert.equal(sparkline([0, 8], 2), ' █');
  assert.equal(sparkline([0.01, 100], 2), '▁█'); // any positive value is visible
  assert.equal(sparkline([], 4), '    ');
  assert.equal(sparkline([5, 5], 4), '  ██'); // newest right-aligned
  assert.equal(sparkline([1, 2, 3, 4, 5, 6, 7, 8], 3), '▆▇█'); // tail: the newest points
  assert.equal(sparkline([4, 8], 2, { max: 16 }), '▂▄');
  assert.equal(sparkline([0, 0, 0], 3), '   ');
  const r = sparkline([1, 8], 6, { fit: 'resample' });
  assert.equal(r, '▁▁▁███');
  for (const w of [1, 5, 17, 60]) {
    assert.equal([...sparkline([3, 1, 4, 1, 5, 9, 2, 6], w)].length, w);
    assert.equal([...sparkline([3, 1, 4, 1, 5, 9, 2, 6], w, { fit: 'resample' })].length, w);
  }
  for (const ch of sparkline([1, 2, 3, 4, 5, 6, 7, 8], 8)) assert.ok(SPARK_CHARS.includes(ch as (typeof SPARK_CHARS)[number]));
});

test('resample keeps spikes when shrinking', () => {
  assert.deepEqual(resample([0, 0, 9, 0, 0, 0], 2), [9, 0]);
  assert.deepEqual(resample([1, 2], 4), [1, 1, 2, 2]);
  assert.deepEqual(resample([], 3), []);
});

test('bar scaling', () => {
  assert.equal(barLength(0, 100, 40), 0);
  assert.equal(barLength(100, 100, 40), 40);
  assert.equal(barLength(50, 100, 40), 20);
  assert.equal(barLength(1, 1_000_000, 40), 1); // never invisible
  assert.equal(bar(50, 100, 10), '@@@@@     ');
  assert.equal(bar(200, 100, 4), '@@@@');
});

test('truncate, truncateStart, fit: ellipsis and exact widths', () => {
  assert.equal(truncate('firecracker', 20), 'firecracker');
  assert.equal(truncate('firecracker', 6), 'firec…');
  assert.equal(truncate('abc', 1), '…');
  assert.equal(truncate('abc', 0), '');
  assert.equal(truncateStart('0xffff888103a4c000', 8), '…3a4c000');
  assert.equal(fit('ab', 5), 'ab   ');
  assert.equal(fit('ab', 5, 'right'), '   ab');
  assert.equal(fit('abcdefgh', 5), 'abcd…');
  assert.equal(fit('µs', 4).length, 4);
});

test('shortUffd and procLabel keep what tells entries apart', () => {
  assert.equal(shortUffd('0xffff888103a4c000', 7), '…a4c000');
  assert.equal(shortUffd('0xffff888103a4c000', 16), 'ffff888103a4c000');
  assert.equal(shortUffd('all'), 'all');
  assert.equal(procLabel('qemu-system-x86', 3117, 40), 'qemu-system-x86/3117');
  assert.equal(procLabel('qemu-system-x86', 3117, 12), 'qemu-s…/3117');
});

test('fitColumns: fits, drops lowest priority first, grows within max', () => {
  const specs = [
    { min: 10, max: 20, grow: 1, dropPriority: 9 },
    { min: 5, dropPriority: 5 },
    { min: 8, max: 40, grow: 2, dropPriority: 1 },
  ];
  const wide = fitColumns(specs, 100);
  assert.deepEqual(wide, [20, 5, 40]);
  const exact = fitColumns(specs, 25);
  assert.deepEqual(exact, [10, 5, 8]);
  const narrow = fitColumns(specs, 20);
  assert.deepEqual(narrow, [14, 5, 0]); // the third column is dropped, the first grows into its room
  for (const total of [16, 30, 47, 80, 200]) {
    const w = fitColumns(specs, total);
    const shown = w.filter((x) => x > 0);
    const used = shown.reduce((a, x) => a + x, 0) + Math.max(0, shown.length - 1);
    assert.ok(used <= total, `${total}: ${w}`);
  }
});

test('wordWrap never exceeds the width', () => {
  const text = 'DEMO: tracing the bundled workload (mixed scenario) because nothing else on this host uses userfaultfd';
  for (const w of [10, 20, 40, 78]) {
    const lines = wordWrap(text, w);
    assert.ok(lines.length > 0);
    for (const l of lines) assert.ok([...l].length <= w, `${w}: ${l}`);
    if (w >= 20) assert.equal(lines.join(' '), text); // nothing lost when every word fits
  }
});

test('matchesFilter: name substring (any case) or exact pid; several terms', () => {
  assert.ok(matchesFilter('', 'x', 1));
  assert.ok(matchesFilter('QEMU', 'qemu-system-x86', 3117));
  assert.ok(matchesFilter('3117', 'qemu-system-x86', 3117));
  assert.ok(!matchesFilter('311', 'qemu-system-x86', 3117));
  assert.ok(matchesFilter('criu, qemu', 'qemu-system-x86', 3117));
  assert.ok(!matchesFilter('firecracker', 'qemu-system-x86', 3117));
});

test('stripAnsi and visibleWidth', () => {
  assert.equal(stripAnsi('\u001B[31mred\u001B[39m'), 'red');
  assert.equal(visibleWidth('\u001B[1m▲ 12.3µs\u001B[22m'), 8);
});

test('widths are terminal cells: wide CJK and emoji take two, combining marks none', () => {
  assert.equal(visibleWidth('qemu-名前'), 9);
  assert.equal(visibleWidth('fc-🚀'), 5);
  assert.equal(visibleWidth('cafe\u0301'), 4);
  // cut between whole characters, never inside one, and padded to the exact width
  assert.equal(truncate('vmm-名前-vcpu', 8), 'vmm-名…');
  assert.equal(fit('vmm-名前-vcpu', 8), 'vmm-名… ');
  assert.equal(visibleWidth(fit('名前名前', 5)), 5);
  assert.equal(fit('名前', 6, 'right'), '  名前');
  assert.equal(truncateStart('vcpu-名前', 5), '…名前');
  assert.equal(truncate('cafe\u0301-vm', 5), 'cafe\u0301…');
  assert.equal(procLabel('名前名前名前', 4242, 10), '名前…/4242');
});
