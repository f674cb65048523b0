// Traced runs of a command for `uffdscope check`: each run is recorded
// exactly like `uffdscope record -o DIR/run-NNN.uscope -- CMD` (its per-fault
// samples are needed later), and its summary JSON (`report --json`) is saved
// next to it as DIR/run-NNN.json.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { recordedLine, recordToFile } from '../pipeline/recordToFile.js';
import { EXIT, UsageError, sessionExitStatus, type ExitError } from '../exitCodes.js';
import { toolVersion } from '../capture/recordingHeader.js';
import type { Uapi } from '../events/uapi.js';
import { analyzeRecordingWith, CHECK_SCHEMA_PREFIX } from './inputs.js';

export const BASELINE_MANIFEST = 'manifest.json';
export const BASELINE_SCHEMA = `${CHECK_SCHEMA_PREFIX}-baseline/1`;

export interface TraceRunsOptions {
  dir: string;
  runs: number;
  command: string[];
  uapi: Uapi;
  ringBufferMb?: number;
  /** 'baseline' or 'current', for progress lines */
  label: string;
  /** progress lines (stderr by default) */
  log?: (line: string) => void;
}

class RunError extends Error implements ExitError {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** A directory to save runs into: created when missing; refused when it already holds files. */
export function prepareRunDir(dir: string, what: string): void {
  if (existsSync(dir)) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      throw new UsageError(`${dir}: not a directory (${what} needs a new or empty directory)`);
    }
    if (names.length) throw new UsageError(`${dir}: not empty (${names.length} entries); ${what} writes its runs into a new or empty directory`);
  } else {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new UsageError(`${dir}: cannot create the directory (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
  }
}

/** Runs and records the command `runs` times; returns the recordings' paths. */
export async function traceRuns(o: TraceRunsOptions): Promise<string[]> {
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const files: string[] = [];
  const cmd = o.command.join(' ');
  for (let i = 1; i <= o.runs; i++) {
    const stem = `run-${String(i).padStart(3, '0')}`;
    const output = join(o.dir, `${stem}.uscope`);
    log(`uffdscope check: ${o.label} run ${i} of ${o.runs}: ${cmd}`);
    const recorded = await recordToFile({ output, pid: [], command: o.command, uapi: o.uapi, ringBufferMb: o.ringBufferMb, force: false });
    process.stderr.write(`uffdscope: ${recordedLine(output, recorded)}\n`);
    const result = recorded.session;
    if (result.reason === 'signal') {
      throw new RunError(`interrupted (${result.signal ?? 'signal'}) during ${o.label} run ${i} of ${o.runs}; runs so far are in ${o.dir}`, sessionExitStatus(result));
    }
    const ce = result.commandExit;
    if (ce && (ce.code !== 0 || ce.signal)) {
      throw new RunError(
        `${o.label} run ${i} of ${o.runs}: \`${cmd}\` ${ce.signal ? `was killed by ${ce.signal}` : `exited with code ${ce.code}`}; a failed run is not compared (its recording: ${output})`,
        EXIT.CAPTURE,
      );
    }
    const { summary } = analyzeRecordingWith(output, o.uapi, null);
    writeFileSync(join(o.dir, `${stem}.json`), JSON.stringify(summary, null, 2) + '\n', { mode: 0o600 });
    if (summary.events.lost > 0) log(`uffdscope check: ${o.label} run ${i} lost ${summary.events.lost} events (raise --ring-buffer-mb); its counts are low`);
    files.push(output);
  }
  return files;
}

/** Writes DIR/manifest.json: what the baseline is (check skips it when reading runs). */
export function writeManifest(dir: string, command: string[], runs: number): void {
  const doc = {
    schema: BASELINE_SCHEMA,
    tool: { name: 'uffdscope', version: toolVersion },
    created_at: new Date().toISOString(),
    host: { hostname: os.hostname(), kernel: os.release(), cpus: os.cpus().length },
    command,
    runs,
    files: Array.from({ length: runs }, (_, i) => {
      const stem = `run-${String(i + 1).padStart(3, '0')}`;
      return { recording: `${stem}.uscope`, summary: `${stem}.json` };
    }),
  };
  writeFileSync(join(dir, BASELINE_MANIFEST), JSON.stringify(doc, null, 2) + '\n', { mode: 0o600 });
}
