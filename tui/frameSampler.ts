// The UI's clock, kept outside React: samples source.current() every frameMs
// and tells React only when the drawn frame changes, so the UI re-renders at
// most once per frame however fast events arrive. `freeze` (the `p` key)
// keeps the drawn frame while sampling continues.

import type { TopSnapshot } from '../src/view/topSnapshot.js';
import type { SnapshotSource } from './snapshotSource.js';

export interface Frame {
  snapshot: TopSnapshot;
  /** increases whenever the drawn snapshot changes */
  seq: number;
}

export class FrameSampler {
  private frame: Frame;
  private latest: TopSnapshot;
  private dirty = false;
  private frozen = false;
  private timer: ReturnType<typeof setInterval> | null = null;
  private unsubscribeSource: (() => void) | null = null;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly source: SnapshotSource,
    private readonly frameMs = 100,
  ) {
    this.latest = source.current();
    this.frame = { snapshot: this.latest, seq: 0 };
  }

  start(): void {
    if (this.timer) return;
    // a notification only marks the frame dirty; drawing waits for the clock
    this.unsubscribeSource = this.source.subscribe(() => {
      this.dirty = true;
    });
    this.timer = setInterval(() => this.tick(), Math.max(1, this.frameMs));
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.unsubscribeSource?.();
    this.unsubscribeSource = null;
  }

  /** One frame: sample the source and publish if it changed. */
  tick(): void {
    const s = this.source.current();
    if (s === this.latest && !this.dirty) return;
    this.latest = s;
    this.dirty = false;
    if (!this.frozen) this.publish(s);
  }

  setFrozen(frozen: boolean): void {
    if (this.frozen === frozen) return;
    this.frozen = frozen;
    if (!frozen) {
      this.latest = this.source.current();
      this.dirty = false;
      this.publish(this.latest);
    }
  }

  isFrozen(): boolean {
    return this.frozen;
  }

  /** The drawn frame (stable between changes, for useSyncExternalStore). */
  getFrame = (): Frame => this.frame;

  /** The newest sampled snapshot, even while frozen. */
  getLatest(): TopSnapshot {
    return this.latest;
  }

  subscribe = (cb: () => void): (() => void) => {
    this.listeners.add(cb);
    return () => {
      this.listeners.delete(cb);
    };
  };

  private publish(s: TopSnapshot): void {
    this.frame = { snapshot: s, seq: this.frame.seq + 1 };
    for (const cb of [...this.listeners]) cb();
  }
}
