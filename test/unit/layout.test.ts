// The TypeScript record layout is generated from bpf/uffdscope.h; this test
// fails when the committed file is stale and checks every struct size the
// generator computed against what the C compiler says (via the addon).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { projectRoot } from '../../src/paths.js';
import { L, C } from '../../src/events/layout.generated.js';
import { L as L1 } from '../../src/events/layout.abi1.generated.js';
import { loadAddon } from '../../src/native/addon.js';

const gen = (await import(pathToFileURL(join(projectRoot, 'scripts', 'gen-layout.mjs')).href)) as {
  parseHeader(text: string): unknown;
  render(parsed: unknown, from?: string): string;
  targets: Array<[string, string, string]>;
};

test('layout.generated.ts and layout.abi1.generated.ts are up to date with their headers', () => {
  assert.equal(gen.targets.length, 2);
  for (const [header, output, name] of gen.targets) {
    const fresh = gen.render(gen.parseHeader(readFileSync(header, 'utf8')), name);
    assert.equal(readFileSync(output, 'utf8'), fresh, `${output}: run \`npm run gen:layout\` and commit the result`);
  }
});

test('generated struct sizes equal the C compiler sizes', () => {
  const sizes = loadAddon().recordSizes();
  const names = Object.keys(L) as Array<keyof typeof L>;
  assert.ok(names.length >= 11);
  for (const name of names) {
    assert.equal(L[name].size, sizes[name], `sizeof(struct ${name})`);
  }
  assert.equal(loadAddon().abi, C.USCOPE_RECORD_ABI);
});

test('every record struct starts with the common header (or extends a record that does) and is 8-byte sized', () => {
  for (const layout of [L, L1] as Array<Record<string, { size: number; fields: Record<string, { offset: number; struct?: string }> }>>) {
    for (const [name, s] of Object.entries(layout)) {
      if (['uscope_header', 'uscope_counters', 'uscope_uffd_key', 'uscope_uffd_stats'].includes(name)) continue; // not records
      const first = Object.values(s.fields)[0];
      assert.equal(first.offset, 0);
      assert.ok(first.struct, `${name} starts with a struct`);
      const base = first.struct === 'uscope_header' ? s : layout[first.struct!];
      assert.equal(Object.values(base.fields)[0].struct, 'uscope_header', `${name} starts with the record header`);
      assert.equal(s.size % 8, 0, `${name} size ${s.size} is a multiple of 8`);
    }
  }
});

test('the generator rejects implicit padding instead of mis-parsing', () => {
  assert.throws(
    () => gen.parseHeader('struct bad { __u32 a; __u64 b; };'),
    /implicit padding/,
  );
  assert.throws(() => gen.parseHeader('struct bad { float x; };'), /unsupported/);
});
