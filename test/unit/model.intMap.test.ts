// IntMap (src/model/intMap.ts): the lifecycle's per-thread and per-page
// indices. It must behave like the Map it replaces, order included.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { IntMap } from '../../src/model/intMap.js';

type Op = { op: 'set'; k: number; v: number } | { op: 'del'; k: number } | { op: 'get'; k: number } | { op: 'clear' } | { op: 'iter'; delEvery: number };

function same(m: IntMap<number>, ref: Map<number, number>, where: string): void {
  assert.equal(m.size, ref.size, `${where}: size`);
  assert.deepEqual([...m.keys()], [...ref.keys()], `${where}: keys in insertion order`);
  assert.deepEqual([...m.values()], [...ref.values()], `${where}: values in insertion order`);
}

test('IntMap behaves like Map: random operations, order included', () => {
  // few distinct keys (lots of delete + set again of the same key) and wide ones
  const key = fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }));
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ op: fc.constant('set' as const), k: key, v: fc.integer() }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant('del' as const), k: key }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('get' as const), k: key }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('iter' as const), delEvery: fc.integer({ min: 0, max: 3 }) }) },
    { weight: 1, arbitrary: fc.constant({ op: 'clear' as const }) },
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 600 }), (ops) => {
      const m = new IntMap<number>();
      const ref = new Map<number, number>();
      ops.forEach((o, n) => {
        switch (o.op) {
          case 'set':
            m.set(o.k, o.v);
            ref.set(o.k, o.v);
            break;
          case 'del':
            assert.equal(m.delete(o.k), ref.delete(o.k));
            break;
          case 'get':
            assert.equal(m.get(o.k), ref.get(o.k));
            assert.equal(m.has(o.k), ref.has(o.k));
            break;
          case 'clear':
            m.clear();
            ref.clear();
            break;
          case 'iter': {
            // delete entries while iterating: the current one, and every
            // delEvery-th later one (not visited afterwards, as with Map)
            const seen: number[] = [];
            const seenRef: number[] = [];
            const run = (it: Iterable<number>, del: (k: number) => void, keys: () => number[], out: number[]) => {
              let i = 0;
              for (const k of it) {
                out.push(k);
                if (o.delEvery > 0 && i++ % o.delEvery === 0) {
                  del(k);
                  const later = keys().filter((x) => x !== k);
                  if (later.length > 1) del(later[later.length - 1]);
                }
              }
            };
            run(m.keys(), (k) => m.delete(k), () => [...m.keys()], seen);
            run(ref.keys(), (k) => ref.delete(k), () => [...ref.keys()], seenRef);
            assert.deepEqual(seen, seenRef, `op ${n}: keys visited while deleting`);
            break;
          }
        }
        same(m, ref, `after op ${n} (${o.op})`);
      });
    }),
    { numRuns: 300 },
  );
});

test('IntMap: a key deleted and set again goes to the end; a set of a present key keeps its place', () => {
  const m = new IntMap<string>();
  m.set(1, 'a').set(2, 'b').set(3, 'c');
  m.set(2, 'B');
  assert.deepEqual([...m.values()], ['a', 'B', 'c']);
  m.delete(1);
  m.set(1, 'A');
  assert.deepEqual([...m.keys()], [2, 3, 1]);
});

test('IntMap: churn of one key, then of many distinct keys, stays consistent across rebuilds', () => {
  const m = new IntMap<number>();
  for (let i = 0; i < 100_000; i++) {
    m.set(7, i);
    assert.equal(m.get(7), i);
    m.delete(7);
  }
  assert.equal(m.size, 0);
  const ref = new Map<number, number>();
  for (let i = 0; i < 200_000; i++) {
    const k = (i * 2654435761) % 1_000_003;
    m.set(k, i);
    ref.set(k, i);
    if (i >= 64) {
      const old = ((i - 64) * 2654435761) % 1_000_003;
      assert.equal(m.delete(old), ref.delete(old));
    }
  }
  same(m, ref, 'after distinct-key churn');
  // grows for a burst, shrinks back once it is over
  for (let k = 0; k < 50_000; k++) m.set(k + 2_000_000, k);
  assert.equal(m.size, ref.size + 50_000);
  for (let k = 0; k < 50_000; k++) m.delete(k + 2_000_000);
  for (let i = 0; i < 1000; i++) {
    m.set(-1, i);
    m.delete(-1);
  }
  same(m, ref, 'after a burst');
});

test('IntMap: keys added during an iteration that rebuild the table make the iteration throw', () => {
  const m = new IntMap<number>();
  for (let k = 0; k < 4; k++) m.set(k, k);
  assert.throws(() => {
    for (const v of m.values()) for (let k = 100; k < 200; k++) m.set(k + v * 1000, k);
  }, /changed under an iteration/);
  const c = new IntMap<number>();
  c.set(1, 1).set(2, 2);
  assert.throws(() => {
    for (const _ of c.keys()) c.clear();
  }, /changed under an iteration/);
});

test('IntMap: a deleted value is not held', () => {
  const m = new IntMap<object>();
  const o = { x: 1 };
  m.set(5, o);
  m.delete(5);
  // the slot keeps the key for probing, never the value
  assert.ok(!((m as unknown as { valAt: unknown[] }).valAt.includes(o)));
});
