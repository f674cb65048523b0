// Per-second event counts over a bounded window: a ring of the last N
// seconds of event time. Memory is N numbers whatever the trace length.

export interface RatePoint {
  /** whole second of event time (CLOCK_BOOTTIME seconds) */
  sec: number;
  count: number;
}

export class RateRing {
  private readonly slots: Float64Array;
  /** the newest second the ring holds; -1 before the first add */
  private head = -1;
  /** the first second ever counted (series never starts before it) */
  private first = -1;
  /** adds older than the window (dropped) */
  late = 0;
  /** all adds, in or out of the window */
  total = 0;

  constructor(readonly seconds = 300) {
    if (!(seconds >= 1)) throw new RangeError('RateRing: seconds must be >= 1');
    this.slots = new Float64Array(Math.floor(seconds));
  }

  /** Counts `n` occurrences at event time `ts` (ns). */
  add(ts: number, n = 1): void {
    this.total += n;
    const sec = Math.floor(ts / 1e9);
    const N = this.slots.length;
    if (this.head < 0) {
      this.head = sec;
      this.first = sec;
    } else if (sec > this.head) {
      const gap = sec - this.head;
      if (gap >= N) this.slots.fill(0);
      else for (let s = this.head + 1; s <= sec; s++) this.slots[s % N] = 0;
      this.head = sec;
    } else if (sec <= this.head - N) {
      this.late += n;
      return;
    }
    this.slots[sec % N] += n;
  }

  /** Moves the window forward to `ts` with no event (idle seconds read 0). */
  advance(ts: number): void {
    const sec = Math.floor(ts / 1e9);
    if (this.head < 0 || sec <= this.head) return;
    this.add(ts, 0);
  }

  /** Count in the second holding `ts` (0 outside the window). */
  at(ts: number): number {
    const sec = Math.floor(ts / 1e9);
    if (this.head < 0 || sec > this.head || sec <= this.head - this.slots.length) return 0;
    return this.slots[sec % this.slots.length];
  }

  /** The last `n` seconds (default: the whole window), oldest first, ending
   *  at the newest second seen and starting no earlier than the first. */
  series(n = this.slots.length): RatePoint[] {
    if (this.head < 0) return [];
    const N = this.slots.length;
    const k = Math.min(n, N);
    const out: RatePoint[] = [];
    for (let sec = Math.max(this.head - k + 1, this.first); sec <= this.head; sec++) {
      out.push({ sec, count: this.slots[sec % N] });
    }
    return out;
  }

  /** Highest per-second count in the window. */
  peak(): number {
    let m = 0;
    for (const v of this.slots) if (v > m) m = v;
    return m;
  }
}
