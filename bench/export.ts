// Export benchmark: `uffdscope report` and the Perfetto export over the same
// large recording, in events per second.
//
//   node dist/bench/export.js [--quick] [--rounds N] [--recording FILE] [--loops N]
//
// The recording: FILE if given, else one made here with `uffdscope record`
// of the bundled workload (`--scenario mixed --loops N --pages 4096`: every
// record type, faults of every kind, ioctls, messages, SET_MODE attempts).
// Then, alternately, `report --json` and the Perfetto export run over it
// (pinned to CPU 0), each timed as a whole command (node start-up included,
// as a user sees it); the figures are medians over rounds, with the peak RSS
// of each command. The Perfetto export runs as `uffdscope export FILE
// --format perfetto -o OUT` when the CLI has that command; else in-process
// through dist/exporters/perfetto/export.js (bench/export_inproc.ts, noted
// in the figure); else its figure is null with a note.
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  autogroup,
  boostSession,
  cliPath,
  cpuPlan,
  emit,
  emitSpread,
  fmtSpread,
  log,
  mustSucceed,
  numOpt,
  parseArgs,
  pinned,
  projectRoot,
  requireFile,
  requireRoot,
  rotate,
  run,
  runRetry,
  runSampled,
  saveResults,
  si,
  spread,
  workloadBinary,
} from './lib/common.js';

const args = parseArgs();
const rounds = args.rounds ?? (args.quick ? 1 : 3);
const loops = numOpt(args, 'loops', args.quick ? 2 : 10);
const given = args.extra.get('recording');
const plan = cpuPlan();

type Tool = 'report' | 'perfetto';
type PerfettoMode = 'cli' | 'in-process' | 'missing';

async function perfettoMode(): Promise<PerfettoMode> {
  const help = await run(process.execPath, [cliPath, 'export', '--help'], { timeoutMs: 30_000 });
  if (help.code === 0 && /perfetto/i.test(help.stdout + help.stderr)) return 'cli';
  if (existsSync(join(projectRoot, 'dist', 'exporters', 'perfetto', 'export.js'))) return 'in-process';
  return 'missing';
}

async function makeRecording(dir: string): Promise<{ path: string; events: number }> {
  if (given) {
    requireFile(given, 'give an existing recording');
    const r = mustSucceed('uffdscope report', await run(process.execPath, [cliPath, 'report', given, '--json'], { timeoutMs: 600_000, maxBuffer: 256 << 20 } as never));
    const s = JSON.parse(r.stdout) as { events?: { received?: Record<string, number> } };
    const events = Object.values(s.events?.received ?? {}).reduce((a, b) => a + b, 0);
    return { path: given, events };
  }
  const path = join(dir, 'export-bench.uscope');
  const wl = [workloadBinary, '--scenario', 'mixed', '--loops', String(loops), '--pages', '4096', '--threads', '4', '--handler-delay-us', '0', '--quiet', '--json', join(dir, 'truth.json')];
  const [cmd, a] = pinned(plan.consumer, process.execPath, [cliPath, 'record', '-o', path, '--force', '--', ...wl]);
  const t0 = performance.now();
  const r = mustSucceed('uffdscope record', await runRetry(cmd, a, { timeoutMs: 600_000 }));
  const events = Number(/recorded (\d+) events/.exec(r.stderr)?.[1] ?? 0);
  const lost = Number(/lost (\d+)/.exec(r.stderr)?.[1] ?? 0);
  log(`export: recorded ${si(events)} events (${lost} lost) of \`workload --scenario mixed --loops ${loops} --pages 4096 --threads 4\` in ${((performance.now() - t0) / 1e3).toFixed(1)} s`);
  return { path, events };
}

async function main(): Promise<void> {
  await boostSession();
  requireRoot();
  requireFile(join(projectRoot, 'dist', 'src', 'cli', 'main.js'), 'build the TypeScript (npx tsc -p tsconfig.json)');
  const dir = mkdtempSync(join(args.tmp, 'uffdscope-bench-export-'));
  const g = 'export';
  try {
    const mode = await perfettoMode();
    log(`export: Perfetto exporter: ${mode === 'cli' ? '`uffdscope export --format perfetto`' : mode === 'in-process' ? 'not in the CLI yet; run in-process (dist/exporters/perfetto/export.js)' : 'not found'}; ${autogroup()}`);
    const rec = await makeRecording(dir);
    const size = statSync(rec.path).size;
    log(`export: recording ${rec.path}: ${(size / 2 ** 20).toFixed(1)} MiB, ${si(rec.events)} events (${(size / rec.events).toFixed(1)} bytes/event)`);
    const out = join(dir, 'out.pftrace');
    const tools: Tool[] = mode === 'missing' ? ['report'] : ['report', 'perfetto'];
    const rate: Record<Tool, number[]> = { report: [], perfetto: [] };
    const peak: Record<Tool, number[]> = { report: [], perfetto: [] };
    let traceBytes = 0;
    for (let r = 0; r < rounds; r++) {
      for (const t of rotate(tools, r)) {
        let cmdArgs: string[];
        if (t === 'report') cmdArgs = [cliPath, 'report', rec.path, '--json'];
        else if (mode === 'cli') cmdArgs = [cliPath, 'export', rec.path, '--format', 'perfetto', '-o', out, '--force'];
        else cmdArgs = [join(projectRoot, 'dist', 'bench', 'export_inproc.js'), rec.path, out];
        const [cmd, a] = pinned(plan.consumer, process.execPath, cmdArgs);
        const res = await runSampled(cmd, a, { timeoutMs: 900_000 });
        mustSucceed(t, res);
        rate[t].push(rec.events / (res.wallMs / 1e3));
        peak[t].push(res.peakRssMb);
        if (t === 'perfetto') traceBytes = statSync(out).size;
        log(`  round ${r + 1}/${rounds}: ${t.padEnd(8)} ${(res.wallMs / 1e3).toFixed(2)} s -> ${si(rec.events / (res.wallMs / 1e3))} events/s, peak RSS ${res.peakRssMb.toFixed(0)} MB`);
      }
    }
    const note = `${si(rec.events)}-event recording (${given ? given : `workload mixed --loops ${loops}`}), whole command wall time incl. node start-up, CPU ${plan.consumer}`;
    const sr = spread(rate.report);
    log(`export: report   ${fmtSpread(sr, si)} events/s`);
    emitSpread({ group: g, name: 'export.report_events_per_s', unit: 'events/s', target: '', note }, sr);
    emit({ group: g, name: 'export.report_peak_rss_mb', value: Math.max(...peak.report), unit: 'MB', target: '', note: 'largest VmHWM over the rounds' });
    if (mode === 'missing') {
      emit({ group: g, name: 'export.perfetto_events_per_s', value: null, unit: 'events/s', target: '', note: 'Perfetto exporter not found: neither `uffdscope export --format perfetto` nor dist/exporters/perfetto/export.js' });
    } else {
      const sp = spread(rate.perfetto);
      log(`export: perfetto ${fmtSpread(sp, si)} events/s (${mode}); trace ${(traceBytes / 2 ** 20).toFixed(1)} MiB`);
      emitSpread(
        { group: g, name: 'export.perfetto_events_per_s', unit: 'events/s', target: '', note: note + (mode === 'in-process' ? '; IN-PROCESS: `uffdscope export` is not wired into the CLI yet' : '') },
        sp,
      );
      emit({ group: g, name: 'export.perfetto_peak_rss_mb', value: Math.max(...peak.perfetto), unit: 'MB', target: '', note: 'largest VmHWM over the rounds' });
      emit({ group: g, name: 'export.perfetto_bytes_per_event', value: traceBytes / rec.events, unit: 'bytes', target: '', note: 'trace file size / recording events' });
    }
    emit({ group: g, name: 'export.recording_bytes_per_event', value: size / rec.events, unit: 'bytes', target: '', note: 'the export recording (realistic event mix)' });
    emit({ group: g, name: 'export.recording_events', value: rec.events, unit: 'events', target: '' });
    const file = saveResults(g, { autogroup: autogroup(), rounds, loops, recording: given ?? 'generated here', perfetto: mode });
    log(`export: figures saved to ${file}`);
  } finally {
    if (!args.keep) rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  log(`export: ${(e as Error)?.stack ?? String(e)}`);
  process.exit(1);
});
