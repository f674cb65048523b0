// Every userfaultfd constant uffdscope interprets, in one table.
//
// Values come from include/uapi/linux/userfaultfd.h (mainline) and, for the
// RWP series (not in mainline; the seed is patch 13/15), from the patch where
// it states them. The patch does NOT give the numeric bits of
// UFFD_FEATURE_RWP / UFFD_FEATURE_RWP_ASYNC / UFFDIO_REGISTER_MODE_RWP /
// UFFD_PAGEFAULT_FLAG_RWP: those are marked provisional and a user can
// override any entry (`--uapi NAME=VALUE`). The VM_UFFD_* VMA flags are
// kernel-internal (include/linux/mm.h), used by the BPF side to say which
// modes a VMA is armed for; they are overridable for the same reason.

import { UFFD_IOCTLS } from '../kernel/uffdIoctls.js';

export interface UapiEntry {
  value: bigint;
  provisional?: true;
  source: string;
}

const MAINLINE = 'include/uapi/linux/userfaultfd.h';
const SEED = 'RWP series patch 13/15 (UFFDIO_SET_MODE)';
const GUESS = 'not stated in RWP series patch 13/15; provisional guess (next free bit), override with --uapi';

export const DEFAULT_UAPI: Readonly<Record<string, UapiEntry>> = Object.freeze({
  UFFD_API: { value: 0xaan, source: MAINLINE },
  UFFDIO_TYPE: { value: 0xaan, source: MAINLINE },
  // ioctl numbers (_IOC_NR)
  _UFFDIO_REGISTER: { value: 0x00n, source: MAINLINE },
  _UFFDIO_UNREGISTER: { value: 0x01n, source: MAINLINE },
  _UFFDIO_WAKE: { value: 0x02n, source: MAINLINE },
  _UFFDIO_COPY: { value: 0x03n, source: MAINLINE },
  _UFFDIO_ZEROPAGE: { value: 0x04n, source: MAINLINE },
  _UFFDIO_MOVE: { value: 0x05n, source: MAINLINE },
  _UFFDIO_WRITEPROTECT: { value: 0x06n, source: MAINLINE },
  _UFFDIO_CONTINUE: { value: 0x07n, source: MAINLINE },
  _UFFDIO_POISON: { value: 0x08n, source: MAINLINE },
  _UFFDIO_RWPROTECT: { value: 0x09n, source: SEED },
  _UFFDIO_SET_MODE: { value: 0x0an, source: SEED },
  _UFFDIO_API: { value: 0x3fn, source: MAINLINE },
  UFFDIO_SET_MODE: { value: 0x4010aa0an, source: SEED },
  USERFAULTFD_IOC_NEW: { value: 0xaa00n, source: 'include/uapi/linux/userfaultfd.h (/dev/userfaultfd)' },
  // features (uffdio_api.features)
  UFFD_FEATURE_PAGEFAULT_FLAG_WP: { value: 1n << 0n, source: MAINLINE },
  UFFD_FEATURE_EVENT_FORK: { value: 1n << 1n, source: MAINLINE },
  UFFD_FEATURE_EVENT_REMAP: { value: 1n << 2n, source: MAINLINE },
  UFFD_FEATURE_EVENT_REMOVE: { value: 1n << 3n, source: MAINLINE },
  UFFD_FEATURE_MISSING_HUGETLBFS: { value: 1n << 4n, source: MAINLINE },
  UFFD_FEATURE_MISSING_SHMEM: { value: 1n << 5n, source: MAINLINE },
  UFFD_FEATURE_EVENT_UNMAP: { value: 1n << 6n, source: MAINLINE },
  UFFD_FEATURE_SIGBUS: { value: 1n << 7n, source: MAINLINE },
  UFFD_FEATURE_THREAD_ID: { value: 1n << 8n, source: MAINLINE },
  UFFD_FEATURE_MINOR_HUGETLBFS: { value: 1n << 9n, source: MAINLINE },
  UFFD_FEATURE_MINOR_SHMEM: { value: 1n << 10n, source: MAINLINE },
  UFFD_FEATURE_EXACT_ADDRESS: { value: 1n << 11n, source: MAINLINE },
  UFFD_FEATURE_WP_HUGETLBFS_SHMEM: { value: 1n << 12n, source: MAINLINE },
  UFFD_FEATURE_WP_UNPOPULATED: { value: 1n << 13n, source: MAINLINE },
  UFFD_FEATURE_POISON: { value: 1n << 14n, source: MAINLINE },
  UFFD_FEATURE_WP_ASYNC: { value: 1n << 15n, source: MAINLINE },
  UFFD_FEATURE_MOVE: { value: 1n << 16n, source: MAINLINE },
  UFFD_FEATURE_RWP: { value: 1n << 17n, provisional: true, source: GUESS },
  UFFD_FEATURE_RWP_ASYNC: { value: 1n << 18n, provisional: true, source: GUESS },
  // uffd_msg.event
  UFFD_EVENT_PAGEFAULT: { value: 0x12n, source: MAINLINE },
  UFFD_EVENT_FORK: { value: 0x13n, source: MAINLINE },
  UFFD_EVENT_REMAP: { value: 0x14n, source: MAINLINE },
  UFFD_EVENT_REMOVE: { value: 0x15n, source: MAINLINE },
  UFFD_EVENT_UNMAP: { value: 0x16n, source: MAINLINE },
  // uffd_msg.arg.pagefault.flags
  UFFD_PAGEFAULT_FLAG_WRITE: { value: 1n << 0n, source: MAINLINE },
  UFFD_PAGEFAULT_FLAG_WP: { value: 1n << 1n, source: MAINLINE },
  UFFD_PAGEFAULT_FLAG_MINOR: { value: 1n << 2n, source: MAINLINE },
  UFFD_PAGEFAULT_FLAG_RWP: { value: 1n << 3n, provisional: true, source: GUESS },
  // uffdio_register.mode
  UFFDIO_REGISTER_MODE_MISSING: { value: 1n << 0n, source: MAINLINE },
  UFFDIO_REGISTER_MODE_WP: { value: 1n << 1n, source: MAINLINE },
  UFFDIO_REGISTER_MODE_MINOR: { value: 1n << 2n, source: MAINLINE },
  UFFDIO_REGISTER_MODE_RWP: { value: 1n << 3n, provisional: true, source: GUESS },
  // kernel-internal VMA flags (include/linux/mm.h, x86_64)
  VM_UFFD_MISSING: { value: 0x200n, source: 'include/linux/mm.h' },
  VM_UFFD_WP: { value: 0x1000n, source: 'include/linux/mm.h' },
  VM_UFFD_MINOR: { value: 1n << 41n, source: 'include/linux/mm.h (VM_UFFD_MINOR_BIT 41)' },
});

export type Uapi = Record<string, bigint>;

export class UapiOverrideError extends Error {}

/** The effective table: defaults with `NAME=VALUE` overrides applied. */
export function resolveUapi(overrides: readonly string[] = []): Uapi {
  const out: Uapi = {};
  for (const [k, v] of Object.entries(DEFAULT_UAPI)) out[k] = v.value;
  for (const o of overrides) {
    const m = /^([A-Z_][A-Z0-9_]*)=(0x[0-9a-fA-F]+|\d+|1<<\d+)$/.exec(o.trim());
    if (!m) throw new UapiOverrideError(`--uapi ${o}: expected NAME=VALUE (decimal, 0x hex or 1<<N)`);
    const [, name, raw] = m;
    if (!(name in DEFAULT_UAPI)) {
      throw new UapiOverrideError(`--uapi ${o}: unknown constant ${name}; see \`uffdscope doctor --uapi-table\` for the table`);
    }
    const value = raw.startsWith('1<<') ? 1n << BigInt(raw.slice(3)) : BigInt(raw);
    if (value >= 1n << 64n) throw new UapiOverrideError(`--uapi ${o}: ${name} does not fit in 64 bits`);
    out[name] = value;
  }
  return out;
}

const IOCTL_NAMES: ReadonlyArray<readonly [string, string]> = UFFD_IOCTLS.map((i) => [i.nrKey, i.name]);

/** ioctl number -> name, by type 0xAA and _IOC_NR (not the whole number:
 *  struct sizes of the RWP ioctls are not all known), except where the table
 *  holds the whole number: the kernel dispatches on all of it, so
 *  UFFDIO_SET_MODE is 0x4010AA0A and nothing else with nr 0x0A. */
export function ioctlName(cmd: number, uapi: Uapi): string {
  const type = (cmd >>> 8) & 0xff;
  const nr = cmd & 0xff;
  if (BigInt(type) !== uapi.UFFDIO_TYPE) return `ioctl_0x${cmd.toString(16)}`;
  for (const [nrKey, name] of IOCTL_NAMES) {
    if (BigInt(nr) !== uapi[nrKey]) continue;
    const whole = uapi[name];
    return whole === undefined || BigInt(cmd) === whole ? name : `UFFDIO_cmd_0x${cmd.toString(16)}`;
  }
  return `UFFDIO_nr_0x${nr.toString(16)}`;
}

export function ioctlNr(name: string, uapi: Uapi): number | undefined {
  const e = IOCTL_NAMES.find(([, n]) => n === name);
  return e ? Number(uapi[e[0]]) : undefined;
}

/** Names of the set bits of a mask among the table entries with `prefix`. */
export function bitNames(mask: bigint, prefix: string, uapi: Uapi): string[] {
  const names: string[] = [];
  let rest = mask;
  for (const [k, v] of Object.entries(uapi)) {
    if (!k.startsWith(prefix) || v === 0n || (v & (v - 1n)) !== 0n) continue;
    if (mask & v) {
      names.push(k.slice(prefix.length));
      rest &= ~v;
    }
  }
  if (rest) names.push(`0x${rest.toString(16)}`);
  return names;
}

export function msgEventName(event: number, uapi: Uapi): string {
  for (const k of ['PAGEFAULT', 'FORK', 'REMAP', 'REMOVE', 'UNMAP']) {
    if (uapi[`UFFD_EVENT_${k}`] === BigInt(event)) return k.toLowerCase();
  }
  return `event_0x${event.toString(16)}`;
}

/** Which kind a pagefault message reports: minor, wp, rwp or missing. */
export function pagefaultKind(flags: bigint, uapi: Uapi): 'missing' | 'wp' | 'minor' | 'rwp' {
  if (flags & uapi.UFFD_PAGEFAULT_FLAG_MINOR) return 'minor';
  if (flags & uapi.UFFD_PAGEFAULT_FLAG_WP) return 'wp';
  if (flags & uapi.UFFD_PAGEFAULT_FLAG_RWP) return 'rwp';
  return 'missing';
}

export const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 3: 'ESRCH', 4: 'EINTR', 9: 'EBADF', 11: 'EAGAIN', 12: 'ENOMEM',
  14: 'EFAULT', 16: 'EBUSY', 17: 'EEXIST', 22: 'EINVAL', 25: 'ENOTTY', 38: 'ENOSYS', 95: 'EOPNOTSUPP',
};

export function errnoName(ret: number): string | null {
  if (ret >= 0) return null;
  return ERRNO_NAMES[-ret] ?? `errno_${-ret}`;
}
