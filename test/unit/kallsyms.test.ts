// kallsyms parsing: symbol ranges in one pass, and which wait check they allow.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { blockDetection, blockSymbols, textSymbolRanges } from '../../src/capture/kallsyms.js';

const dir = mkdtempSync(join(tmpdir(), 'uffdscope-kallsyms-'));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const sample = file(
  'kallsyms',
  [
    'ffffffff81756b90 t userfaultfd_wake_function',
    'ffffffff81756c40 t userfaultfd_ctx_read',
    'ffffffff81759000 d some_data',
    'ffffffff817590a0 T handle_userfault',
    'ffffffff81759940 T dump_userfault',
    'ffffffffc0000000 t mod_fn\t[some_module]',
  ].join('\n'),
);

test('ranges end at the next text symbol, data symbols ignored, one pass for several names', () => {
  const r = textSymbolRanges(['handle_userfault', 'userfaultfd_wake_function', 'absent'], sample);
  assert.deepEqual(r.handle_userfault, { start: 0xffffffff817590a0n, end: 0xffffffff81759940n });
  assert.deepEqual(r.userfaultfd_wake_function, { start: 0xffffffff81756b90n, end: 0xffffffff81756c40n });
  assert.equal(r.absent, null);
  assert.deepEqual(textSymbolRanges(['handle_userfault'], sample).handle_userfault, r.handle_userfault, 'one name alone: the same range');
});

test('block detection: wait queue when the wake function is known, else stack, else heuristic', () => {
  const all = blockSymbols(sample);
  assert.equal(all.uffdWakeFunction, 0xffffffff81756b90n);
  assert.equal(blockDetection(all), 'waitqueue');
  assert.equal(blockDetection({ handleUserfault: all.handleUserfault, uffdWakeFunction: null }), 'stack');
  assert.equal(blockDetection({ handleUserfault: null, uffdWakeFunction: null }), 'heuristic');
});

test('hidden addresses (kptr_restrict: all zero) and an unreadable file give no symbols', () => {
  const hidden = file('hidden', '0000000000000000 T handle_userfault\n0000000000000000 t userfaultfd_wake_function\n');
  assert.deepEqual(blockSymbols(hidden), { handleUserfault: null, uffdWakeFunction: null });
  assert.deepEqual(blockSymbols(join(dir, 'missing')), { handleUserfault: null, uffdWakeFunction: null });
});
