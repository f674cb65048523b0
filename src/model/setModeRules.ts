// The kernel's rules for UFFDIO_SET_MODE, from the RWP series patch 13/15
// (userfaultfd_set_mode()), applied in the kernel's order, so the tool can
// say WHY a switch was refused and flag when the kernel's answer disagrees
// with the rules (a kernel bug, or a provisional constant that is wrong).

import { bitNames, type Uapi } from '../events/uapi.js';

export interface SetModeInput {
  enable: bigint;
  disable: bigint;
  /** features the uffd negotiated at UFFDIO_API (ctx->features) */
  negotiated?: bigint;
  /** features the kernel reported as available at UFFDIO_API */
  available?: bigint;
  /** ioctls the kernel reported at UFFDIO_API (a bit per _IOC_NR) */
  apiIoctls?: bigint;
}

export interface SetModeVerdict {
  expected: 'ok' | 'EINVAL';
  reason: string;
  /** null while the result is unknown */
  agrees: boolean | null;
}

const EINVAL = -22;
const ESRCH = -3;

export function checkSetMode(i: SetModeInput, ret: number | undefined, uapi: Uapi): SetModeVerdict {
  const RWP = uapi.UFFD_FEATURE_RWP;
  const RWP_ASYNC = uapi.UFFD_FEATURE_RWP_ASYNC;
  const TOGGLEABLE = RWP_ASYNC;
  const names = (m: bigint) => bitNames(m, 'UFFD_FEATURE_', uapi).join('|');
  const verdict = (expected: 'ok' | 'EINVAL', reason: string): SetModeVerdict => ({
    expected,
    reason,
    agrees: ret === undefined ? null : expected === 'ok' ? ret === 0 || ret === ESRCH : ret === EINVAL,
  });
  const nr = uapi._UFFDIO_SET_MODE;
  if (i.apiIoctls !== undefined && i.apiIoctls !== 0n && !(i.apiIoctls & (1n << nr))) {
    return verdict('EINVAL', 'this kernel does not offer UFFDIO_SET_MODE (absent from the ioctls UFFDIO_API reported): it lacks the RWP series');
  }
  const both = i.enable & i.disable;
  if (both) return verdict('EINVAL', `${names(both)} is in both enable and disable`);
  const allowed = i.available !== undefined ? i.available & TOGGLEABLE : TOGGLEABLE;
  const bad = (i.enable | i.disable) & ~allowed;
  if (bad) {
    const reason =
      bad & TOGGLEABLE
        ? `${names(bad & TOGGLEABLE)} is not supported by this kernel (not among UFFDIO_API's available features)`
        : `only RWP_ASYNC can be toggled; ${names(bad)} cannot`;
    return verdict('EINVAL', reason);
  }
  if (i.enable & RWP_ASYNC && i.negotiated !== undefined && !(i.negotiated & RWP)) {
    return verdict('EINVAL', 'RWP_ASYNC can only be enabled on a uffd that negotiated RWP at UFFDIO_API');
  }
  return verdict('ok', 'allowed by the rules (the switch drains faults in flight, then applies)');
}
