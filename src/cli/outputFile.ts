// Output files of the commands, and the JSON convention every command follows:
// `--json` prints JSON to stdout, `--json-out FILE` writes it to FILE.
import { statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../exitCodes.js';

export function writeOut(file: string, text: string, what: string): void {
  try {
    writeFileSync(file, text);
  } catch (e) {
    throw new UsageError(`${file}: cannot write the ${what} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

/** Output paths are checked before anything runs: a new or regular file in an existing directory. */
export function checkWritable(file: string | undefined, what: string): void {
  if (file === undefined) return;
  const dir = dirname(resolve(file));
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw new UsageError(`${file}: cannot write the ${what} (no such directory ${dir})`);
  }
  if (!st.isDirectory()) throw new UsageError(`${file}: cannot write the ${what} (${dir} is not a directory)`);
  try {
    if (statSync(file).isDirectory()) throw new UsageError(`${file}: cannot write the ${what} (it is a directory)`);
  } catch (e) {
    if (e instanceof UsageError) throw e;
  }
}

export interface JsonTarget {
  /** print the JSON on stdout (and nothing else there) */
  stdout: boolean;
  /** write the JSON to this file */
  file?: string;
}

/**
 * Where a command's JSON goes, from `--json` and `--json-out FILE`. `--json FILE`,
 * the old spelling of `check`, still writes FILE, with a note on stderr.
 */
export function jsonTarget(o: { json?: boolean | string; jsonOut?: string }, note: (s: string) => void = (s) => void process.stderr.write(s + '\n')): JsonTarget {
  if (typeof o.json !== 'string') return { stdout: o.json === true, file: o.jsonOut };
  if (o.jsonOut !== undefined) throw new UsageError(`--json ${o.json} and --json-out ${o.jsonOut}: give the file once, with --json-out FILE`);
  note(`uffdscope: --json FILE is deprecated: use --json-out ${o.json} (--json alone prints the JSON on stdout)`);
  return { stdout: false, file: o.json };
}
