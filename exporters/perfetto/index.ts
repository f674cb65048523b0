export { PerfettoWriter, type PerfettoWriterOptions, type PerfettoExportStats } from './writer.js';
export { exportPerfetto, type PerfettoExportResult, type PerfettoExportOptions } from './export.js';
export { loadPerfettoProto, PERFETTO_PROTO_PATH } from './proto.js';
export { validatePerfettoTrace, type PerfettoValidation, type DecodedSlice, type DecodedInstant, type DecodedTrack } from './validate.js';
