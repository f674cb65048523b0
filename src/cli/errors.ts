// One-line errors and documented exit codes. No stack traces reach users.
//
// Exit codes (also in README.md):
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

/** A child's exit as a status: its code, or 128 + the number of the signal that killed it. */
export function exitStatus(exit: { code: number | null; signal: NodeJS.Signals | null }): number {
  if (exit.code !== null) return exit.code;
  const n = exit.signal === null ? undefined : constants.signals[exit.signal];
  return n === undefined ? EXIT.CAPTURE : 128 + n;
}

/**
 * The exit status a capture session ends with (README: Exit codes): 128 + N
 * when signal N stopped uffdscope; the command's own status when it failed
 * by itself; otherwise 0 (its end by --duration or a quit key included).
 */
export function sessionExitStatus(r: {
  reason: string;
  signal?: NodeJS.Signals;
  commandExit: { code: number | null; signal: NodeJS.Signals | null } | null;
}): number {
  // the reader of our output went away (`top | head`): stopped as by SIGTERM, but that is a normal end
  if (r.reason === 'signal' && r.signal && !outputClosed) return exitStatus({ code: null, signal: r.signal });
  if (r.reason === 'command-exited' && r.commandExit) return exitStatus(r.commandExit);
  return EXIT.OK;
}

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

export function fail(e: unknown): never {
  const line = (isExitError(e) ? e.message : (e as Error)?.message ?? String(e)).split('\n')[0];
  process.stderr.write(`uffdscope: ${line}\n`);
  if (process.env.USCOPE_DEBUG && e instanceof Error) {
    if (e.stack) process.stderr.write(e.stack + '\n');
    const log = (e as { libbpfLog?: string }).libbpfLog ?? ((e as { cause?: { libbpfLog?: string } }).cause?.libbpfLog);
    if (log) process.stderr.write(log + '\n');
  }
  process.exit(isExitError(e) ? e.exitCode : EXIT.CAPTURE);
}

// Output closed by its reader (`uffdscope top | head`): no stack trace. A
// running capture stops the way SIGTERM stops it (its command is ended, the
// programs detached, files finished) instead of dying and orphaning the
// command; anything else just ends. Only in the CLI process, not in
// programs that import this module.
let outputClosed = false;
function onOutputError(e: NodeJS.ErrnoException): void {
  if (e?.code !== 'EPIPE') throw e;
  if (outputClosed) return;
  outputClosed = true;
  if (process.listenerCount('SIGTERM') > 0) process.emit('SIGTERM', 'SIGTERM');
  else process.exit(EXIT.OK);
}

/** An exception nothing caught (a view that throws while rendering, a
 *  timer): one line, exit 4; 'exit' handlers still run (a running command
 *  is ended, the terminal restored), the kernel detaches the programs. */
function onUncaught(e: unknown): void {
  if (isExitError(e)) fail(e);
  const msg = ((e as Error)?.message ?? String(e)).split('\n')[0];
  process.stderr.write(`uffdscope: internal error: ${msg} (USCOPE_DEBUG=1 shows where)\n`);
  if (process.env.USCOPE_DEBUG && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
  process.exit(EXIT.CAPTURE);
}

if (/(^|\/)(uffdscope|main\.js)$/.test(process.argv[1] ?? '')) {
  process.stdout.on('error', onOutputError);
  process.stderr.on('error', onOutputError);
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
}
