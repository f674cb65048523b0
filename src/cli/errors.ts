// How the CLI process ends: one-line errors, no stack traces, and the
// process-wide handlers the entry point installs (never a library module).
import { EXIT, isExitError, noteOutputClosed } from '../exitCodes.js';

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
// command; anything else just ends.
let outputClosed = false;
function onOutputError(e: NodeJS.ErrnoException): void {
  if (e?.code !== 'EPIPE') throw e;
  if (outputClosed) return;
  outputClosed = true;
  noteOutputClosed();
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

/** Called once by the CLI entry point (src/cli/main.ts). */
export function installProcessHandlers(): void {
  process.stdout.on('error', onOutputError);
  process.stderr.on('error', onOutputError);
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
}
