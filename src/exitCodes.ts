// Exit codes (README: Exit codes) and the errors that carry one: a one-line
// message for the user and the code the CLI exits with.
//   0  success
//   1  regression found (check)
//   2  bad input: arguments, files, pids
//   3  environment: privileges, tracefs, BTF, native addon, kernel feature
//   4  capture failed while running
//   128+N uffdscope was stopped by signal N (SIGINT: 130; its outputs are
//         complete), or a command run with `-- CMD` was killed by signal N
//         (the shell's convention)
import { constants } from 'node:os';

export const EXIT = { OK: 0, REGRESSION: 1, USAGE: 2, ENVIRONMENT: 3, CAPTURE: 4 } as const;

export class UsageError extends Error {
  readonly exitCode: number = EXIT.USAGE;
}

/** Any error with a user-facing one-line message and an exit code. */
export interface ExitError {
  message: string;
  exitCode: number;
}

export function isExitError(e: unknown): e is ExitError {
  return typeof e === 'object' && e !== null && typeof (e as ExitError).exitCode === 'number' && typeof (e as ExitError).message === 'string';
}

/** A child's exit as a status: its code, or 128 + the number of the signal that killed it. */
export function exitStatus(exit: { code: number | null; signal: NodeJS.Signals | null }): number {
  if (exit.code !== null) return exit.code;
  const n = exit.signal === null ? undefined : constants.signals[exit.signal];
  return n === undefined ? EXIT.CAPTURE : 128 + n;
}

// Set by the CLI when the reader of our output went away (`top | head`): the
// session then stops as by SIGTERM, and that is a normal end.
let outputClosed = false;

export function noteOutputClosed(): void {
  outputClosed = true;
}

/**
 * The exit status a capture session ends with: 128 + N when signal N stopped
 * uffdscope; the command's own status when it failed by itself; otherwise 0
 * (its end by --duration or a quit key included).
 */
export function sessionExitStatus(r: {
  reason: string;
  signal?: NodeJS.Signals;
  commandExit: { code: number | null; signal: NodeJS.Signals | null } | null;
}): number {
  if (r.reason === 'signal' && r.signal && !outputClosed) return exitStatus({ code: null, signal: r.signal });
  if (r.reason === 'command-exited' && r.commandExit) return exitStatus(r.commandExit);
  return EXIT.OK;
}
