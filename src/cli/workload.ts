// `uffdscope workload ...`: runs the bundled C workload (out/workload/).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { workloadBinary } from '../paths.js';
import { EXIT, exitStatus } from './errors.js';

export function runWorkload(args: string[]): Promise<void> {
  if (!existsSync(workloadBinary)) {
    throw Object.assign(new Error(`workload not built (${workloadBinary} missing): run scripts/setup.sh`), { exitCode: EXIT.ENVIRONMENT });
  }
  return new Promise((resolve) => {
    const child = spawn(workloadBinary, args, { stdio: 'inherit' });
    // The workload handles SIGINT itself (prints its JSON); don't die first.
    const ignore = () => {};
    process.on('SIGINT', ignore);
    process.on('SIGTERM', ignore);
    child.on('exit', (code, signal) => {
      process.off('SIGINT', ignore);
      process.off('SIGTERM', ignore);
      process.exitCode = exitStatus({ code, signal });
      resolve();
    });
  });
}
