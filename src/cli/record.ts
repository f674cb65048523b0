// `uffdscope record -o FILE [--pid PID]... [--duration S] [-- CMD ARGS...]`
import { existsSync, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { runSession, type SessionResult } from '../capture/session.js';
import { bootTimeNs, type HooksChoice, type LiveCapture } from '../capture/liveCapture.js';
import { captureOptions, type BackendChoice } from '../capture/captureOptions.js';
import { liveRecordingHeader } from '../capture/recordingHeader.js';
import { RecordingWriter } from '../recording/writer.js';
import type { Uapi } from '../events/uapi.js';
import { UsageError, EXIT, sessionExitStatus } from './errors.js';

export interface RecordOptions {
  /** false: keep the normal CPU priority (--no-priority) */
  priority?: boolean;
  output: string;
  pid: number[];
  duration?: number;
  ringBufferMb?: number;
  ringBufferKb?: number;
  backend?: BackendChoice;
  hooks?: HooksChoice;
  force?: boolean;
  command: string[];
  uapi: Uapi;
}

export type { BackendChoice, HooksChoice };
export { captureOptions };

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

export async function runRecord(o: RecordOptions): Promise<SessionResult> {
  checkOutputPath(o.output, '-o', !!o.force);
  let writer: RecordingWriter | null = null;
  let events = 0;
  // A write that fails while capturing (disk full...) ends the session with
  // one line naming the file; what was written before stays readable.
  const written = (f: () => void) => {
    try {
      f();
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw Object.assign(new Error(`-o ${o.output}: writing the recording failed (${err.code ?? err.message}); it holds what was written before`), {
        exitCode: EXIT.CAPTURE,
      });
    }
  };
  const snapshot = (cap: LiveCapture) => written(() => writer?.writeCounters({ ...cap.counters(), atBootNs: Date.now() }));
  const result = await runSession(
    {
      capture: captureOptions(o),
      durationS: o.duration,
      tickMs: 1000,
      onTick: snapshot,
      onOpen: (cap) => {
        if (cap.info.hostWide) process.stderr.write('uffdscope: recording every process on this host (select with --pid or -- CMD); Ctrl-C to stop\n');
        try {
          writer = RecordingWriter.create(o.output, liveRecordingHeader(cap.info, o.pid, o.command.length ? o.command : null, o.uapi), {
            overwrite: !!o.force,
          });
        } catch (e) {
          throw outputFileError(o.output, '-o', e);
        }
      },
    },
    (batch, count) => {
      events += count;
      written(() => writer!.append(batch, count));
    },
  ).catch((e) => {
    // Whatever was recorded stays readable: flush it without a trailer.
    (writer as RecordingWriter | null)?.abort();
    throw e;
  });
  const w = writer as unknown as RecordingWriter;
  written(() => {
    try {
      w.writeCounters({ ...result.counters, final: true });
      w.close({ endedAtBootNs: bootTimeNs(), reason: result.reason, signal: result.signal ?? null, counters: result.counters, commandExit: result.commandExit });
    } catch (e) {
      w.abort();
      throw e;
    }
  });
  const c = result.counters;
  process.stderr.write(
    `uffdscope: recorded ${events} events to ${o.output} (${result.reason}); lost ${c.lostTotal}` +
      (c.lostTotal ? ' — raise --ring-buffer-mb' : '') +
      '\n',
  );
  const status = sessionExitStatus(result);
  if (status !== EXIT.OK) process.exitCode = status;
  return result;
}
