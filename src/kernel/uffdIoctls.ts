// The uffd ioctls, one row each: everything the decoder, the model and the
// views need to know of an ioctl lives here and nowhere else.
// include/uapi/linux/userfaultfd.h; UFFDIO_RWPROTECT and UFFDIO_SET_MODE from
// the RWP series (patch 13/15). The numbers themselves are in the Uapi table
// (src/events/uapi.ts, overridable with --uapi); a row names its key there.

/** What an argument word holds (how views print it). */
export type ArgKind = 'addr' | 'len' | 'mask' | 'result';

/** The fault kinds an ioctl resolves on its range. */
export type ResolvedKind = 'missing' | 'wp' | 'minor';

/** What a blocked fault woken while this ioctl was in flight on the waker counts as (FaultEnd). */
export type WakeCause = 'resolved' | 'mode_switch' | 'unregistered' | 'signal_or_spurious';

export interface UffdIoctl {
  name: string;
  /** key of its _IOC_NR in the Uapi table */
  nrKey: string;
  /** the argument struct's u64 words, in order */
  args: ReadonlyArray<readonly [field: string, kind: ArgKind]>;
  /** the __s64 word the kernel writes back (bytes done, or -errno); null: none */
  result: string | null;
  /** the word that starts its range; null: no range */
  rangeStart: 'dst' | 'start' | null;
  /** faults of this kind on its range are resolved by it (pages filled, or
   *  protection removed when `result` is null); null: it resolves none itself */
  resolves: ResolvedKind | null;
  wakeCause: WakeCause;
  /** issued by a handler per fault (and counted in the kernel); false: a control ioctl */
  perFault: boolean;
}

const START_LEN = [['start', 'addr'], ['len', 'len']] as const;

export const UFFD_IOCTLS: readonly UffdIoctl[] = [
  { name: 'UFFDIO_REGISTER', nrKey: '_UFFDIO_REGISTER', args: [...START_LEN, ['mode', 'mask'], ['ioctls', 'mask']], result: null, rangeStart: 'start', resolves: null, wakeCause: 'signal_or_spurious', perFault: false },
  { name: 'UFFDIO_UNREGISTER', nrKey: '_UFFDIO_UNREGISTER', args: START_LEN, result: null, rangeStart: 'start', resolves: null, wakeCause: 'unregistered', perFault: false },
  { name: 'UFFDIO_WAKE', nrKey: '_UFFDIO_WAKE', args: START_LEN, result: null, rangeStart: 'start', resolves: null, wakeCause: 'resolved', perFault: true },
  { name: 'UFFDIO_COPY', nrKey: '_UFFDIO_COPY', args: [['dst', 'addr'], ['src', 'addr'], ['len', 'len'], ['mode', 'mask'], ['copy', 'result']], result: 'copy', rangeStart: 'dst', resolves: 'missing', wakeCause: 'resolved', perFault: true },
  { name: 'UFFDIO_ZEROPAGE', nrKey: '_UFFDIO_ZEROPAGE', args: [...START_LEN, ['mode', 'mask'], ['zeropage', 'result']], result: 'zeropage', rangeStart: 'start', resolves: 'missing', wakeCause: 'resolved', perFault: true },
  { name: 'UFFDIO_MOVE', nrKey: '_UFFDIO_MOVE', args: [['dst', 'addr'], ['src', 'addr'], ['len', 'len'], ['mode', 'mask'], ['move', 'result']], result: 'move', rangeStart: 'dst', resolves: 'missing', wakeCause: 'resolved', perFault: true },
  { name: 'UFFDIO_WRITEPROTECT', nrKey: '_UFFDIO_WRITEPROTECT', args: [...START_LEN, ['mode', 'mask']], result: null, rangeStart: 'start', resolves: 'wp', wakeCause: 'resolved', perFault: true },
  { name: 'UFFDIO_CONTINUE', nrKey: '_UFFDIO_CONTINUE', args: [...START_LEN, ['mode', 'mask'], ['mapped', 'result']], result: 'mapped', rangeStart: 'start', resolves: 'minor', wakeCause: 'resolved', perFault: true },
  { name: 'UFFDIO_POISON', nrKey: '_UFFDIO_POISON', args: [...START_LEN, ['mode', 'mask'], ['updated', 'result']], result: 'updated', rangeStart: 'start', resolves: 'missing', wakeCause: 'resolved', perFault: true },
  // the series does not state RWPROTECT's mode bits: an un-protect cannot be told from a protect
  { name: 'UFFDIO_RWPROTECT', nrKey: '_UFFDIO_RWPROTECT', args: [...START_LEN, ['mode', 'mask']], result: null, rangeStart: 'start', resolves: null, wakeCause: 'resolved', perFault: true },
  { name: 'UFFDIO_SET_MODE', nrKey: '_UFFDIO_SET_MODE', args: [['enable', 'mask'], ['disable', 'mask']], result: null, rangeStart: null, resolves: null, wakeCause: 'mode_switch', perFault: false },
  { name: 'UFFDIO_API', nrKey: '_UFFDIO_API', args: [['api', 'mask'], ['features', 'mask'], ['ioctls', 'mask']], result: null, rangeStart: null, resolves: null, wakeCause: 'signal_or_spurious', perFault: false },
];

const BY_NAME = new Map(UFFD_IOCTLS.map((i) => [i.name, i]));

/** The row of a known ioctl name (ioctlName()'s); undefined for others. */
export function uffdIoctl(name: string): UffdIoctl | undefined {
  return BY_NAME.get(name);
}

const ARG_FIELDS = new Map(UFFD_IOCTLS.map((i) => [i.name, i.args.map(([f]) => f)]));

/** Argument struct field names of an ioctl, in the order of their u64 words. */
export function ioctlArgFields(name: string): readonly string[] {
  return ARG_FIELDS.get(name) ?? [];
}

/** Every argument field name with what it holds (a name means the same in every ioctl). */
export const ARG_KINDS: ReadonlyMap<string, ArgKind> = new Map(UFFD_IOCTLS.flatMap((i) => i.args));

/** The blocked fault's end when the ioctl in flight on its waker woke it; an ioctl this build does not know counts as resolving. */
export function wakeCauseOf(name: string): WakeCause {
  return BY_NAME.get(name)?.wakeCause ?? 'resolved';
}

/** A control ioctl (API, REGISTER, UNREGISTER, SET_MODE): rare, always streamed, its entry arguments kept. */
export function isControlIoctl(name: string): boolean {
  return BY_NAME.get(name)?.perFault === false;
}

/** A handler's per-fault ioctl (COPY, ZEROPAGE, WAKE, CONTINUE, MOVE, WRITEPROTECT, POISON, RWPROTECT). */
export function isPerFaultIoctl(name: string): boolean {
  return BY_NAME.get(name)?.perFault === true;
}
