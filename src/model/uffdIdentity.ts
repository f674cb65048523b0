// What one uffd is: its kernel context address PLUS its creation time. The
// kernel frees a context when its last fd closes and hands the same address
// to a later userfaultfd(2), so the address alone merges different uffds.
// Every view, exporter and table names a uffd by this identity (or its key).

import { uffdId, type UffdEvent } from '../events/types.js';

export interface UffdIdentity {
  /** struct userfaultfd_ctx * */
  ctx: bigint;
  /** CLOCK_BOOTTIME ns of its creation; null when it was created before tracing began (not seen) */
  createdNs: number | null;
}

/** The stable string form: "0xffff888012340000@1234567890" ("@-" when created before tracing). */
export function uffdKey(id: UffdIdentity): string {
  return `${uffdId(id.ctx)}@${id.createdNs ?? '-'}`;
}

/** The identity a key names; null when `key` is not one. */
export function parseUffdKey(key: string): UffdIdentity | null {
  const m = /^0x([0-9a-f]+)@(-|\d+)$/.exec(key);
  if (m === null) return null;
  return { ctx: BigInt('0x' + m[1]), createdNs: m[2] === '-' ? null : Number(m[2]) };
}

/** Creation time as seconds after `startNs` (the recording's or the capture's start); null before tracing. */
export function createdAfterS(createdNs: number | null, startNs: number): number | null {
  return createdNs === null ? null : Math.max(0, createdNs - startNs) / 1e9;
}

/** The `created` column of tables: "0.016407" (s after start, µs precision: uffds made in one loop are µs apart), "-" for a uffd created before tracing. */
export function formatCreated(createdNs: number | null, startNs: number): string {
  const s = createdAfterS(createdNs, startNs);
  return s === null ? '-' : s.toFixed(6);
}

/**
 * The uffd an event is about, as the context address and the time that names
 * its lifetime (a fault's time for its block/wake/resume, an ioctl's entry);
 * null for events without a uffd.
 */
export function eventUffd(e: UffdEvent): { ctx: bigint; ts: number } | null {
  switch (e.type) {
    case 'fault':
    case 'msg':
    case 'uffd_create':
    case 'uffd_close':
      return { ctx: e.uffd, ts: e.ts };
    case 'block':
    case 'wake':
    case 'resume':
      return { ctx: e.uffd, ts: e.faultTs };
    case 'ioctl_enter':
    case 'ioctl_exit':
    case 'hu':
      return { ctx: e.uffd, ts: e.enterTs };
    default:
      return null;
  }
}

/** creation times kept per context address (the oldest are forgotten first) */
const MAX_CREATIONS_PER_CTX = 4096;

/**
 * Which uffd a context address meant at a given time, from the creations seen
 * so far: for streaming exporters that do not keep the whole registry.
 */
export class UffdCreations {
  private readonly byCtx = new Map<bigint, number[]>();

  /** A uffd was created at `ctx` at `ts`. */
  note(ctx: bigint, ts: number): void {
    let l = this.byCtx.get(ctx);
    if (l === undefined) this.byCtx.set(ctx, (l = []));
    let i = l.length;
    while (i > 0 && l[i - 1] > ts) i--; // records arrive nearly sorted
    l.splice(i, 0, ts);
    if (l.length > MAX_CREATIONS_PER_CTX) l.shift();
  }

  /** The identity of the uffd at `ctx` at time `ts`: the latest creation at or before it. */
  at(ctx: bigint, ts: number): UffdIdentity {
    const l = this.byCtx.get(ctx);
    if (l !== undefined) {
      for (let i = l.length - 1; i >= 0; i--) if (l[i] <= ts) return { ctx, createdNs: l[i] };
    }
    return { ctx, createdNs: null };
  }
}
