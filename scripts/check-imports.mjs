#!/usr/bin/env node
// Import-boundary check: the layers run one way. Each source file belongs to
// a unit (a folder, or a file at the top of src/); a unit may import itself
// and units on LOWER floors only, never one on its own floor or above. Tests
// are outside the layers (they exercise every floor). Exit 1 on a violation
// or on a source file no unit holds; `--graph` prints the unit-level imports.
//
//   node scripts/check-imports.mjs [--root DIR] [--graph]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Floors, top first (docs/architecture.md draws the same). */
export const FLOORS = [
  ['bench/'], // measurements: drive any layer
  ['src/cli/'], // the composition root: commands wire everything below
  ['tui/', 'exporters/'], // views and sinks
  ['src/view/', 'src/check/'], // snapshot models for the views; run comparison
  ['src/pipeline/'], // source -> events -> analysis -> sinks
  ['src/stats/', 'src/capture/', 'src/simulate/', 'src/source/'], // analysis; live, generated and recorded sources
  ['src/model/', 'src/recording/', 'src/native/'], // lifecycle and uffd model; file format; the addon
  ['src/events/', 'src/outputPath.ts'], // records and uapi; output-path checks
  ['src/kernel/', 'src/exitCodes.ts', 'src/paths.ts'], // tables of kernel knowledge (uffd ioctls, backends); exit codes and their errors; where files are
];

const SOURCE = /\.(ts|tsx|mts|mjs|js)$/;
const ROOTS = ['src', 'tui', 'exporters', 'bench'];

function unitOf(rel) {
  for (let floor = 0; floor < FLOORS.length; floor++) {
    for (const u of FLOORS[floor]) if (u.endsWith('/') ? rel.startsWith(u) : rel === u) return { unit: u, floor };
  }
  return null;
}

function* sourceFiles(root, dir) {
  let names;
  try {
    names = readdirSync(join(root, dir));
  } catch {
    return;
  }
  for (const n of names.sort()) {
    const rel = `${dir}/${n}`;
    const st = statSync(join(root, rel));
    if (st.isDirectory()) {
      if (n !== 'node_modules') yield* sourceFiles(root, rel);
    } else if (SOURCE.test(n) && !n.endsWith('.d.ts')) yield rel;
  }
}

// static imports and re-exports (`from '...'`), bare `import '...'`, and import('...') with a literal
const IMPORT_RES = [/^\s*(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/gm, /^\s*import\s*['"]([^'"]+)['"]/gm, /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g];

/** Relative import specifiers of a source text. */
export function importsOf(text) {
  const out = [];
  for (const re of IMPORT_RES) for (const m of text.matchAll(re)) if (m[1].startsWith('.')) out.push(m[1]);
  return out;
}

/** Every violation under `root`, as one line each; `edges`: unit -> set of units it imports. */
export function checkImports(root) {
  const problems = [];
  const edges = new Map();
  for (const top of ROOTS) {
    for (const rel of sourceFiles(root, top)) {
      const from = unitOf(rel);
      if (!from) {
        problems.push(`${rel}: in no layer: add its folder to FLOORS in scripts/check-imports.mjs (and docs/architecture.md)`);
        continue;
      }
      for (const spec of importsOf(readFileSync(join(root, rel), 'utf8'))) {
        const target = relative(root, resolve(root, dirname(rel), spec)).split(sep).join('/').replace(/\.js$/, '.ts');
        const to = unitOf(target) ?? unitOf(target.replace(/\.ts$/, '.tsx'));
        if (!to) continue; // outside the layers (package.json, generated files...)
        if (!edges.has(from.unit)) edges.set(from.unit, new Set());
        edges.get(from.unit).add(to.unit);
        if (to.unit === from.unit || to.floor > from.floor) continue;
        const where = to.floor === from.floor ? 'on the same floor as' : 'a floor above';
        problems.push(`${rel}: imports ${spec}: ${to.unit} is ${where} ${from.unit} (move what both need to a lower floor)`);
      }
    }
  }
  return { problems, edges };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--root');
  const root = at >= 0 ? resolve(args[at + 1] ?? '.') : dirname(dirname(fileURLToPath(import.meta.url)));
  const { problems, edges } = checkImports(root);
  if (args.includes('--graph')) {
    for (const [from, tos] of [...edges].sort()) process.stdout.write(`${from} -> ${[...tos].filter((t) => t !== from).sort().join(' ') || '(itself)'}\n`);
  }
  for (const p of problems) process.stderr.write(`check-imports: ${p}\n`);
  process.exit(problems.length ? 1 : 0);
}
