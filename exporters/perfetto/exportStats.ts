// What an export counts: written, late, dropped and held back (PerfettoWriter.stats).

export interface PerfettoExportStats {
  events: number;
  packets: number;
  bytes: number;
  faultSlices: number;
  ioctlSlices: number;
  flows: number;
  setModeInstants: number;
  modeSpans: number;
  counterSamples: number;
  /** records written on a late sequence (they came after their time was written) */
  late: number;
  /** late records not written (too many late lanes/sequences) */
  lateDropped: number;
  /** fault placeholders given up on (record later than maxHoldMs or buffer full) */
  abandonedFaults: number;
  /** ioctls whose exit was never seen in time (written as zero-length slices) */
  ioctlsWithoutExit: number;
  /** resolved faults whose resolving ioctl had already been written (no flow) */
  flowsMissed: number;
  /** operations written early because the buffer was full */
  forcedFlushes: number;
  /** slices not written because a thread had too many overlapping lanes */
  laneOverflow: number;
  /** most operations buffered at once (the reorder buffer's high-water mark) */
  maxBuffered: number;
  sequences: number;
}

export function newExportStats(): PerfettoExportStats {
  return {
    events: 0,
    packets: 0,
    bytes: 0,
    faultSlices: 0,
    ioctlSlices: 0,
    flows: 0,
    setModeInstants: 0,
    modeSpans: 0,
    counterSamples: 0,
    late: 0,
    lateDropped: 0,
    abandonedFaults: 0,
    ioctlsWithoutExit: 0,
    flowsMissed: 0,
    forcedFlushes: 0,
    laneOverflow: 0,
    maxBuffered: 0,
    sequences: 1,
  };
}
