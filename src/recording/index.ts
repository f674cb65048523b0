// .uscope recordings: see format.ts for the byte layout.
export {
  BUILD_RECORD_ABI,
  CHUNK_COUNTERS,
  CHUNK_HEADER_SIZE,
  CHUNK_MAGIC,
  CHUNK_RECORDS,
  CHUNK_TRAILER,
  DEFAULT_CHUNK_BYTES,
  FORMAT_VERSION,
  MAGIC,
  MAX_CHUNK_PAYLOAD,
  MAX_HEADER_BYTES,
  HeaderFieldError,
  RecordingFormatError,
  validateHeader,
  type RecordingErrorCode,
  type RecordingHeader,
  type RecordingTrailer,
} from './format.js';
export { RecordingWriter, type RecordingWriterOptions, type TrailerInput } from './writer.js';
export {
  openRecording,
  readAllRecords,
  type AllRecords,
  type DamagedRange,
  type Recording,
  type RecordingChunk,
  type RecordingStatus,
} from './reader.js';
