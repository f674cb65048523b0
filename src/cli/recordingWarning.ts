// What report, export and replay say on stderr about a damaged or unfinished
// recording, whatever their output format.
import type { RecordingStatus } from '../recording/reader.js';
import { damageWarning } from '../recording/damage.js';

export function warnRecording(file: string, status: RecordingStatus, write = (s: string) => void process.stderr.write(s)): void {
  for (const line of damageWarning(file, status)) write(`uffdscope: ${line}\n`);
}
