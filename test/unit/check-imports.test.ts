// The import-boundary check (scripts/check-imports.mjs): this tree passes it,
// and a tree with an import up a floor, across a floor, through import(), a
// file in no layer, or files that import each other in a circle fails it,
// naming the file.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { projectRoot } from '../../src/paths.js';

const script = join(projectRoot, 'scripts', 'check-imports.mjs');
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function check(root?: string) {
  const r = spawnSync(process.execPath, [script, ...(root ? ['--root', root] : [])], { encoding: 'utf8' });
  return { code: r.status, stderr: r.stderr };
}

/** A tree of `files` (path -> text) in a new temporary directory. */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'uffdscope-imports-'));
  dirs.push(root);
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), text);
  }
  return root;
}

const lawful = {
  'src/events/types.ts': 'export type T = 1;\n',
  'src/model/model.ts': "import type { T } from '../events/types.js';\nexport const m: T = 1;\n",
  'src/cli/main.ts': "import { m } from '../model/model.js';\nconst { x } = await import('../../tui/run.js');\n",
  'tui/run.tsx': "export { m } from '../src/model/model.js';\n",
};

test('this repository passes', () => {
  const r = check();
  assert.equal(r.stderr, '');
  assert.equal(r.code, 0);
});

test('imports down the floors pass', () => {
  assert.deepEqual(check(tree(lawful)), { code: 0, stderr: '' });
});

test('a library module importing the CLI fails, naming the file and the import', () => {
  const r = check(tree({ ...lawful, 'src/model/model.ts': "import { fail } from '../cli/errors.js';\n" }));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^check-imports: src\/model\/model\.ts: imports \.\.\/cli\/errors\.js: src\/cli\/ is a floor above src\/model\//m);
});

test('an import() up a floor fails too', () => {
  const r = check(tree({ ...lawful, 'src/stats/s.ts': "export const load = () => import('../cli/main.js');\n" }));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /src\/stats\/s\.ts: imports \.\.\/cli\/main\.js/);
});

test('two units on the same floor may not import each other', () => {
  const r = check(tree({ ...lawful, 'exporters/x.ts': "export * from '../tui/run.js';\n" }));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /exporters\/x\.ts: imports \.\.\/tui\/run\.js: tui\/ is on the same floor as exporters\//);
});

test('a source file in no layer fails until its folder is placed', () => {
  const r = check(tree({ ...lawful, 'src/newthing/a.ts': 'export {};\n' }));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /src\/newthing\/a\.ts: in no layer/);
});

test('files that import each other in a circle fail, the cycle named once', () => {
  const r = check(
    tree({
      ...lawful,
      'src/model/a.ts': "import type { B } from './b.js';\nexport type A = B;\n",
      'src/model/b.ts': "import type { C } from './c.js';\nexport type B = C;\n",
      'src/model/c.ts': "import type { A } from './a.js';\nexport type C = 1;\n",
    }),
  );
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    'check-imports: src/model/a.ts: import cycle src/model/a.ts -> src/model/b.ts -> src/model/c.ts -> src/model/a.ts (move what they share into a file both import)\n',
  );
});

test('a .tsx file in a cycle is found through its .js specifier', () => {
  const r = check(
    tree({
      ...lawful,
      'tui/a.tsx': "import { b } from './b.js';\nexport const a = 1;\n",
      'tui/b.tsx': "import { a } from './a.js';\nexport const b = 2;\n",
    }),
  );
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^check-imports: tui\/a\.tsx: import cycle tui\/a\.tsx -> tui\/b\.tsx -> tui\/a\.tsx /m);
});
