// All benchmarks, one after the other (`npm run bench`):
//
//   node dist/bench/run-all.js [--quick] [--only transport,overhead,memory,export,host_tax,busy_host,record_size,latency_coverage] [other options...]
//
// Every script runs as its own process with the same options (--quick,
// --no-nice, --tmp DIR, --keep); their JSON lines go to stdout as they come,
// their progress to stderr. At the end: a table of the figures that have a
// target, met or missed, and all figures in out/bench/results/all.jsonl.
// Exit code 0 even when a target is missed (the figures say so); 1 when a
// script failed.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { autogroup, boostSession, log, machineFacts, projectRoot, resultsDir, type Figure } from './lib/common.js';

const SCRIPTS = ['transport', 'overhead', 'memory', 'export', 'host_tax', 'busy_host', 'record_size', 'latency_coverage'] as const;

function runScript(name: string, argv: string[], figures: Figure[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(projectRoot, 'dist', 'bench', `${name}.js`), ...argv], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        process.stdout.write(line + '\n');
        try {
          figures.push(JSON.parse(line) as Figure);
        } catch {
          /* not a figure */
        }
      }
    });
    child.on('close', (code) => resolve(code ?? 1));
  });
}

async function main(): Promise<void> {
  await boostSession();
  const argv = process.argv.slice(2);
  const onlyAt = argv.indexOf('--only');
  const only = onlyAt >= 0 ? argv[onlyAt + 1].split(',') : [...SCRIPTS];
  const pass = onlyAt >= 0 ? argv.filter((_, i) => i !== onlyAt && i !== onlyAt + 1) : argv;
  const m = machineFacts();
  log(`bench: ${m.nproc} CPUs (${m.cpuModel}), kernel ${m.kernel}, node ${m.node}, load ${m.loadavg.join(' ')}; ${autogroup()}`);
  const figures: Figure[] = [];
  const failed: string[] = [];
  const t0 = performance.now();
  for (const s of SCRIPTS) {
    if (!only.includes(s)) continue;
    const ts = performance.now();
    log(`\n==== ${s} ====`);
    const code = await runScript(s, pass, figures);
    log(`==== ${s}: ${code === 0 ? 'done' : `FAILED (exit ${code})`} in ${((performance.now() - ts) / 1e3).toFixed(0)} s`);
    if (code !== 0) failed.push(s);
  }
  log(`\nbench: finished in ${((performance.now() - t0) / 1e3).toFixed(0)} s`);
  const targeted = figures.filter((f) => f.target && f.met !== undefined);
  if (targeted.length) {
    log('bench: targets');
    for (const f of targeted) {
      const v = f.value === null ? 'null' : String(f.value);
      log(`  ${(f.met ? 'met   ' : f.met === false ? 'MISSED' : 'n/a   ').padEnd(7)} ${f.name.padEnd(44)} ${v.padStart(10)} ${f.unit.padEnd(6)} target ${f.target}`);
    }
  }
  mkdirSync(resultsDir, { recursive: true });
  const all = join(resultsDir, 'all.jsonl');
  writeFileSync(all, JSON.stringify({ meta: { machine: m, at: new Date().toISOString(), argv, failed } }) + '\n' + figures.map((f) => JSON.stringify(f)).join('\n') + '\n');
  log(`bench: all figures in ${all}`);
  if (failed.length) {
    log(`bench: FAILED: ${failed.join(', ')}`);
    process.exit(1);
  }
}

main().catch((e) => {
  log(`bench: ${(e as Error)?.stack ?? String(e)}`);
  process.exit(1);
});
