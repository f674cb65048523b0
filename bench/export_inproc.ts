// Runs the Perfetto exporter in-process (for bench/export.ts, when the
// `uffdscope export` command is not wired into the CLI yet):
//
//   node dist/bench/export_inproc.js RECORDING OUT.pftrace
//
// Prints one JSON line: {events, bytes, ms}. Exit 3 when the exporter is
// not built (dist/exporters/perfetto/export.js missing).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { projectRoot } from '../src/paths.js';

async function main(): Promise<void> {
  const [rec, out] = process.argv.slice(2);
  if (!rec || !out) throw new Error('usage: export_inproc RECORDING OUT');
  const mod = join(projectRoot, 'dist', 'exporters', 'perfetto', 'export.js');
  if (!existsSync(mod)) {
    process.stderr.write(`export_inproc: ${mod} missing: the Perfetto exporter is not built\n`);
    process.exit(3);
  }
  const { exportPerfetto } = (await import(pathToFileURL(mod).href)) as {
    exportPerfetto: (r: string, o: string, u: null, opts: { force?: boolean }) => { stats: { events: number; bytes: number } };
  };
  const t0 = performance.now();
  const r = exportPerfetto(rec, out, null, { force: true });
  const ms = performance.now() - t0;
  process.stdout.write(JSON.stringify({ events: r.stats.events, bytes: r.stats.bytes, ms }) + '\n');
}

main().catch((e) => {
  process.stderr.write(`export_inproc: ${(e as Error)?.stack ?? String(e)}\n`);
  process.exit(1);
});
