// Where the UI gets its data. The producer (live capture, a recording replay,
// the generator) keeps a TopSnapshot up to date ~10 times a second; the UI
// samples current() on its own clock and never re-renders per event.

import type { TopSnapshot } from '../src/view/topSnapshot.js';

export interface SnapshotSource {
  /** the newest snapshot; cheap, called once per frame */
  current(): TopSnapshot;
  /** called when a new snapshot is available; returns an unsubscribe function */
  subscribe(cb: () => void): () => void;
  /** `p`: the display is paused (capture continues); in replay, also space */
  setPaused?(p: boolean): void;
  /** replay: move the position by deltaS seconds (negative = back) */
  seek?(deltaS: number): void;
  /** replay: playback speed, 1 = real time */
  setSpeed?(x: number): void;
  /** `/`: process name or pid filter ("" = none) */
  setFilter?(f: string): void;
  /** Enter in the overview: the uffd the latency view is about (null = all) */
  selectUffd?(id: string | null): void;
  /** `D`: start the bundled demo workload (offered while nothing uses userfaultfd) */
  startDemo?(): void;
}

/**
 * A source that holds one snapshot: for tests, fixtures and the plain-text
 * fallback. `set()` replaces the snapshot and notifies subscribers; the
 * optional controls are recorded in `calls` so tests can check them.
 */
export class StaticSnapshotSource implements SnapshotSource {
  private snap: TopSnapshot;
  private readonly listeners = new Set<() => void>();
  /** every control call, in order: ['setPaused', true], ['seek', -5], ... */
  readonly calls: Array<[string, unknown]> = [];

  constructor(snapshot: TopSnapshot) {
    this.snap = snapshot;
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

  /** Replaces the snapshot and notifies. */
  set(snapshot: TopSnapshot): void {
    this.snap = snapshot;
    this.notify();
  }

  /** Edits the snapshot in place (a new object is made) and notifies. */
  update(edit: (s: TopSnapshot) => TopSnapshot): void {
    this.set(edit(this.snap));
  }

  notify(): void {
    for (const cb of [...this.listeners]) cb();
  }

  get subscriberCount(): number {
    return this.listeners.size;
  }

  setPaused(p: boolean): void {
    this.calls.push(['setPaused', p]);
  }

  startDemo(): void {
    this.calls.push(['startDemo', null]);
  }

  seek(deltaS: number): void {
    this.calls.push(['seek', deltaS]);
  }

  setSpeed(x: number): void {
    this.calls.push(['setSpeed', x]);
  }

  setFilter(f: string): void {
    this.calls.push(['setFilter', f]);
  }

  selectUffd(id: string | null): void {
    this.calls.push(['selectUffd', id]);
  }
}
