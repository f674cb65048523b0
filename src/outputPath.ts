// Output files checked before anything runs, and a failure to create one,
// as one-line errors naming the flag that gave the path.
import { existsSync, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from './exitCodes.js';

/**
 * Checks an output path before anything is traced: a new file in an existing
 * directory, or (with overwrite) an existing regular file. Never a directory;
 * a device, FIFO or socket only with `special` (a recording is fsync'ed and
 * chmod'ed to 0600, which must not happen to /dev/null).
 */
export function checkOutputPath(path: string, flag: string, overwrite: boolean, special = false): void {
  let st: Stats | undefined;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES') throw new UsageError(`${flag} ${path}: permission denied`);
    if (code !== 'ENOENT') throw new UsageError(`${flag} ${path}: ${code ?? (e as Error).message}`);
  }
  if (st === undefined) {
    const dir = dirname(resolve(path));
    if (!existsSync(dir)) throw new UsageError(`${flag} ${path}: no such directory ${dir}`);
    if (!statSync(dir).isDirectory()) throw new UsageError(`${flag} ${path}: ${dir} is not a directory`);
    return;
  }
  if (st.isDirectory()) throw new UsageError(`${flag} ${path}: is a directory; give a file path`);
  if (!st.isFile()) {
    if (special) return;
    throw new UsageError(`${flag} ${path}: not a regular file (device, FIFO or socket); give a file path`);
  }
  if (!overwrite) throw new UsageError(`${path} exists: choose another ${flag} FILE or pass --force to overwrite`);
}

/** A failure to create an output file, as one line with the bad-input exit code. */
export function outputFileError(path: string, flag: string, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'EACCES' || code === 'EPERM') return new UsageError(`${flag} ${path}: permission denied`);
  if (code === 'ENOENT' || code === 'ENOTDIR') return new UsageError(`${flag} ${path}: no such directory`);
  if (code === 'EISDIR') return new UsageError(`${flag} ${path}: is a directory; give a file path`);
  if (code === 'EEXIST') return new UsageError(`${path} exists: choose another ${flag} FILE or pass --force to overwrite`);
  if (code === 'EROFS' || code === 'ENOSPC' || code === 'EDQUOT') return new UsageError(`${flag} ${path}: cannot write (${code})`);
  return e as Error;
}
