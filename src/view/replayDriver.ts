// Drives a TopModel from a recording at a chosen speed, with pause and seek:
// `uffdscope replay`. Seeking back rebuilds the model from the start (the
// model is a streaming one); seeking forward just feeds more events.
import { openRecording, type Recording, type RecordingStatus } from '../recording/reader.js';
import type { UffdEvent } from '../events/types.js';
import { decodeRecording, recordBatches, recordingUapi, type RecordBatch } from '../source/recordingSource.js';
import { FILE_REORDER, recordDecoder, type RecordDecoder } from '../source/recordDecoder.js';
import { recordingEnd } from '../pipeline/recordingPipeline.js';
import { lostFrom } from '../pipeline/summaryMeta.js';
import type { Uapi } from '../events/uapi.js';
import { TopModel, type HeaderInfo } from './topModel.js';
import { SnapshotPublisher } from './snapshotPublisher.js';

export class ReplayDriver {
  readonly rec: Recording;
  readonly uapi: Uapi;
  readonly startTs: number;
  readonly endTs: number;
  /** records the recorder lost (its last counters snapshot) */
  readonly lost: number;
  model!: TopModel;
  /** event-time position, ns since startTs */
  position = 0;
  speed: number;
  paused = false;
  private it!: Generator<RecordBatch, RecordingStatus, undefined>;
  private pending: UffdEvent[] = [];
  private pendingAt = 0;
  private exhausted = false;
  private decoder!: RecordDecoder;

  constructor(
    path: string,
    overrides: Uapi | null,
    private readonly header: (rec: Recording) => HeaderInfo,
    speed = 1,
  ) {
    this.rec = openRecording(path);
    this.uapi = recordingUapi(this.rec.header, overrides);
    const status = this.rec.status();
    this.startTs = this.firstTs();
    this.endTs = Math.max(this.startTs, recordingEnd({ status }) ?? this.lastTs());
    this.lost = lostFrom(status.counters).lost;
    this.speed = speed;
    this.reset();
  }

  private firstTs(): number {
    for (const b of recordBatches(this.rec)) if (b.count) return b.firstTs;
    return this.rec.header.clock.startedAtBootNs;
  }

  private lastTs(): number {
    let last = this.startTs;
    decodeRecording(this.rec, this.uapi, (e) => {
      if (e.ts > last) last = e.ts;
    });
    return last;
  }

  get durationS(): number {
    return (this.endTs - this.startTs) / 1e9;
  }

  get now(): number {
    return this.startTs + this.position;
  }

  private reset(): void {
    this.model = new TopModel(this.uapi, this.header(this.rec));
    this.it = recordBatches(this.rec);
    this.pending = [];
    this.pendingAt = 0;
    this.decoder = recordDecoder(this.rec.header.recordAbi, this.uapi, (e) => this.pending.push(e), FILE_REORDER);
    this.exhausted = false;
    this.position = 0;
  }

  /** Feed every event up to the current position. */
  private feed(): void {
    const until = this.now;
    for (;;) {
      while (this.pendingAt < this.pending.length) {
        const e = this.pending[this.pendingAt];
        if (e.ts > until) return;
        this.model.push(e);
        this.pendingAt++;
      }
      if (this.exhausted) return;
      // the decoder appends what it hands on to `pending`
      this.pending = [];
      this.pendingAt = 0;
      const r = this.it.next();
      if (r.done) {
        this.exhausted = true;
        this.decoder.end();
        continue;
      }
      this.decoder.push(r.value.payload, r.value.count);
    }
  }

  /** Advance by wall-clock milliseconds at the current speed. */
  tick(wallMs: number): void {
    if (this.paused) return;
    this.position = Math.min(this.endTs - this.startTs, this.position + wallMs * 1e6 * this.speed);
    this.feed();
  }

  seek(deltaS: number): void {
    const target = Math.max(0, Math.min(this.endTs - this.startTs, this.position + deltaS * 1e9));
    if (target < this.position) this.reset();
    this.position = target;
    this.feed();
  }

  get atEnd(): boolean {
    return this.position >= this.endTs - this.startTs && this.exhausted;
  }
}

/**
 * The snapshot source of `uffdscope replay`: snapshots of the driver's model
 * at its position, with pause, seek and speed wired to the driver. `lost`:
 * the recording's lost-record count. The caller ticks the driver.
 */
export function replayPublisher(driver: ReplayDriver, lost: number, frameMs = 100): SnapshotPublisher {
  return new SnapshotPublisher(
    () => driver.model,
    {
      now: () => driver.now,
      lost: () => lost,
      uptimeS: () => driver.position / 1e9,
      replay: () => ({ positionS: driver.position / 1e9, durationS: driver.durationS, speed: driver.speed, paused: driver.paused, ended: driver.atEnd }),
    },
    frameMs,
    {
      seek: (d) => driver.seek(d),
      setSpeed: (x) => (driver.speed = x),
      setReplayPaused: (p) => (driver.paused = p),
    },
  );
}

/** What the header says about a recording being replayed. */
export function replayHeader(rec: Recording): HeaderInfo {
  const sel = rec.header.selection;
  return {
    kernel: rec.header.kernel.release,
    backend: rec.header.backend,
    source: rec.header.generated ? 'generated' : 'recording',
    generated: rec.header.generated !== null,
    demo: false,
    selection: sel.hostWide ? 'host-wide' : sel.command ? `command: ${sel.command.join(' ')}` : `pid ${sel.pids.join(', ')}`,
  };
}
