import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonPieces } from '../../src/cli/jsonPieces.js';

const whole = (v: Record<string, unknown>, key: string) => [...jsonPieces(v, key)].join('');

test('jsonPieces joins to JSON.stringify(value, null, 2), byte for byte', () => {
  const row = (i: number) => ({ uffd: `0x${i.toString(16)}`, n: i, hist: [[1.5, 2], [3, 4]], nested: { a: [], b: {}, s: 'tab\there "q" \u0000 é' }, none: null });
  const cases: Array<Record<string, unknown>> = [
    { schema: 'x/1', uffds: [row(1), row(2), row(3)], totals: { n: 6 } },
    { uffds: [row(7)] },
    { a: 1, uffds: [], b: [1, 2] },
    { a: 1, uffds: [1, 'two', null, [3], { k: [] }], z: 'end' },
    { a: 'no rows key here' },
    { uffds: [undefined, row(0)], after: true },
  ];
  for (const v of cases) assert.equal(whole(v, 'uffds'), JSON.stringify(v, null, 2));
});

test('jsonPieces gives one piece per array element, plus the text around them', () => {
  const v = { head: 1, uffds: [{ a: 1 }, { a: 2 }, { a: 3 }, { a: 4 }], tail: 2 };
  assert.equal([...jsonPieces(v, 'uffds')].length, 4 + 2);
});
