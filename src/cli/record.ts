// `uffdscope record -o FILE [--pid PID]... [--duration S] [-- CMD ARGS...]`
import type { SessionResult } from '../capture/session.js';
import type { HooksChoice } from '../capture/liveCapture.js';
import type { BackendChoice } from '../capture/captureOptions.js';
import type { Uapi } from '../events/uapi.js';
import { EXIT, sessionExitStatus } from '../exitCodes.js';
import { recordedLine, recordToFile } from '../pipeline/recordToFile.js';
import { tracingLine } from './tracingLine.js';

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

export async function runRecord(o: RecordOptions): Promise<SessionResult> {
  const r = await recordToFile(o, (cap) => {
    process.stderr.write(tracingLine({ ...o, hostWide: cap.info.hostWide }, 'recording') + '\n');
  });
  process.stderr.write(`uffdscope: ${recordedLine(o.output, r)}\n`);
  const status = sessionExitStatus(r.session);
  if (status !== EXIT.OK) process.exitCode = status;
  return r.session;
}
