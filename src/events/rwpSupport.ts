// Does this kernel have the RWP series, and if RWP|RWP_ASYNC is refused,
// why? Decided from two UFFDIO_API probes (no features, then RWP|RWP_ASYNC),
// as a pure function so every branch is testable without a kernel.
//
// The series' own test is bit 10 (_UFFDIO_SET_MODE) of the `ioctls` mask
// UFFDIO_API returns (patch 13/15 adds it to UFFD_API_IOCTLS). A refusal of
// RWP|RWP_ASYNC has several possible causes: no series; an architecture where
// uffd_api_available_features() strips both bits; or wrong provisional bit
// values. EPERM is a privilege problem, never a missing feature.

import { bitNames, errnoName, type Uapi } from './uapi.js';

export interface UffdApiResult {
  /** a uffd could be created (userfaultfd(2) or /dev/userfaultfd) */
  created: boolean;
  /** UFFDIO_API succeeded */
  ok?: boolean;
  /** creation errno when !created, else UFFDIO_API's errno (0 on success) */
  errno: number;
  /** UFFDIO_API's returned features (every available one) and ioctls */
  features: bigint;
  ioctls: bigint;
}

export interface RwpSupport {
  /** the series, by bit 10 of the ioctls UFFDIO_API returned */
  series: 'present' | 'absent' | 'unknown';
  granted: boolean;
  errno: string | null;
  /** the ioctls mask UFFDIO_API returned, hex; null when not obtained */
  ioctls: string | null;
  /** one line */
  verdict: string;
  /** every possible cause of a refusal, likeliest first (empty when granted or not tried) */
  causes: string[];
}

export interface RwpSupportInput {
  /** UFFDIO_API with no features; null when it could not be tried (no native addon) */
  base: UffdApiResult | null;
  /** UFFDIO_API with RWP|RWP_ASYNC */
  rwp: UffdApiResult | null;
  uapi: Uapi;
  /** the RWP bits are the table's provisional guesses (not set with --uapi) */
  provisional: boolean;
  /** os.machine() */
  machine: string;
}

const EPERM = 1;
const EACCES = 13;
const PRIVILEGE =
  'a privilege problem, not a missing feature: run as root, give CAP_SYS_PTRACE, set vm.unprivileged_userfaultfd=1, or grant access to /dev/userfaultfd';

export function rwpSupport(i: RwpSupportInput): RwpSupport {
  const { base, rwp, uapi } = i;
  const out = (series: RwpSupport['series'], verdict: string, causes: string[] = [], extra: Partial<RwpSupport> = {}): RwpSupport => ({
    series,
    granted: false,
    errno: null,
    ioctls: null,
    verdict,
    causes,
    ...extra,
  });
  if (base === null || rwp === null) return out('unknown', 'not tried: the native addon is not built');
  const privileged = (errno: number) => errno === EPERM || errno === EACCES;
  if (!base.created) {
    const e = errnoName(-base.errno);
    return out('unknown', `cannot create a userfaultfd (${e ?? 'unknown error'})${privileged(base.errno) ? `: ${PRIVILEGE}` : ''}`, [], { errno: e });
  }
  if (!base.ok) {
    const e = errnoName(-base.errno);
    return out('unknown', `UFFDIO_API refused even with no features (${e})${privileged(base.errno) ? `: ${PRIVILEGE}` : ''}`, [], { errno: e });
  }
  const ioctls = `0x${base.ioctls.toString(16)}`;
  const bit = uapi._UFFDIO_SET_MODE;
  const series = base.ioctls & (1n << bit) ? 'present' : 'absent';
  const bits = uapi.UFFD_FEATURE_RWP | uapi.UFFD_FEATURE_RWP_ASYNC;
  const which = `RWP|RWP_ASYNC = 0x${bits.toString(16)}, ${i.provisional ? 'provisional bits' : 'bits set with --uapi'}`;
  const seriesText = series === 'present' ? `UFFDIO_SET_MODE listed (bit ${bit} of UFFDIO_API's ioctls ${ioctls})` : `UFFDIO_SET_MODE not listed (bit ${bit} of UFFDIO_API's ioctls ${ioctls} is clear)`;
  if (rwp.ok) return out(series, `${which}: granted; ${seriesText}`, [], { granted: true, ioctls });
  const e = errnoName(-rwp.errno);
  const refused = `${which}: refused (${e ?? 'no uffd'}); ${seriesText}`;
  if (!rwp.created || privileged(rwp.errno)) return out(series, `${refused}: ${PRIVILEGE}`, [], { errno: e, ioctls });
  if (series === 'absent') {
    return out(series, refused, ['this kernel lacks the RWP series (UFFDIO_SET_MODE will fail with EINVAL)'], { errno: e, ioctls });
  }
  // the series is there: what does this kernel/arch make available?
  const available = base.features;
  const known = Object.entries(uapi)
    .filter(([k]) => k.startsWith('UFFD_FEATURE_') && k !== 'UFFD_FEATURE_RWP' && k !== 'UFFD_FEATURE_RWP_ASYNC')
    .reduce((m, [, v]) => m | v, 0n);
  const unknownBits = available & ~known & ~bits;
  const causes: string[] = [];
  const override = 'check the series\' include/uapi/linux/userfaultfd.h and pass --uapi UFFD_FEATURE_RWP=... --uapi UFFD_FEATURE_RWP_ASYNC=...';
  if ((available & bits) === bits) {
    causes.push(`UFFDIO_API lists both bits as available yet refused them: ${override}`);
  } else {
    if (unknownBits) {
      causes.push(`wrong ${i.provisional ? 'provisional ' : ''}bits: this kernel offers features uffdscope does not know (${bitNames(unknownBits, 'UFFD_FEATURE_', uapi).join('|')}); RWP and RWP_ASYNC may be those: ${override}`);
    }
    // right bits on an arch with RWP would be listed (as known or unknown ones): with no unknown bit, only the arch is left
    causes.push(`an architecture without RWP (${i.machine}): uffd_api_available_features() drops RWP and RWP_ASYNC without the VMA flag or a usable uffd PTE bit`);
  }
  return out(series, refused, causes, { errno: e, ioctls });
}
