// Plain-text tables line up in terminal cells when a process name holds wide
// characters (CJK takes two cells): top's plain output and the report/stat tables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import stringWidth from 'string-width';
import * as fx from '../fixtures/tui/fixtures.js';
import { renderPlain } from '../../tui/plainTable.js';
import { textTable } from '../../src/stats/summaryText.js';
import { decodeUffdStats, formatKernelTable, summarizeUffd } from '../../src/stats/kernelStats.js';
import { L } from '../../src/events/layout.generated.js';

/** cell offset of `needle` in `line` */
function cellAt(line: string, needle: string): number {
  const i = line.indexOf(needle);
  assert.ok(i >= 0, `${needle} in ${line}`);
  return stringWidth(line.slice(0, i));
}

test('top plain table: columns after a wide process name start where their header does', () => {
  const s = fx.snapshot();
  s.uffds = s.uffds.map((u, i) => (i === 0 ? { ...u, comm: '名前-vmm' } : u));
  const lines = renderPlain(s).split('\n');
  const header = lines.find((l) => /^ *PID  COMM/.test(l))!;
  const wide = lines.find((l) => l.includes('名前-vmm'))!;
  const narrow = lines.find((l) => l.includes(s.uffds[1].id))!;
  for (const [line, u] of [
    [wide, s.uffds[0]],
    [narrow, s.uffds[1]],
  ] as const) {
    assert.equal(cellAt(line, u.id), cellAt(header, 'UFFD'), line);
  }
});

test('report/stat tables: padded to the widest cell in cells', () => {
  const out = textTable(['COMM', 'FAULTS'], [['名前', '1'], ['qemu', '22']], ['l', 'r'], '');
  assert.deepEqual(out.split('\n'), ['COMM  FAULTS', '名前       1', 'qemu      22']);
});

test('stat\'s in-kernel table: columns after a wide process name start where their header does', () => {
  const stats = (tgid: number) => {
    const buf = Buffer.alloc(L.uscope_uffd_stats.size);
    buf.writeUInt32LE(tgid, L.uscope_uffd_stats.fields.tgid.offset);
    return summarizeUffd(decodeUffdStats(BigInt(0xa0 + tgid), 0n, buf), () => 'sync');
  };
  const lines = formatKernelTable([stats(1), stats(2)], 0, (pid) => (pid === 1 ? '名前-vmm' : 'qemu')).split('\n');
  const header = lines.find((l) => /^ *pid +comm/.test(l))!;
  for (const [line, uffd] of [
    [lines.find((l) => l.includes('名前-vmm'))!, '0xa1'],
    [lines.find((l) => l.includes('qemu'))!, '0xa2'],
  ] as const) {
    assert.equal(cellAt(line, uffd), cellAt(header, 'uffd'), line);
  }
});
