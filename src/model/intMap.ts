// An insertion-ordered map from integer keys to values, for the model's hot
// indices: the open fault of each thread, the ioctl in flight on each thread,
// the open faults of each page. These see a set and a delete for almost every
// fault or ioctl, and live as long as the trace.
//
// Why not a Map: V8 keeps a Map's entries in one hash table that is never
// updated in place for adds after deletes. A delete that leaves the table
// sparse shrinks it and an add into a table whose slots are used up (deleted
// ones included) grows or compacts it, each time into a NEW table, allocated
// in the same generation as the old one. A Map that lives long enough has its
// table in old space, so from then on every such rehash allocates in old
// space: a Map holding one ioctl in flight, set at each ioctl's entry and
// deleted at its exit, leaves a dead ~150-byte table in old space per ioctl.
// Nothing frees that until a full GC: under `top`'s ioctl storm that was
// ~1 MB of old space per scavenge, and a 20 MB live set saw-toothed to
// 260 MB of RSS.
//
// This map allocates only when its capacity changes (growing, or shrinking
// after the entries left): deletes leave a tombstone, adds fill empty slots,
// and when live entries plus tombstones reach 70% of the slots the table is
// rebuilt, in place when the capacity stays the same.
//
// Semantics are those of Map for what it offers: iteration in insertion
// order (a key deleted and set again goes to the end; setting a present key
// keeps its place), entries deleted during an iteration are not visited,
// values changed during an iteration are seen. Keys are integers (any safe
// integer; compared with ===). Unlike Map, keys added during an iteration
// may not be visited, and an iteration during which the table was rebuilt
// (keys added, or clear()) throws: the model never adds while iterating.

const EMPTY = 0;
const LIVE = 1;
const DELETED = 2;
const MIN_CAPACITY = 8;
const TWO32 = 4294967296;

function capacityFor(n: number): number {
  let c = MIN_CAPACITY;
  while (c < n) c *= 2;
  return c;
}

/** A fast-elements array of n undefined (new Array(n) can be a dictionary). */
function slots<V>(n: number): (V | undefined)[] {
  const a: (V | undefined)[] = [];
  for (let i = 0; i < n; i++) a.push(undefined);
  return a;
}

export class IntMap<V> {
  private cap = 0;
  /** 32 - log2(cap): Fibonacci hashing keeps the top bits */
  private shift = 0;
  private keyAt = new Float64Array(0);
  private valAt: (V | undefined)[] = [];
  private state = new Uint8Array(0);
  /** insertion order, through slot numbers (-1: none); a deleted slot keeps
   *  its links so that an iteration standing on it can go on */
  private next = new Int32Array(0);
  private prev = new Int32Array(0);
  private head = -1;
  private tail = -1;
  private live = 0;
  /** live + deleted slots */
  private used = 0;
  /** bumped when slots move (rebuild, clear): running iterations stop */
  private epoch = 0;
  /** live entries, in order, while the table is rebuilt (kept for reuse) */
  private spareKeys = new Float64Array(0);
  private spareVals: (V | undefined)[] = [];

  constructor() {
    this.alloc(MIN_CAPACITY);
  }

  get size(): number {
    return this.live;
  }

  get(key: number): V | undefined {
    const i = this.find(key);
    return i < 0 ? undefined : this.valAt[i];
  }

  has(key: number): boolean {
    return this.find(key) >= 0;
  }

  set(key: number, value: V): this {
    let i = this.find(key);
    if (i >= 0) {
      this.valAt[i] = value;
      return this;
    }
    if ((this.used + 1) * 10 > this.cap * 7) {
      this.rebuild(this.live + 1);
      i = this.find(key);
    }
    this.insertAt(~i, key, value);
    return this;
  }

  delete(key: number): boolean {
    const i = this.find(key);
    if (i < 0) return false;
    this.state[i] = DELETED;
    this.valAt[i] = undefined; // the value may be garbage now: do not hold it
    const p = this.prev[i];
    const n = this.next[i];
    if (p >= 0) this.next[p] = n;
    else this.head = n;
    if (n >= 0) this.prev[n] = p;
    else this.tail = p;
    this.live--;
    return true;
  }

  clear(): void {
    if (this.live === 0 && this.used === 0) return;
    this.epoch++;
    if (this.cap > MIN_CAPACITY) this.alloc(MIN_CAPACITY);
    else {
      this.state.fill(EMPTY);
      this.valAt.fill(undefined);
    }
    this.head = this.tail = -1;
    this.live = this.used = 0;
  }

  /** Values in insertion order. */
  *values(): Generator<V, void, undefined> {
    const epoch = this.epoch;
    for (let i = this.head; i >= 0; i = this.next[i]) {
      if (this.state[i] !== LIVE) continue;
      yield this.valAt[i] as V;
      if (this.epoch !== epoch) throw new Error('IntMap: changed under an iteration (keys added or cleared)');
    }
  }

  /** Keys in insertion order. */
  *keys(): Generator<number, void, undefined> {
    const epoch = this.epoch;
    for (let i = this.head; i >= 0; i = this.next[i]) {
      if (this.state[i] !== LIVE) continue;
      yield this.keyAt[i];
      if (this.epoch !== epoch) throw new Error('IntMap: changed under an iteration (keys added or cleared)');
    }
  }

  // ---- internals ----

  private hash(key: number): number {
    const lo = key >>> 0;
    const hi = ((key - lo) / TWO32) | 0;
    return Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> this.shift;
  }

  /** The key's slot, or ~slot of the empty slot that ended the probe (where
   *  set() inserts it): one probe loop serves lookups and inserts. */
  private find(key: number): number {
    const mask = this.cap - 1;
    const state = this.state;
    const keyAt = this.keyAt;
    let i = this.hash(key);
    for (;;) {
      const s = state[i];
      if (s === EMPTY) return ~i;
      if (s === LIVE && keyAt[i] === key) return i;
      i = (i + 1) & mask;
    }
  }

  private insertAt(i: number, key: number, value: V): void {
    this.state[i] = LIVE;
    this.keyAt[i] = key;
    this.valAt[i] = value;
    this.prev[i] = this.tail;
    this.next[i] = -1;
    if (this.tail >= 0) this.next[this.tail] = i;
    else this.head = i;
    this.tail = i;
    this.live++;
    this.used++;
  }

  private alloc(cap: number): void {
    this.cap = cap;
    this.shift = 32 - Math.log2(cap);
    this.keyAt = new Float64Array(cap);
    this.valAt = slots<V>(cap);
    this.state = new Uint8Array(cap);
    this.next = new Int32Array(cap);
    this.prev = new Int32Array(cap);
  }

  /** Re-inserts the live entries, in order, into a table sized for `want`
   *  entries at most half full; drops the tombstones. */
  private rebuild(want: number): void {
    this.epoch++;
    const n = this.live;
    if (this.spareKeys.length < n) {
      this.spareKeys = new Float64Array(capacityFor(n));
      while (this.spareVals.length < this.spareKeys.length) this.spareVals.push(undefined);
    }
    const ks = this.spareKeys;
    const vs = this.spareVals;
    let k = 0;
    for (let i = this.head; i >= 0; i = this.next[i]) {
      ks[k] = this.keyAt[i];
      vs[k] = this.valAt[i];
      k++;
    }
    const cap = capacityFor(want * 2);
    if (cap !== this.cap) this.alloc(cap);
    else {
      this.state.fill(EMPTY);
      this.valAt.fill(undefined);
    }
    this.head = this.tail = -1;
    this.live = this.used = 0;
    const mask = cap - 1;
    for (let j = 0; j < n; j++) {
      const key = ks[j];
      let i = this.hash(key);
      while (this.state[i] !== EMPTY) i = (i + 1) & mask;
      this.insertAt(i, key, vs[j] as V);
      vs[j] = undefined;
    }
    // after a burst, do not keep a spare sized for it
    if (ks.length > 4 * cap) {
      this.spareKeys = new Float64Array(0);
      this.spareVals = [];
    }
  }
}
