// `uffdscope workload ...`: runs the bundled C workload (out/workload/).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { workloadBinary } from '../paths.js';
import { EXIT, exitStatus } from '../exitCodes.js';

/**
 * The command's arguments for the binary, with the JSON convention of every
 * command: `--json` prints on stdout (the binary's default), `--json-out FILE`
 * writes FILE (the binary's `--json FILE`, still accepted with a note).
 */
export function workloadArgs(args: readonly string[], note: (s: string) => void = (s) => void process.stderr.write(s + '\n')): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const deprecated = (file: string) => note(`uffdscope: --json FILE is deprecated: use --json-out ${file} (--json alone prints the JSON on stdout)`);
    if (a === '--json-out' && i + 1 < args.length) out.push('--json', args[++i]);
    else if (a.startsWith('--json-out=')) out.push('--json', a.slice('--json-out='.length));
    else if (a === '--json' && i + 1 < args.length && !args[i + 1].startsWith('-')) {
      deprecated(args[i + 1]);
      out.push(a, args[++i]);
    } else if (a.startsWith('--json=')) {
      deprecated(a.slice('--json='.length));
      out.push(a);
    } else if (a !== '--json') out.push(a);
  }
  return out;
}

export function runWorkload(args: string[]): Promise<void> {
  if (!existsSync(workloadBinary)) {
    throw Object.assign(new Error(`workload not built (${workloadBinary} missing): run scripts/setup.sh`), { exitCode: EXIT.ENVIRONMENT });
  }
  return new Promise((resolve) => {
    const child = spawn(workloadBinary, workloadArgs(args), { stdio: 'inherit' });
    // Signals go to the binary (it finishes its run and prints its JSON on
    // SIGINT/SIGTERM), and we exit with its status: a wrapper that ignored
    // them left the binary running under `record -- uffdscope workload`.
    const forward = (s: NodeJS.Signals) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(s);
    };
    for (const s of FORWARDED) process.on(s, forward);
    child.on('exit', (code, signal) => {
      for (const s of FORWARDED) process.off(s, forward);
      process.exitCode = exitStatus({ code, signal });
      resolve();
    });
  });
}

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
