// `uffdscope export FILE --format perfetto|ndjson -o OUT [--force]`: a
// recording as a Perfetto trace (native protobuf, opens in ui.perfetto.dev)
// or as NDJSON (one JSON object per decoded event). Both stream: memory stays
// bounded whatever the size of the recording.
import { existsSync } from 'node:fs';
import type { Uapi } from '../events/uapi.js';
import { exportPerfetto } from '../../exporters/perfetto/export.js';
import { exportNdjson } from '../../exporters/ndjson.js';
import { recordingInputError } from '../source/recordingSource.js';
import { warnRecording } from './recordingWarning.js';
import { UsageError } from '../exitCodes.js';

export interface ExportOptions {
  format: 'perfetto' | 'ndjson';
  /** output file; "-" is stdout (ndjson only) */
  output: string;
  force?: boolean;
  uapi: Uapi;
}

export const EXPORT_FORMATS = ['perfetto', 'ndjson'] as const;

export async function runExport(file: string, opts: ExportOptions): Promise<void> {
  if (!(EXPORT_FORMATS as readonly string[]).includes(opts.format)) {
    throw new UsageError(`--format ${opts.format}: unknown; choose one of ${EXPORT_FORMATS.join(', ')}`);
  }
  if (!opts.output) throw new UsageError('-o FILE is required (the file to write)');
  if (opts.output === '-' && opts.format === 'perfetto') throw new UsageError('--format perfetto writes a binary trace: give -o FILE, not -');
  if (opts.output !== '-' && existsSync(opts.output) && !opts.force) {
    throw new UsageError(`${opts.output} exists: choose another -o FILE or pass --force to overwrite`);
  }
  if (opts.output !== '-' && existsSync(file) && opts.output === file) throw new UsageError(`-o ${opts.output} is the recording itself`);
  try {
    if (opts.format === 'perfetto') {
      const r = exportPerfetto(file, opts.output, opts.uapi, { force: opts.force });
      const s = r.stats;
      const h = r.read.header;
      if (h.generated) process.stderr.write(`uffdscope: GENERATED recording (${h.generated.generator}, scenario ${h.generated.scenario}): the trace is marked [generated]\n`);
      warnRecording(file, r.read.status);
      process.stderr.write(
        `uffdscope: wrote ${opts.output}: ${s.faultSlices} fault slices, ${s.ioctlSlices} ioctl slices, ${s.flows} flows, ` +
          `${s.setModeInstants} SET_MODE attempts from ${s.events} events (${(s.bytes / 1048576).toFixed(1)} MiB); open it at https://ui.perfetto.dev\n`,
      );
      if (s.late || s.lateDropped) {
        process.stderr.write(`uffdscope: ${s.late} records came after their time was written (on "late records" tracks); ${s.lateDropped} could not be placed\n`);
      }
    } else {
      const r = exportNdjson(file, opts.output, opts.uapi, { force: opts.force });
      const h = r.read.header;
      if (h.generated) process.stderr.write(`uffdscope: GENERATED recording (${h.generated.generator}, scenario ${h.generated.scenario}): these events were not captured from a kernel\n`);
      warnRecording(file, r.read.status);
      if (opts.output !== '-') process.stderr.write(`uffdscope: wrote ${r.lines} events to ${opts.output}\n`);
    }
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    // The reader of stdout went away (| head): not an error, stop quietly.
    if (err?.code === 'EPIPE' && opts.output === '-') return;
    if (err?.code === 'EEXIST') throw new UsageError(`${opts.output} exists: choose another -o FILE or pass --force to overwrite`);
    if (err?.path !== undefined && err.path === opts.output) throw new UsageError(`cannot write ${opts.output}: ${err.code ?? err.message}`);
    throw recordingInputError(file, e);
  }
}
