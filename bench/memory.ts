// Memory benchmark: resident memory of `record` and `top` over millions of
// live events, and the recording's size per event.
//
//   node dist/bench/memory.js [--quick] [--events N] [--keep-recording FILE] [--env NAME=VALUE]
//
// --env NAME=VALUE: set in the uffdscope processes' environment, for
// diagnosis, e.g. --env MALLOC_MMAP_THRESHOLD_=131072 (glibc: every 256 KiB
// batch its own mmap, unmapped when freed) shows how much of the RSS is freed
// batch memory glibc keeps.
//
// Source: LIVE events from bench/ioctl_storm (two ioctl records per
// UFFDIO_WAKE call), traced by the real CLI, pinned to CPU 0 (the storm on
// the last CPU):
//   record   `uffdscope record -o FILE -- ioctl_storm --calls N/2`
//   top      `uffdscope top --interval 5 -- ioctl_storm --calls N/2` with stdout
//            a pipe (not a terminal): the plain-table mode, i.e. TopModel +
//            Analysis + the snapshot publisher, without Ink
// Every 100 ms the script reads VmRSS/VmHWM of the uffdscope process and how
// far the storm got (its --progress file), so each sample has an event index.
//   peak RSS      the largest VmHWM seen
//   steady RSS    the median RSS once past the warm-up (first 20% of events)
//   RSS growth    median RSS over the last 10% of events minus the median RSS
//                 around the end of the warm-up (20% +- 5%): flat = ~0
//   bytes/event   recording size / events recorded (record only)
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  autogroup,
  boostSession,
  cliPath,
  cpuPlan,
  emit,
  ensureCBuilt,
  fmtForeign,
  foreignTracing,
  log,
  memOf,
  numOpt,
  parseArgs,
  pinned,
  projectRoot,
  requireFile,
  requireRoot,
  runRetry,
  saveResults,
  si,
  stormBinary,
  median,
  type MemSample,
} from './lib/common.js';

const args = parseArgs();
const events = numOpt(args, 'events', args.quick ? 1_000_000 : 10_000_000);
const keepRecording = args.extra.get('keep-recording');
const envOpt = args.extra.get('env');
const extraEnv: Record<string, string> = {};
if (envOpt) {
  const eq = envOpt.indexOf('=');
  if (eq <= 0) throw new Error(`--env takes NAME=VALUE, got ${envOpt}`);
  extraEnv[envOpt.slice(0, eq)] = envOpt.slice(eq + 1);
}
const plan = cpuPlan();
const WARM = 0.2;

interface Sample extends MemSample {
  events: number;
}

interface Outcome {
  samples: Sample[];
  wallS: number;
  recordedEvents: number | null;
  lost: number;
  fileBytes: number | null;
}

function readProgress(path: string): number {
  try {
    return Number(readFileSync(path, 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

async function measure(kind: 'record' | 'top', dir: string): Promise<Outcome> {
  const progress = join(dir, `progress-${kind}`);
  const rec = join(dir, `mem-${kind}.uscope`);
  const calls = Math.ceil(events / 2);
  const storm = [stormBinary, '--cpu', String(plan.producer), '--calls', String(calls), '--seconds', '900', '--progress', progress];
  const cli = kind === 'record' ? ['record', '-o', rec, '--force', '--', ...storm] : ['top', '--interval', '5', '--', ...storm];
  const [cmd, a] = pinned(plan.consumer, process.execPath, [cliPath, ...cli]);
  const samples: Sample[] = [];
  let timer: NodeJS.Timeout | undefined;
  const r = await runRetry(cmd, a, {
    timeoutMs: 900_000,
    env: { ...process.env, ...extraEnv },
    onSpawn: (child) => {
      samples.length = 0; // a retried run starts over
      clearInterval(timer);
      timer = setInterval(() => {
        const m = child.pid ? memOf(child.pid) : null;
        if (m) samples.push({ ...m, events: 2 * readProgress(progress) });
      }, 100);
    },
  }).finally(() => clearInterval(timer));
  if (r.code !== 0) throw new Error(`uffdscope ${kind} failed (exit ${r.code ?? r.signal}):\n${r.stderr.slice(-2000)}`);
  const recorded = /recorded (\d+) events/.exec(r.stderr);
  const lost = Number(/lost (\d+)/.exec(r.stderr)?.[1] ?? /(\d+) records lost/.exec(r.stderr)?.[1] ?? 0);
  let fileBytes: number | null = null;
  if (kind === 'record') {
    fileBytes = statSync(rec).size;
    if (keepRecording) renameSync(rec, keepRecording);
    else rmSync(rec, { force: true });
  }
  return { samples, wallS: r.wallMs / 1e3, recordedEvents: recorded ? Number(recorded[1]) : null, lost, fileBytes };
}

function analyse(kind: string, o: Outcome) {
  const s = o.samples.filter((x) => x.events > 0);
  const total = Math.max(...s.map((x) => x.events));
  const mib = (kib: number) => kib / 1024;
  // RSS samples whose event index is within [lo, hi] of the total; when a
  // short run has none there, the sample nearest to the window's middle
  const win = (lo: number, hi: number) => {
    const inside = s.filter((x) => x.events >= lo * total && x.events <= hi * total).map((x) => x.rssKiB);
    if (inside.length || !s.length) return inside;
    const mid = ((lo + hi) / 2) * total;
    const nearest = s.reduce((a, b) => (Math.abs(b.events - mid) < Math.abs(a.events - mid) ? b : a));
    return [nearest.rssKiB];
  };
  const warm = win(WARM - 0.05, WARM + 0.05);
  const end = win(0.9, 1.0);
  const steady = win(WARM, 1.0);
  const peakKiB = Math.max(...o.samples.map((x) => x.hwmKiB));
  const res = {
    peakMb: mib(peakKiB),
    steadyMb: mib(median(steady)),
    warmMb: mib(median(warm)),
    endMb: mib(median(end)),
    growthMb: mib(median(end) - median(warm)),
    totalEvents: total,
    samples: s.length,
  };
  log(
    `memory: ${kind.padEnd(6)} ${si(total)} events in ${o.wallS.toFixed(1)} s (${o.samples.length} samples): peak ${res.peakMb.toFixed(1)} MB, ` +
      `RSS at ${si(WARM * total)} events ${res.warmMb.toFixed(1)} MB, over the last 10% ${res.endMb.toFixed(1)} MB (growth ${res.growthMb.toFixed(1)} MB), lost ${o.lost}`,
  );
  // a coarse RSS curve: 10 points
  const curve: string[] = [];
  for (let i = 1; i <= 10; i++) {
    const w = win((i - 1) / 10, i / 10);
    if (w.length) curve.push(`${i * 10}%:${mib(median(w)).toFixed(0)}`);
  }
  log(`memory: ${kind.padEnd(6)} RSS MB by share of events: ${curve.join(' ')}`);
  return res;
}

async function main(): Promise<void> {
  await boostSession();
  requireRoot();
  ensureCBuilt();
  requireFile(join(projectRoot, 'dist', 'src', 'cli', 'main.js'), 'build the TypeScript (npx tsc -p tsconfig.json)');
  const dir = mkdtempSync(join(args.tmp, 'uffdscope-bench-memory-'));
  log(`memory: ${si(events)} live events (ioctl storm, 2 records per UFFDIO_WAKE) through \`record\` and \`top\` (plain mode); uffdscope on CPU ${plan.consumer}, storm on CPU ${plan.producer}; ${autogroup()}`);
  if (envOpt) log(`memory: DIAGNOSTIC run with ${envOpt} in uffdscope's environment`);
  log(`memory: other users' tracers now: ${fmtForeign(foreignTracing())}`);
  const g = 'memory';
  const results: Record<string, ReturnType<typeof analyse>> = {};
  try {
    for (const kind of ['record', 'top'] as const) {
      const o = await measure(kind, dir);
      const res = analyse(kind, o);
      results[kind] = res;
      const note = `${si(res.totalEvents)} live ioctl-storm events; growth = median RSS over the last 10% of events - median RSS around ${WARM * 100}% (${si(WARM * res.totalEvents)} events)`;
      const peakName = kind === 'record' ? 'memory.peak_rss_mb' : 'memory.top_peak_rss_mb';
      const growthName = kind === 'record' ? 'memory.rss_growth_mb' : 'memory.top_rss_growth_mb';
      emit({ group: g, name: peakName, value: res.peakMb, unit: 'MB', target: '< 200', met: res.peakMb < 200, note: `uffdscope ${kind}; ${note}` });
      emit({ group: g, name: kind === 'record' ? 'memory.steady_rss_mb' : 'memory.top_steady_rss_mb', value: res.steadyMb, unit: 'MB', target: '< 200', met: res.steadyMb < 200, note: `uffdscope ${kind}: median RSS after warm-up` });
      emit({ group: g, name: growthName, value: res.growthMb, unit: 'MB', target: '~0 (flat after warm-up)', met: Math.abs(res.growthMb) < 10, note: `uffdscope ${kind}; met = |growth| < 10 MB` });
      // The storm (~840k records/s here) is ~3x the bundled workload's full
      // rate, where overhead.lost_records checks that nothing is lost. `record`
      // keeps up with the storm too; `top` (model + snapshots, ~1.2 µs of CPU
      // per record) does not, and counts and shows what it loses.
      const rate = si(res.totalEvents / (o.wallS || 1));
      if (kind === 'record') emit({ group: g, name: 'memory.lost_records', value: o.lost, unit: 'records', target: '0', met: o.lost === 0, note: `uffdscope record under the ioctl storm (${rate} events/s)` });
      else emit({ group: g, name: 'memory.top_lost_records', value: o.lost, unit: 'records', target: '', note: `uffdscope top under the ioctl storm (${rate} events/s, ~3x the workload's full rate; counted and shown in its header)` });
      if (kind === 'record' && o.fileBytes !== null && o.recordedEvents) {
        const bpe = o.fileBytes / o.recordedEvents;
        log(`memory: recording ${(o.fileBytes / 2 ** 20).toFixed(0)} MiB for ${si(o.recordedEvents)} events: ${bpe.toFixed(1)} bytes/event`);
        emit({ group: g, name: 'memory.bytes_per_event', value: bpe, unit: 'bytes', target: '', note: 'recording file size / events recorded (ioctl records: 136-byte struct + chunk framing)' });
      }
    }
    // The overall figure the issue asks for: the larger of the two peaks.
    const peak = Math.max(results.record.peakMb, results.top.peakMb);
    log(`memory: largest peak ${peak.toFixed(1)} MB (target < 200 MB)`);
  } finally {
    if (!args.keep) rmSync(dir, { recursive: true, force: true });
  }
  const file = saveResults(envOpt ? 'memory-diag' : g, { autogroup: autogroup(), events, plan, source: 'live ioctl storm', env: envOpt ?? null });
  log(`memory: figures saved to ${file}`);
  if (keepRecording && existsSync(keepRecording)) log(`memory: recording kept at ${keepRecording}`);
}

main().catch((e) => {
  log(`memory: ${(e as Error)?.stack ?? String(e)}`);
  process.exit(1);
});
