// Publishes TopModel snapshots on a fixed clock (default 10 per second) to
// the UI: the UI reads current(), never the model, and ingestion never waits
// for drawing. Implements tui/snapshotSource.ts's SnapshotSource.

import type { TopModel } from './topModel.js';
import type { TopHeader, TopSnapshot } from './topSnapshot.js';

export interface PublisherClock {
  /** event-time "now" in boot-time ns */
  now(): number;
  lost(): number;
  uptimeS(): number;
  replay?(): TopHeader['replay'];
}

export class SnapshotPublisher {
  private snap: TopSnapshot;
  private readonly listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | null = null;
  private paused = false;
  /** kept here too, so a model rebuilt by a replay seek keeps them */
  filter = '';
  selected: string | null = null;

  constructor(
    private readonly modelOf: () => TopModel,
    private readonly clock: PublisherClock,
    private readonly frameMs = 100,
    private readonly hooks: { seek?(d: number): void; setSpeed?(x: number): void; setReplayPaused?(p: boolean): void; startDemo?(): void } = {},
  ) {
    this.snap = this.build();
    if (hooks.startDemo) this.startDemo = () => hooks.startDemo!();
  }

  /** `D`: present only when the command offers the demo */
  readonly startDemo?: () => void;

  private build(): TopSnapshot {
    const now = this.clock.now();
    const model = this.modelOf();
    model.filter = this.filter;
    model.selectedUffd = this.selected;
    model.advance(now);
    return model.snapshot({ nowTs: now, lost: this.clock.lost(), uptimeS: this.clock.uptimeS(), paused: this.paused, replay: this.clock.replay?.() });
  }

  /** Rebuild now and notify (also called by the clock). */
  refresh(): void {
    this.snap = this.build();
    for (const cb of [...this.listeners]) cb();
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.refresh(), this.frameMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  current(): TopSnapshot {
    return this.snap;
  }

  subscribe(cb: () => void): () => void {
    this.listeners.add(cb);
    return () => {
      this.listeners.delete(cb);
    };
  }

  setPaused(p: boolean): void {
    this.paused = p;
    this.hooks.setReplayPaused?.(p);
  }

  setFilter(f: string): void {
    this.filter = f;
    this.modelOf().filter = f;
    this.refresh();
  }

  selectUffd(id: string | null): void {
    this.selected = id;
    this.modelOf().selectedUffd = id;
    this.refresh();
  }

  seek(deltaS: number): void {
    this.hooks.seek?.(deltaS);
    this.refresh();
  }

  setSpeed(x: number): void {
    this.hooks.setSpeed?.(x);
  }
}
