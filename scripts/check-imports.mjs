#!/usr/bin/env node
// Import-boundary check: the layers run one way. Each source file belongs to
// a unit (a folder, or a file at the top of src/); a unit may import itself
// and units on LOWER floors only, never one on its own floor or above. Tests
// are outside the layers (they exercise every floor). Files do not import
// each other in a circle either (type-only imports included). Exit 1 on a
// violation, a cycle, or a source file no unit holds; `--graph` prints the
// unit-level imports.
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
  const files = ROOTS.flatMap((top) => [...sourceFiles(root, top)]);
  const known = new Set(files);
  /** file -> the source files it imports */
  const fileEdges = new Map();
  for (const rel of files) {
    const from = unitOf(rel);
    if (!from) {
      problems.push(`${rel}: in no layer: add its folder to FLOORS in scripts/check-imports.mjs (and docs/architecture.md)`);
      continue;
    }
    const imported = [];
    fileEdges.set(rel, imported);
    for (const spec of importsOf(readFileSync(join(root, rel), 'utf8'))) {
      const target = relative(root, resolve(root, dirname(rel), spec)).split(sep).join('/').replace(/\.js$/, '.ts');
      const tsx = target.replace(/\.ts$/, '.tsx');
      if (known.has(target)) imported.push(target);
      else if (known.has(tsx)) imported.push(tsx);
      const to = unitOf(target) ?? unitOf(tsx);
      if (!to) continue; // outside the layers (package.json, generated files...)
      if (!edges.has(from.unit)) edges.set(from.unit, new Set());
      edges.get(from.unit).add(to.unit);
      if (to.unit === from.unit || to.floor > from.floor) continue;
      const where = to.floor === from.floor ? 'on the same floor as' : 'a floor above';
      problems.push(`${rel}: imports ${spec}: ${to.unit} is ${where} ${from.unit} (move what both need to a lower floor)`);
    }
  }
  for (const cycle of importCycles(fileEdges)) {
    problems.push(`${cycle[0]}: import cycle ${cycle.join(' -> ')} (move what they share into a file both import)`);
  }
  return { problems, edges };
}

/** One cycle (first file repeated at the end) per group of files that import each other in a circle. */
function importCycles(fileEdges) {
  // Tarjan's strongly connected components, then a shortest way round each
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const groups = [];
  let next = 0;
  const visit = (v) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of fileEdges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) !== index.get(v)) return;
    const group = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      group.push(w);
    } while (w !== v);
    if (group.length > 1 || (fileEdges.get(v) ?? []).includes(v)) groups.push(group.sort());
  };
  for (const v of [...fileEdges.keys()].sort()) if (!index.has(v)) visit(v);
  return groups.map((group) => {
    const inGroup = new Set(group);
    const start = group[0];
    const from = new Map([[start, null]]);
    const queue = [start];
    for (let i = 0; i < queue.length; i++) {
      for (const w of fileEdges.get(queue[i]) ?? []) {
        if (w === start) {
          const path = [start];
          for (let v = queue[i]; v !== start; v = from.get(v)) path.splice(1, 0, v);
          return [...path, start];
        }
        if (inGroup.has(w) && !from.has(w)) {
          from.set(w, queue[i]);
          queue.push(w);
        }
      }
    }
    return [...group, start]; // not reached: every group has a way round
  });
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
