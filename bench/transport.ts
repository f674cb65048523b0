// Transport benchmark: how many records per second get from the real BPF
// programs to (a) a minimal C libbpf consumer, (b) JavaScript through the
// native addon (count only), (c) the full pipeline (decode + Analysis).
//
//   node dist/bench/transport.js [--quick] [--rounds N] [--seconds S] [--cpu-prof DIR]
//
// --cpu-prof DIR: V8 CPU profiles of the addon and pipeline consumers
// (consuming phase only) as DIR/<mode>-<round>.cpuprofile.
//
// The producer is bench/ioctl_storm.c (UFFDIO_WAKE in a tight loop: one
// IOCTL_ENTER and one IOCTL_EXIT record per call), pinned to the last CPU;
// every consumer is pinned to CPU 0 and configured like `record` (ring size,
// wake-up threshold and poll timeout from captureOptions(), the tracepoint
// backend, a pid filter on the storm). Each round runs the untraced storm
// once, then a, b and c in a rotated order; the figures are medians over
// rounds, and the ratios are medians of the per-round ratios b/a and c/a.
//
// events/s = records delivered to the consumer / the storm's own loop time
// (lost records are reported separately, as a share of those produced).
// consumer CPU ns/event = the consumer process's CPU time / records: what
// each consumer would need per record at any rate (its headroom), which the
// storm alone cannot saturate on a machine where one syscall costs ~4 µs.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { captureOptions } from '../src/capture/captureOptions.js';
import { resolveUapi } from '../src/events/uapi.js';
import { blockSymbols } from '../src/capture/kallsyms.js';
import { addonPath } from '../src/native/addon.js';
import {
  autogroup,
  boostSession,
  cConsumerBinary,
  cpuPlan,
  emitSpread,
  ensureCBuilt,
  fmtForeign,
  fmtSpread,
  foreignTracing,
  log,
  machineFacts,
  mustSucceed,
  numOpt,
  parseArgs,
  pickRounds,
  pinned,
  projectRoot,
  readJson,
  requireFile,
  requireRoot,
  rotate,
  run,
  runRetry,
  saveResults,
  si,
  spread,
  stormBinary,
  waitForQuiet,
} from './lib/common.js';

interface StormResult {
  pid: number;
  calls: number;
  errors: number;
  ns: number;
  cpu_ns: number;
  calls_per_s: number;
}

interface RunResult {
  mode: Mode;
  delivered: number;
  produced: number;
  lost: number;
  stormNs: number;
  stormCallsPerS: number;
  /** CPU time the storm got / its wall time (1: it had its CPU to itself) */
  stormCpuShare: number;
  consumerCpuS: number;
  eventsPerS: number;
  lostPct: number;
  cpuNsPerEvent: number;
}

type Mode = 'c' | 'addon' | 'pipeline';
const MODES: Mode[] = ['c', 'addon', 'pipeline'];

const args = parseArgs();
const rounds = args.rounds ?? (args.quick ? 2 : 5);
const seconds = numOpt(args, 'seconds', args.quick ? 1.5 : 3);
const cpuProfDir = args.extra.get('cpu-prof');
const plan = cpuPlan();

function stormArgs(json: string): string[] {
  return ['--cpu', String(plan.producer), '--seconds', String(seconds), '--json', json];
}

// The configuration the addon gets from `record` (LiveCapture.open ->
// tracerConfig), passed to the C consumer so (a) runs what (b) and (c) run.
const uapi = resolveUapi();
const capOpts = captureOptions({ pid: [], command: ['storm'], uapi });
const syms = blockSymbols();
const hu = syms.handleUserfault;
const cConfig = [
  '--ring-bytes', String(capOpts.ringBytes),
  '--wakeup-bytes', String(capOpts.wakeupBytes),
  '--poll-ms', String(capOpts.pollTimeoutMs),
  '--hu-start', '0x' + (hu?.start ?? 0n).toString(16),
  '--hu-end', '0x' + (hu?.end ?? 0n).toString(16),
  '--uffd-wake-fn', '0x' + (syms.uffdWakeFunction ?? 0n).toString(16),
  '--vm-missing', '0x' + uapi.VM_UFFD_MISSING.toString(16),
  '--vm-wp', '0x' + uapi.VM_UFFD_WP.toString(16),
  '--vm-minor', '0x' + uapi.VM_UFFD_MINOR.toString(16),
  '--follow-children', capOpts.followChildren ? '1' : '0',
];

async function runMode(mode: Mode, dir: string, tag: string): Promise<RunResult> {
  const stormJson = join(dir, `storm-${tag}.json`);
  const outJson = join(dir, `consumer-${tag}.json`);
  let consumer: { delivered: number; produced: number; lost: number; consumerCpuS: number };
  if (mode === 'c') {
    const [cmd, a] = pinned(plan.consumer, cConsumerBinary, [...cConfig, '--json', outJson, '--', stormBinary, ...stormArgs(stormJson)]);
    const r = await runRetry(cmd, a, { timeoutMs: 120_000 });
    mustSucceed('c_consumer', r);
    const j = readJson<{ delivered: number; produced: number; lost: number; consumer_cpu_s: number }>(outJson);
    consumer = { delivered: j.delivered, produced: j.produced, lost: j.lost, consumerCpuS: j.consumer_cpu_s };
  } else {
    const nodeArgs = [
      join(projectRoot, 'dist', 'bench', 'transport_node.js'),
      '--mode', mode, '--json', outJson,
      ...(cpuProfDir ? ['--profile', join(cpuProfDir, `${mode}-${tag}.cpuprofile`)] : []),
      '--', stormBinary, ...stormArgs(stormJson),
    ];
    const [cmd, a] = pinned(plan.consumer, process.execPath, nodeArgs);
    const r = await runRetry(cmd, a, { timeoutMs: 120_000 });
    mustSucceed(`transport_node --mode ${mode}`, r);
    const j = readJson<{ delivered: number; produced: number; lost: number; consumerCpuS: number }>(outJson);
    consumer = j;
  }
  const storm = readJson<StormResult>(stormJson);
  const sec = storm.ns / 1e9;
  return {
    mode,
    delivered: consumer.delivered,
    produced: consumer.produced,
    lost: consumer.lost,
    stormNs: storm.ns,
    stormCallsPerS: storm.calls_per_s,
    stormCpuShare: storm.cpu_ns / storm.ns,
    consumerCpuS: consumer.consumerCpuS,
    eventsPerS: consumer.delivered / sec,
    lostPct: consumer.produced ? (100 * consumer.lost) / consumer.produced : 0,
    cpuNsPerEvent: consumer.delivered ? (consumer.consumerCpuS * 1e9) / consumer.delivered : NaN,
  };
}

async function main(): Promise<void> {
  await boostSession();
  requireRoot();
  if (cpuProfDir) mkdirSync(cpuProfDir, { recursive: true });
  ensureCBuilt();
  requireFile(addonPath, 'build the native addon (npm ci, or node-gyp rebuild)');
  requireFile(join(projectRoot, 'dist', 'bench', 'transport_node.js'), 'build the TypeScript (npx tsc -p tsconfig.json)');
  const dir = mkdtempSync(join(args.tmp, 'uffdscope-bench-transport-'));
  log(`transport: ${rounds} rounds x (untraced storm, C consumer, addon, pipeline), storm ${seconds} s each; ${plan.note}`);
  log(`transport: scheduling: ${autogroup()} (see bench/README.md)`);
  log(`transport: ring ${capOpts.ringBytes >> 20} MiB, wake-up at ${capOpts.wakeupBytes >> 10} KiB, poll ${capOpts.pollTimeoutMs} ms, tracepoint backend`);
  const byMode: Record<Mode, RunResult[]> = { c: [], addon: [], pipeline: [] };
  const untraced: number[] = [];
  const ratioAddon: number[] = [];
  const ratioPipeline: number[] = [];
  const producerSlowdown: number[] = [];
  const clean: boolean[] = [];
  log(`transport: other users' tracers now: ${fmtForeign(foreignTracing())}`);
  try {
    for (let r = 0; r < rounds; r++) {
      const before = await waitForQuiet(args.quick ? 0 : 10_000);
      const bare = join(dir, `storm-bare-${r}.json`);
      const [sc, sa] = pinned(plan.producer, stormBinary, stormArgs(bare));
      mustSucceed('ioctl_storm', await run(sc, sa, { timeoutMs: 60_000 }));
      const bareRate = readJson<StormResult>(bare).calls_per_s;
      untraced.push(bareRate);
      const got: Partial<Record<Mode, RunResult>> = {};
      for (const m of rotate(MODES, r)) {
        const res = await runMode(m, dir, `${m}-${r}`);
        got[m] = res;
        byMode[m].push(res);
      }
      const after = foreignTracing();
      clean.push(before.uscopeHostWide + before.other + after.uscopeHostWide + after.other === 0);
      const a = got.c!;
      ratioAddon.push(got.addon!.eventsPerS / a.eventsPerS);
      ratioPipeline.push(got.pipeline!.eventsPerS / a.eventsPerS);
      producerSlowdown.push(a.stormCallsPerS / bareRate);
      log(
        `  round ${r + 1}/${rounds}${clean[r] ? '' : " (another user's tracer loaded)"}: untraced storm ${si(bareRate)} calls/s | ` +
          MODES.map((m) => {
            const x = got[m]!;
            return `${m} ${si(x.eventsPerS)} ev/s (lost ${x.lostPct.toFixed(2)}%, consumer ${x.cpuNsPerEvent.toFixed(0)} CPU ns/ev, storm on-CPU ${(100 * x.stormCpuShare).toFixed(0)}%)`;
          }).join(' | ') +
          ` | b/a ${ratioAddon[r].toFixed(3)} c/a ${ratioPipeline[r].toFixed(3)}`,
      );
    }
  } finally {
    if (!args.keep) rmSync(dir, { recursive: true, force: true });
  }

  const pick = pickRounds(clean);
  if (pick.note) log(`transport: ${pick.note}`);
  const sel = <T>(xs: T[]) => xs.filter((_, i) => pick.use(i));
  for (const m of MODES) byMode[m] = sel(byMode[m]);
  const [u2, ra2, rp2, ps2] = [sel(untraced), sel(ratioAddon), sel(ratioPipeline), sel(producerSlowdown)];
  untraced.splice(0, untraced.length, ...u2);
  ratioAddon.splice(0, ratioAddon.length, ...ra2);
  ratioPipeline.splice(0, ratioPipeline.length, ...rp2);
  producerSlowdown.splice(0, producerSlowdown.length, ...ps2);
  const g = 'transport';
  const note = `${seconds} s storm per run, ${plan.note}` + (pick.note ? `; ${pick.note}` : '');
  for (const m of MODES) {
    const label = m === 'c' ? 'c' : m;
    const s = spread(byMode[m].map((x) => x.eventsPerS));
    log(`transport: ${label.padEnd(8)} ${fmtSpread(s, si)} events/s`);
    emitSpread({ group: g, name: `transport.${label}_events_per_s`, unit: 'events/s', target: '', note }, s);
  }
  const sa = spread(ratioAddon);
  const sp = spread(ratioPipeline);
  log(`transport: addon/C    ${fmtSpread(sa)} (target >= 0.9)`);
  log(`transport: pipeline/C ${fmtSpread(sp)} (target >= 0.5)`);
  emitSpread({ group: g, name: 'transport.addon_vs_c', unit: 'ratio', target: '>= 0.9', met: sa.median >= 0.9, note: 'median of per-round (b events/s) / (a events/s)' }, sa);
  emitSpread({ group: g, name: 'transport.pipeline_vs_c', unit: 'ratio', target: '>= 0.5', met: sp.median >= 0.5, note: 'median of per-round (c events/s) / (a events/s)' }, sp);
  for (const m of MODES) {
    emitSpread({ group: g, name: `transport.${m}_lost_pct`, unit: '%', target: '', note: 'records the ring had no room for / records produced' }, spread(byMode[m].map((x) => x.lostPct)));
  }
  for (const m of MODES) {
    const s = spread(byMode[m].map((x) => x.cpuNsPerEvent));
    log(`transport: ${m.padEnd(8)} consumer CPU ${fmtSpread(s, (v) => v.toFixed(0))} ns/event -> capacity ~${si(1e9 / s.median)} events/s on one CPU`);
    emitSpread({ group: g, name: `transport.${m}_cpu_ns_per_event`, unit: 'ns', target: '', note: 'consumer process CPU time (user+sys) per delivered record' }, s);
  }
  const su = spread(untraced);
  emitSpread({ group: g, name: 'transport.storm_untraced_calls_per_s', unit: 'calls/s', target: '', note: 'the producer alone: UFFDIO_WAKE calls per second, nothing attached' }, su);
  emitSpread({ group: g, name: 'transport.storm_traced_vs_untraced', unit: 'ratio', target: '', note: 'storm calls/s traced (C consumer) / untraced, per round: the in-kernel cost of the BPF programs' }, spread(producerSlowdown));
  const file = saveResults(g, { autogroup: autogroup(), rounds, cleanRounds: clean, seconds, plan, ringBytes: capOpts.ringBytes, wakeupBytes: capOpts.wakeupBytes, pollTimeoutMs: capOpts.pollTimeoutMs, machine: machineFacts() });
  log(`transport: figures saved to ${file}`);
  if (existsSync(cpuProfDir ?? '')) log(`transport: CPU profiles of the JavaScript consumers (consuming phase only) in ${cpuProfDir}`);
}

main().catch((e) => {
  log(`transport: ${(e as Error)?.stack ?? String(e)}`);
  process.exit(1);
});
