// report folds rows that differ only in identity into one row with a count,
// and shows at most --limit rows per table ("N more"); its JSON stays whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../../src/paths.js';
import { foldRows, limitRows } from '../../src/stats/rowGroups.js';

const REC = join(projectRoot, 'test', 'fixtures', 'recordings', 'mixed.uscope');

function report(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [join(projectRoot, 'bin', 'uffdscope'), 'report', ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
}

/** The rows of one section of the text report (lines between its title and the first note or blank line). */
function section(text: string, title: string): string[] {
  const lines = text.split('\n');
  const start = lines.indexOf(title) + 2; // title, header
  const end = lines.findIndex((l, i) => i >= start && (!/^ {2}\s*\d/.test(l) || / more /.test(l)));
  return lines.slice(start, end);
}

test('foldRows: rows equal outside identity become one row with a count; identity shown as one value, a range or a count', () => {
  const rows = [
    ['0xa', '0.10', '7', 'sync', '64'],
    ['0xb', '0.30', '7', 'sync', '64'],
    ['0xa', '0.20', '7', 'async', '64'],
    ['0xa', '0.05', '7', 'sync', '64'],
  ];
  const folded = foldRows(rows, new Map([[0, { kind: 'count', noun: 'addresses' } as const], [1, { kind: 'range' } as const]]));
  assert.deepEqual(folded, [
    { count: 3, cells: ['2 addresses', '0.05..0.30', '7', 'sync', '64'] },
    { count: 1, cells: ['0xa', '0.20', '7', 'async', '64'] },
  ]);
});

test('limitRows: the first N and a line for the rest; 0 keeps all', () => {
  const r = limitRows([1, 2, 3, 4, 5], 2, (left) => `rows (${left.reduce((a, b) => a + b, 0)} things)`);
  assert.deepEqual(r, { shown: [1, 2], more: '3 more rows (12 things); --limit 0 shows all' });
  assert.deepEqual(limitRows([1, 2, 3], 0, () => 'x'), { shown: [1, 2, 3], more: null });
  assert.deepEqual(limitRows([1, 2, 3], 3, () => 'x'), { shown: [1, 2, 3], more: null });
});

test('report of the mixed recording: 12 uffds fold into 5 rows and 12 SET_MODE attempts into 4, with counts that add up', () => {
  const r = report(REC, '--limit', '0');
  assert.equal(r.status, 0, r.stderr);
  const uffds = section(r.stdout, 'Uffds');
  assert.deepEqual(uffds.map((l) => Number(l.trim().split(/ +/)[0])), [4, 2, 2, 2, 2]);
  assert.match(uffds[0], /^ {2}4 {2}4 addresses {2}0\.002454\.\.0\.019645 {2}2974 {2}uffd-workload {2}sync +0x100 +0 +64 {2}uffd-workload\/2974$/);
  const modes = section(r.stdout, 'Mode switches (UFFDIO_SET_MODE)');
  assert.deepEqual(modes.map((l) => Number(l.trim().split(/ +/)[0])), [4, 4, 2, 2]);
  assert.doesNotMatch(r.stdout, /more rows/);
});

test('report --limit 2: two rows per table and "N more" naming what was left out; --json whole', () => {
  const r = report(REC, '--limit', '2');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(section(r.stdout, 'Uffds').length, 2);
  assert.match(r.stdout, /^ {2}3 more rows \(6 uffds\); --limit 0 shows all$/m);
  assert.match(r.stdout, /^ {2}2 more rows \(4 attempts\); --limit 0 shows all$/m);
  assert.match(r.stdout, /^ {2}6 more ioctls; --limit 0 shows all$/m);
  const j = JSON.parse(report(REC, '--json', '--limit', '2').stdout) as { uffds: unknown[]; mode_switches: unknown[] };
  assert.equal(j.uffds.length, 12);
  assert.equal(j.mode_switches.length, 12);
});

test('report --limit with a bad value: one line, exit 2', () => {
  const r = report(REC, '--limit', 'all');
  assert.equal(r.status, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /--limit must be a whole number/);
});

test('report: every pid shown with its process name, handlers too (comm/pid), in the table and the JSON', () => {
  const r = report(REC, '--limit', '0');
  const uffds = section(r.stdout, 'Uffds');
  for (const l of uffds) assert.match(l, / 2974 {2}uffd-workload .* (uffd-workload\/2974|-)$/);
  assert.ok(uffds.some((l) => l.endsWith(' uffd-workload/2974')));
  for (const l of section(r.stdout, 'Mode switches (UFFDIO_SET_MODE)')) assert.match(l, / 2974 {2}uffd-workload /);
  const j = JSON.parse(report(REC, '--json').stdout) as { uffds: Array<{ handler_pids: number[]; handlers: Array<{ pid: number; comm: string | null }> }> };
  for (const u of j.uffds) assert.deepEqual(u.handlers, u.handler_pids.map((pid) => ({ pid, comm: 'uffd-workload' })));
});
