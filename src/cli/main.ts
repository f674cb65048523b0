// uffdscope command line: one file per command under src/cli/, wired here.
import { Command, InvalidArgumentError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../paths.js';
import { fail, installProcessHandlers } from './errors.js';
import { EXIT } from '../exitCodes.js';
import { collect, collectPid, intArg, ringKiB, ringMiB, secondsArg } from './parse.js';
import { resolveUapi, UapiOverrideError } from '../events/uapi.js';
import { runDoctor, formatDoctor, formatUapiTable } from './doctor.js';
import { checkWritable, jsonTarget, writeOut } from './outputFile.js';
import { runRecord } from './record.js';
import { DEFAULT_RING_MIB } from '../capture/liveCapture.js';
import { BACKEND_ORDER, HOOK_ORDER } from '../kernel/backends.js';
import { REPORT_LIMIT, runReport } from './report.js';
import { runStat } from './stat.js';
import { runTop } from './top.js';
import { runReplay } from './replay.js';
import { runExport } from './export.js';
import { runServe } from './serve.js';
import { runCheck } from './check.js';
import { BUDGET_HELP } from '../check/budget.js';
import { runWorkload } from './workload.js';
import { runSimulate, SCENARIOS } from './simulate.js';

const version = (JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version;

function uapiFrom(opts: { uapi?: string[] }) {
  try {
    return resolveUapi(opts.uapi ?? []);
  } catch (e) {
    if (e instanceof UapiOverrideError) throw Object.assign(e, { exitCode: EXIT.USAGE });
    throw e;
  }
}

const backendOption = () =>
  new Option('--backend <NAME>', `capture backend: auto tries ${BACKEND_ORDER.join(', then ')}`).choices(['auto', ...BACKEND_ORDER]).default('auto');

const hooksOption = () =>
  new Option('--hooks <HOW>', 'how the hooks attach: auto tries btf (BTF raw tracepoints), then classic (tracepoints)').choices(['auto', ...HOOK_ORDER]).default('auto');

const priorityOption = () =>
  new Option('--no-priority', 'keep the normal CPU priority (by default the loader and the ring consumer run at nice -10, so a busy host shows the first frame quickly)');

const uapiOption = () =>
  new Option('--uapi <NAME=VALUE>', 'override a uapi constant (repeatable), e.g. UFFD_FEATURE_RWP=1<<17').argParser(collect);

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('uffdscope')
    .description('eBPF tracing and observability for Linux userfaultfd')
    .version(version)
    .configureOutput({ outputError: (str, write) => write(str.split('\n')[0].replace(/^error: /, 'uffdscope: ') + '\n') })
    .exitOverride((err) => {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') process.exit(0);
      process.exit(EXIT.USAGE);
    });

  program
    .command('doctor')
    .description('check this host: kernel, BTF, tracefs, privileges, which backends load, uffd features')
    .option('--json', 'print the report as JSON on stdout')
    .option('--json-out <FILE>', 'write the report as JSON to FILE')
    .option('--uapi-table', 'print the uapi constant table (provisional entries marked)')
    .addOption(uapiOption())
    .action((opts: { json?: boolean; jsonOut?: string; uapiTable?: boolean; uapi?: string[] }) => {
      const uapi = uapiFrom(opts);
      if (opts.uapiTable) {
        process.stdout.write(formatUapiTable(uapi));
        return;
      }
      const out = jsonTarget(opts);
      checkWritable(out.file, 'doctor report');
      const r = runDoctor(uapi);
      process.stdout.write((out.stdout ? JSON.stringify(r, null, 2) : formatDoctor(r)) + '\n');
      if (out.file) writeOut(out.file, JSON.stringify(r, null, 2) + '\n', 'doctor report');
      process.exitCode = r.selectedBackend ? 0 : EXIT.ENVIRONMENT;
    });

  program
    .command('top')
    .description('live terminal UI: uffds, fault rates, latency, sync/async timeline (the kernel counts; --demo runs the bundled workload)')
    .option('-p, --pid <PID>', 'trace this process (repeatable)', collectPid, [])
    .option('--demo', 'run and trace the bundled workload (mixed scenario, looping)')
    .option('--per-fault', 'stream every fault through the lifecycle model instead of counting in the kernel (costs the host more)')
    .option('-d, --duration <S>', 'stop capturing after S seconds', secondsArg)
    .option('-i, --interval <S>', 'table period when stdout is not a terminal', secondsArg, 2)
    .option('--metrics <ADDR>', 'also serve OpenMetrics on ADDR (e.g. 127.0.0.1:9465)')
    .option('--ring-buffer-mb <N>', 'BPF ring buffer size in MiB (power of two)', ringMiB, DEFAULT_RING_MIB)
    .addOption(backendOption())
    .addOption(priorityOption())
    .addOption(hooksOption())
    .addOption(uapiOption())
    .argument('[command...]', 'command to run and trace (after --)')
    .action(async (command: string[], opts) => {
      await runTop({ ...opts, command, uapi: uapiFrom(opts) });
    });

  program
    .command('replay')
    .description('the top UI driven by a recording, with pause (space), seek (left/right) and speed (+/-)')
    .argument('<FILE>', 'recording file')
    .option('--speed <X>', 'playback speed (1 = real time)', (v: string) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0 || n > 1000) throw new InvalidArgumentError(`--speed takes a number > 0 (e.g. 0.5, 1, 10), got "${v}"`);
      return n;
    }, 1)
    .addOption(uapiOption())
    .action(async (file: string, opts: { speed: number; uapi?: string[] }) => {
      await runReplay(file, { speed: opts.speed, uapi: uapiFrom(opts) });
    });

  program
    .command('record')
    .description('trace processes (or run CMD and trace it and its descendants) into a recording file')
    .requiredOption('-o, --output <FILE>', 'recording file to write (mode 0600)')
    .option('-p, --pid <PID>', 'trace this process (repeatable)', collectPid, [])
    .option('-d, --duration <S>', 'stop after S seconds', secondsArg)
    .option('--ring-buffer-mb <N>', 'BPF ring buffer size in MiB (power of two)', ringMiB, DEFAULT_RING_MIB)
    .option('--ring-buffer-kb <N>', 'BPF ring buffer size in KiB (power of two; overrides --ring-buffer-mb)', ringKiB)
    .option('--force', 'overwrite an existing output file')
    .addOption(backendOption())
    .addOption(priorityOption())
    .addOption(hooksOption())
    .addOption(uapiOption())
    .argument('[command...]', 'command to run and trace (after --)')
    .action(async (command: string[], opts) => {
      await runRecord({ ...opts, command, uapi: uapiFrom(opts) });
    });

  program
    .command('report')
    .description('summarize a recording: events per type, per uffd, per process, lost records, latencies')
    .argument('<FILE>', 'recording file')
    .option('--json', 'print the summary JSON (uffdscope.summary/1) on stdout')
    .option('--json-out <FILE>', 'write the summary JSON to FILE')
    .option('--limit <N>', `rows per table, after folding repeated rows (0: all; the JSON is always whole)`, intArg('--limit', 0, 1_000_000), REPORT_LIMIT)
    .option('--hist', 'after the table, print latency histograms (log2 buckets, bpftrace style): each stage, then total latency per fault kind and per process; with --json/--json-out the JSON gets them as latency_hist_log2_ns')
    .addOption(uapiOption())
    .action(async (file: string, opts: { json?: boolean; jsonOut?: string; limit: number; hist?: boolean; uapi?: string[] }) => {
      await runReport(file, { ...jsonTarget(opts), limit: opts.limit, hist: opts.hist, uapi: uapiFrom(opts) });
    });

  program
    .command('stat')
    .description('trace and print fault counts and latency statistics (per uffd, process, kind)')
    .option('-p, --pid <PID>', 'trace this process (repeatable)', collectPid, [])
    .option('-d, --duration <S>', 'stop after S seconds', secondsArg)
    .option('-i, --interval <S>', 'also print the table every S seconds', secondsArg)
    .option('--json', 'print the summary JSON on stdout instead of the table (the table goes to stderr)')
    .option('--json-out <FILE>', 'write the summary JSON here')
    .option('--hist', 'after the table, print the total-latency histogram (log2 buckets, bpftrace style)')
    .option('--per-fault', 'stream every fault through the lifecycle model instead of counting in the kernel (costs the host more; adds per-fault detail: incomplete faults, per-uffd ioctl latency)')
    .addOption(new Option('--in-kernel', 'deprecated: counting in the kernel is the default').hideHelp())
    .option('--ring-buffer-mb <N>', 'BPF ring buffer size in MiB (power of two)', ringMiB, DEFAULT_RING_MIB)
    .addOption(backendOption())
    .addOption(priorityOption())
    .addOption(hooksOption())
    .addOption(uapiOption())
    .argument('[command...]', 'command to run and trace (after --)')
    .action(async (command: string[], opts) => {
      if (opts.inKernel) process.stderr.write('uffdscope: --in-kernel is the default now; the flag will go away\n');
      await runStat({ ...opts, command, uapi: uapiFrom(opts) });
    });

  program
    .command('export')
    .description('convert a recording: a Perfetto trace (protobuf) or NDJSON (one JSON object per event)')
    .argument('<FILE>', 'recording file')
    .addOption(new Option('-f, --format <F>', 'perfetto or ndjson').choices(['perfetto', 'ndjson']).makeOptionMandatory())
    .requiredOption('-o, --output <FILE>', 'output file (ndjson: - for stdout)')
    .option('--force', 'overwrite an existing output file')
    .addOption(uapiOption())
    .action(async (file: string, o: { format: 'perfetto' | 'ndjson'; output: string; force?: boolean; uapi?: string[] }) => {
      await runExport(file, { format: o.format, output: o.output, force: !!o.force, uapi: uapiFrom(o) });
    });

  program
    .command('serve')
    .description('serve live uffd metrics (OpenMetrics / Prometheus) over HTTP; loopback unless told otherwise')
    .option('--listen <ADDR>', 'address to listen on (HOST:PORT, [V6]:PORT or PORT)', '127.0.0.1:9465')
    .option('-p, --pid <PID>', 'trace this process (repeatable)', collectPid, [])
    .option('-d, --duration <S>', 'stop after S seconds', secondsArg)
    .option('--linger <S>', 'after the command exits, serve its final values S more seconds (default: until Ctrl-C)', (v: string) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0 || n > 86400) throw new InvalidArgumentError(`--linger takes seconds from 0 to 86400, got "${v}"`);
      return n;
    })
    .option('--per-fault', 'stream every fault through the lifecycle model instead of counting in the kernel (costs the host more)')
    .option('--ring-buffer-mb <N>', 'BPF ring buffer size in MiB (power of two)', ringMiB, DEFAULT_RING_MIB)
    .addOption(backendOption())
    .addOption(priorityOption())
    .addOption(hooksOption())
    .addOption(uapiOption())
    .argument('[command...]', 'command to run and trace (after --)')
    .action(async (command: string[], o) => {
      await runServe({ ...o, command, uapi: uapiFrom(o) });
    });

  program
    .command('check')
    .description('compare a run with a baseline (recordings or summary JSON, or directories of runs); exit 1 on a real regression')
    .option('-b, --baseline <BASE>', 'baseline: recording, summary JSON, or a directory of runs')
    .option('--save-baseline <DIR>', 'record --runs N traced runs of the command after -- into DIR')
    .option('--save-current <DIR>', 'keep the current runs made with --runs here')
    .option('--runs <N>', 'traced runs of the command after --', intArg('--runs', 1, 100))
    .option('--junit <FILE>', 'JUnit XML: one test case per metric')
    .option('--report <FILE>', 'self-contained HTML report with latency CDFs')
    .option('--json [FILE]', 'print the verdict as JSON on stdout (the table goes to stderr); --json FILE is the deprecated spelling of --json-out FILE')
    .option('--json-out <FILE>', 'write the verdict as JSON to FILE')
    .option('--budget <FILE>', 'thresholds per metric and kind (JSON or YAML; below)')
    .option('--allow-damaged', 'compare damaged recordings (what could be read) instead of refusing them')
    .option('--ring-buffer-mb <N>', 'BPF ring buffer size in MiB (power of two)', ringMiB, DEFAULT_RING_MIB)
    .addOption(uapiOption())
    .argument('[args...]', 'CURRENT, or the command to run (after --)')
    .addHelpText('after', '\n' + BUDGET_HELP + '\n')
    .action(async (args: string[], o) => {
      const out = jsonTarget(o);
      await runCheck({ ...o, json: out.stdout, jsonOut: out.file, args, uapi: uapiFrom(o) });
    });

  program
    .command('simulate')
    .description('write a GENERATED recording (marked as such) of what no kernel here produces: RWP faults, UFFDIO_SET_MODE switches')
    .requiredOption('-s, --scenario <NAME>', `scenario: ${SCENARIOS.join(', ')}`)
    .requiredOption('-o, --output <FILE>', 'recording file to write')
    .option('--seed <N>', 'random seed (same seed, same recording)', intArg('--seed', 0, 2 ** 31), 1)
    .option('-d, --duration <S>', 'seconds of simulated time', secondsArg, 20)
    .option('--fault-rate <N>', 'faults per second per vCPU thread while sync', intArg('--fault-rate', 1, 1_000_000), 200)
    .option('--force', 'overwrite an existing output file')
    .addOption(uapiOption())
    .action((opts) => {
      runSimulate({ ...opts, uapi: uapiFrom(opts) });
    });

  program
    .command('workload')
    .description('run the bundled userfaultfd workload (see --help of the binary: --scenario postcopy|wp-snapshot|minor-shmem|wp-async|set-mode|mixed|fork)')
    .allowUnknownOption()
    .helpOption(false)
    .argument('[args...]', 'arguments for the workload')
    .action((args: string[]) => runWorkload(args));

  return program;
}


export async function main(argv: string[]): Promise<void> {
  installProcessHandlers();
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    fail(e);
  }
}

void main(process.argv);
