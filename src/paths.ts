// Where the project's files are, from any compiled module (dist/src/...).
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bpf'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('uffdscope: cannot find the project root from ' + fileURLToPath(import.meta.url));
}

export const projectRoot = findRoot();
export const workloadBinary = join(projectRoot, 'out', 'workload', 'uffd-workload');
/** One-file bpftrace scripts for hosts where the native addon cannot be built or loaded. */
export const bpftraceTools = join(projectRoot, 'tools', 'bpftrace');
