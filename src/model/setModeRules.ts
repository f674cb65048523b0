// The kernel's rules for UFFDIO_SET_MODE (RWP series patch 13/15,
// userfaultfd_set_mode(), and the ioctl dispatch it is called from), applied
// in the kernel's order so the tool can say WHY an attempt was refused and
// flag a result that contradicts the rules (a kernel bug, or a provisional
// constant that is wrong). An input the trace did not observe never yields a
// disagreement: the verdict is then "unknown". docs/set-mode.md lists every
// rule with the patch line and the test that pins it.

import { bitNames, type Uapi } from '../events/uapi.js';

export interface SetModeInput {
  /** uffdio_set_mode.enable / .disable; null when the struct could not be read (arg_read_ok == 0) */
  enable: bigint | null;
  disable: bigint | null;
  /** UFFDIO_API has succeeded on this context (UFFD_FEATURE_INITIALIZED); undefined when not observed */
  initialized?: boolean;
  /** ctx->features when the call began (negotiated bits plus earlier switches); undefined when not observed */
  features?: bigint;
  /** uffd_api_available_features(): what UFFDIO_API reported as available; undefined when not observed */
  available?: bigint;
  /** the ioctls mask UFFDIO_API returned (a bit per _IOC_NR); undefined when not observed */
  apiIoctls?: bigint;
}

/** The rules, in the order the kernel applies them. */
export const SET_MODE_RULES = [
  'not_initialized',
  'no_set_mode',
  'efault',
  'overlap',
  'not_toggleable',
  'not_available',
  'rwp_async_without_rwp',
  'ok_or_esrch',
] as const;
export type SetModeRule = (typeof SET_MODE_RULES)[number];

export type SetModeExpectation = 'ok' | 'EINVAL' | 'unknown';

export interface SetModeVerdict {
  /** 'ok' also admits ESRCH (the mm already gone: not observable from the trace) */
  expected: SetModeExpectation;
  /** the rule that decides (for 'unknown': the first rule an unobserved input left open) */
  rule: SetModeRule;
  reason: string;
  /** null while the result is unknown or an input the rule needs was not observed */
  agrees: boolean | null;
}

const EINVAL = -22;
const ESRCH = -3;

export function checkSetMode(i: SetModeInput, ret: number | undefined, uapi: Uapi): SetModeVerdict {
  const RWP = uapi.UFFD_FEATURE_RWP;
  const RWP_ASYNC = uapi.UFFD_FEATURE_RWP_ASYNC;
  const TOGGLEABLE = RWP_ASYNC;
  const names = (m: bigint) => bitNames(m, 'UFFD_FEATURE_', uapi).join('|');
  const verdict = (expected: SetModeExpectation, rule: SetModeRule, reason: string): SetModeVerdict => ({
    expected,
    rule,
    reason,
    agrees:
      ret === undefined || expected === 'unknown' ? null : expected === 'ok' ? ret === 0 || ret === ESRCH : ret === EINVAL,
  });
  const unknown = (rule: SetModeRule, why: string) => verdict('unknown', rule, `not decidable: ${why}`);

  // userfaultfd_ioctl(): every cmd but UFFDIO_API needs an initialized context
  if (i.initialized === false) return verdict('EINVAL', 'not_initialized', 'the uffd has not completed UFFDIO_API (uninitialized context)');
  // userfaultfd_ioctl()'s switch: without the series 0x4010AA0A is an unknown cmd
  const nr = uapi._UFFDIO_SET_MODE;
  if (i.apiIoctls !== undefined && i.apiIoctls !== 0n && !(i.apiIoctls & (1n << nr))) {
    return verdict('EINVAL', 'no_set_mode', `this kernel has no UFFDIO_SET_MODE (bit ${nr} of the ioctls UFFDIO_API returned is clear): it lacks the RWP series`);
  }
  if (i.initialized === undefined) return unknown('not_initialized', 'whether UFFDIO_API had completed was not observed');
  // copy_from_user() of struct uffdio_set_mode
  if (i.enable === null || i.disable === null) {
    return unknown('efault', 'the uffdio_set_mode struct was unreadable to the tracer (EFAULT, or any later rule)');
  }
  const both = i.enable & i.disable;
  if (both) return verdict('EINVAL', 'overlap', `${names(both)} is in both enable and disable`);
  const asked = i.enable | i.disable;
  const untoggleable = asked & ~TOGGLEABLE;
  if (untoggleable) return verdict('EINVAL', 'not_toggleable', `only RWP_ASYNC can be toggled; ${names(untoggleable)} cannot`);
  // a context that negotiated RWP proves RWP and RWP_ASYNC were available (the
  // kernel strips them together, and UFFDIO_API refuses unavailable features)
  const available = i.available ?? (i.features !== undefined && i.features & RWP ? RWP | RWP_ASYNC : undefined);
  if (asked) {
    if (available === undefined) return unknown('not_available', 'whether this kernel/arch offers RWP_ASYNC was not observed (UFFDIO_API not traced)');
    const missing = asked & ~(available & TOGGLEABLE);
    if (missing) return verdict('EINVAL', 'not_available', `${names(missing)} is not available on this kernel/arch (not among UFFDIO_API's available features)`);
  }
  if (i.enable & RWP_ASYNC) {
    if (i.features === undefined) return unknown('rwp_async_without_rwp', 'whether the uffd negotiated RWP was not observed');
    if (!(i.features & RWP)) return verdict('EINVAL', 'rwp_async_without_rwp', 'RWP_ASYNC can only be enabled on a uffd that negotiated RWP at UFFDIO_API');
  }
  return verdict('ok', 'ok_or_esrch', 'allowed by the rules (ESRCH only if the process\'s mm is already gone)');
}
