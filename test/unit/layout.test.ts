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
import { loadAddon } from '../../src/native/addon.js';

const gen = (await import(pathToFileURL(join(projectRoot, 'scripts', 'gen-layout.mjs')).href)) as {
  parseHeader(text: string): unknown;
  render(parsed: unknown): string;
  headerPath: string;
  outputPath: string;
};

test('layout.generated.ts is up to date with bpf/uffdscope.h', () => {
  const fresh = gen.render(gen.parseHeader(readFileSync(gen.headerPath, 'utf8')));
  const committed = readFileSync(join(projectRoot, 'src', 'events', 'layout.generated.ts'), 'utf8');
  assert.equal(committed, fresh, 'run `npm run gen:layout` and commit the result');
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

test('every record struct starts with the common header and is 8-byte sized', () => {
  for (const [name, s] of Object.entries(L)) {
    if (['uscope_header', 'uscope_counters', 'uscope_uffd_key', 'uscope_uffd_stats'].includes(name)) continue; // not records
    const h = (s.fields as Record<string, { offset: number; struct?: string }>).h;
    assert.ok(h, `${name} has a header`);
    assert.equal(h.offset, 0);
    assert.equal(h.struct, 'uscope_header');
    assert.equal(s.size % 8, 0, `${name} size ${s.size} is a multiple of 8`);
  }
});

test('the generator rejects implicit padding instead of mis-parsing', () => {
  assert.throws(
    () => gen.parseHeader('struct bad { __u32 a; __u64 b; };'),
    /implicit padding/,
  );
  assert.throws(() => gen.parseHeader('struct bad { float x; };'), /unsupported/);
});
