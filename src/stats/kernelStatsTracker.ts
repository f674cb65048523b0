// Follows the in-kernel statistics map over time: each read of the map
// (every interval of stat and serve, every frame of top) replaces each
// uffd's figures and turns the growth of its userfault count into a rate.
// The views read it; it never touches the kernel itself.
import { FAULT_KINDS, type FaultKind } from '../model/faultLifecycle.js';
import { RateRing } from './rate.js';
import { uffdKey } from '../model/uffdIdentity.js';
import { STAGES, type Stage } from './stats.js';
import { decodeUffdStats, StageHist, userfaultsOf, type UffdKernelStats } from './kernelStats.js';

/** One undecoded map entry, as the capture reads it. */
export interface RawUffdStatsEntry {
  uffd: bigint;
  createdNs: bigint;
  value: Buffer;
}

/** A uffd's key (uffdKey) from the kernel's identity: its context address
 *  and creation time (0: created before tracing). */
export function kernelKey(uffd: bigint, createdNs: bigint): string {
  return uffdKey({ ctx: uffd, createdNs: createdNs > 0n ? Number(createdNs) : null });
}

/** Totals over every uffd. */
export interface KernelTotals {
  uffds: number;
  entries: number;
  blocked: number;
  /** blocked faults whose end no hook saw: counted, not timed */
  endsUnseen: number;
  msgs: number;
  userfaults: Record<FaultKind, number>;
  stages: Record<Stage, StageHist>;
}

export class KernelStatsTracker {
  private readonly byKey = new Map<string, UffdKernelStats>();
  private readonly rates = new Map<string, RateRing>();
  private readonly counted = new Map<string, number>();
  /** reads of the map so far */
  reads = 0;

  constructor(private readonly windowS = 60) {}

  /** Takes one read of the map, made at boot-time `nowNs`. */
  update(entries: readonly RawUffdStatsEntry[], nowNs: number): void {
    this.reads++;
    for (const e of entries) {
      const key = kernelKey(e.uffd, e.createdNs);
      const s = decodeUffdStats(e.uffd, e.createdNs, e.value, this.byKey.get(key));
      this.byKey.set(key, s);
      const n = userfaultsOf(s);
      const grew = n - (this.counted.get(key) ?? 0);
      let ring = this.rates.get(key);
      if (!ring) {
        ring = new RateRing(Math.max(this.windowS, 10));
        this.rates.set(key, ring);
      }
      // the first read attributes what came before it to its own second
      if (grew > 0) ring.add(nowNs, grew);
      else ring.advance(nowNs);
      this.counted.set(key, n);
    }
  }

  get size(): number {
    return this.byKey.size;
  }

  all(): UffdKernelStats[] {
    return [...this.byKey.values()];
  }

  get(uffd: bigint, createdNs: bigint): UffdKernelStats | undefined {
    return this.byKey.get(kernelKey(uffd, createdNs));
  }

  /** Userfaults per second of this uffd, by second of boot time. */
  rate(uffd: bigint, createdNs: bigint): RateRing | undefined {
    return this.rates.get(kernelKey(uffd, createdNs));
  }

  totals(): KernelTotals {
    const userfaults = {} as Record<FaultKind, number>;
    for (const k of FAULT_KINDS) userfaults[k] = 0;
    const stages = {} as Record<Stage, StageHist>;
    for (const st of STAGES) stages[st] = new StageHist();
    const t: KernelTotals = { uffds: this.byKey.size, entries: 0, blocked: 0, endsUnseen: 0, msgs: 0, userfaults, stages };
    for (const s of this.byKey.values()) {
      t.entries += s.entries;
      t.blocked += s.blocked;
      t.endsUnseen += s.endsUnseen;
      t.msgs += s.msgs;
      for (const k of FAULT_KINDS) userfaults[k] += s.userfaults[k];
      for (const st of STAGES) stages[st].add(s.stages[st]);
    }
    return t;
  }
}
