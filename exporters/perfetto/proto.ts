// Loads the Perfetto proto subset (perfetto_trace.proto, next to this file in
// the source tree) with protobufjs, once per process. Field names stay
// snake_case (keepCase) so objects read like the .proto.
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { projectRoot } from '../../src/paths.js';

export const PERFETTO_PROTO_PATH = join(projectRoot, 'exporters', 'perfetto', 'perfetto_trace.proto');

export const SEQ_INCREMENTAL_STATE_CLEARED = 1;
export const SEQ_NEEDS_INCREMENTAL_STATE = 2;

export const TYPE_SLICE_BEGIN = 1;
export const TYPE_SLICE_END = 2;
export const TYPE_INSTANT = 3;
export const TYPE_COUNTER = 4;

export const BUILTIN_CLOCK_REALTIME = 1;
export const BUILTIN_CLOCK_BOOTTIME = 6;

export const COUNTER_UNIT_COUNT = 2;

export interface PerfettoProto {
  root: protobuf.Root;
  Trace: protobuf.Type;
  TracePacket: protobuf.Type;
}

let cached: PerfettoProto | null = null;

export function loadPerfettoProto(): PerfettoProto {
  if (cached) return cached;
  const root = new protobuf.Root();
  root.loadSync(PERFETTO_PROTO_PATH, { keepCase: true });
  root.resolveAll();
  cached = {
    root,
    Trace: root.lookupType('perfetto.protos.Trace'),
    TracePacket: root.lookupType('perfetto.protos.TracePacket'),
  };
  return cached;
}
