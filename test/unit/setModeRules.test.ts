// The kernel's UFFDIO_SET_MODE rules, each taken from the seed patch (RWP
// series 13/15, a copy in test/fixtures/seeds/): every test quotes the patch
// line it pins, and checks that the line is really in the patch.
// docs/set-mode.md lists these tests against the rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkSetMode, SET_MODE_RULES, type SetModeInput } from '../../src/model/setModeRules.js';
import { ioctlName, resolveUapi } from '../../src/events/uapi.js';
import { projectRoot } from '../../src/paths.js';

const PATCH = readFileSync(join(projectRoot, 'test', 'fixtures', 'seeds', 'uffdio-set-mode-patch.txt'), 'utf8');
const flat = (s: string) => s.replace(/\s+/g, ' ').trim();
const FLAT_PATCH = flat(PATCH);

/** The quoted patch line, checked to be in the patch. */
function quote(line: string): void {
  assert.ok(FLAT_PATCH.includes(flat(line)), `the patch says: ${line}`);
}

const uapi = resolveUapi();
const RWP = uapi.UFFD_FEATURE_RWP;
const ASYNC = uapi.UFFD_FEATURE_RWP_ASYNC;
const WP_ASYNC = uapi.UFFD_FEATURE_WP_ASYNC;
const MAINLINE = 0x1ffffn;
const AVAILABLE = MAINLINE | RWP | ASYNC;
/** UFFD_API_IOCTLS with the series: REGISTER, UNREGISTER, SET_MODE, API */
const IOCTLS = (1n << 0n) | (1n << 1n) | (1n << 0x0an) | (1n << 0x3fn);
const IOCTLS_NO_SERIES = (1n << 0n) | (1n << 1n) | (1n << 0x3fn);
const EFAULT = -14;
const EINVAL = -22;
const ESRCH = -3;

/** a fully observed uffd that negotiated RWP, sync */
const seen = (over: Partial<SetModeInput> = {}): SetModeInput => ({
  enable: ASYNC,
  disable: 0n,
  initialized: true,
  features: RWP,
  available: AVAILABLE,
  apiIoctls: IOCTLS,
  ...over,
});

test('rules run in the kernel order and every rule has a test below', () => {
  assert.deepEqual([...SET_MODE_RULES], ['not_initialized', 'no_set_mode', 'efault', 'overlap', 'not_toggleable', 'not_available', 'rwp_async_without_rwp', 'ok_or_esrch']);
});

test('not_initialized: a uffd before UFFDIO_API is refused with EINVAL, before its struct is read', () => {
  quote('/* internal indication that UFFD_API ioctl was successfully executed */');
  quote('return userfaultfd_features(ctx) & UFFD_FEATURE_INITIALIZED;');
  const v = checkSetMode(seen({ initialized: false, enable: null, disable: null }), EINVAL, uapi);
  assert.deepEqual([v.expected, v.rule, v.agrees], ['EINVAL', 'not_initialized', true]);
  assert.equal(checkSetMode(seen({ initialized: false }), 0, uapi).agrees, false);
  const open = checkSetMode(seen({ initialized: undefined, apiIoctls: undefined }), EINVAL, uapi);
  assert.deepEqual([open.expected, open.rule, open.agrees], ['unknown', 'not_initialized', null], 'not observed: unknown, never "disagrees"');
});

test('no_set_mode: the series adds bit 10 to the ioctls UFFDIO_API returns; without it the cmd is unknown (EINVAL)', () => {
  quote('(__u64)1 << _UFFDIO_SET_MODE |');
  quote('#define _UFFDIO_SET_MODE (0x0A)');
  const v = checkSetMode(seen({ apiIoctls: IOCTLS_NO_SERIES }), EINVAL, uapi);
  assert.deepEqual([v.expected, v.rule, v.agrees], ['EINVAL', 'no_set_mode', true]);
  assert.match(v.reason, /bit 10 of the ioctls UFFDIO_API returned is clear/);
});

test('efault: an unreadable struct is EFAULT or any later rule: unknown, never "disagrees"', () => {
  quote('if (copy_from_user(&mode, (void __user *)arg, sizeof(mode)))');
  quote('return -EFAULT;');
  for (const ret of [EFAULT, EINVAL, 0]) {
    const v = checkSetMode(seen({ enable: null, disable: null }), ret, uapi);
    assert.deepEqual([v.expected, v.rule, v.agrees], ['unknown', 'efault', null], `ret ${ret}`);
  }
  // what the tracer read, copy_from_user() reads too
  assert.equal(checkSetMode(seen(), EFAULT, uapi).agrees, false);
});

test('overlap: a bit in both masks is EINVAL, checked before the toggleable bits', () => {
  quote('/* enable and disable must not overlap */');
  quote('if (mode.enable & mode.disable)');
  const v = checkSetMode(seen({ enable: ASYNC | WP_ASYNC, disable: ASYNC }), EINVAL, uapi);
  assert.deepEqual([v.expected, v.rule, v.agrees], ['EINVAL', 'overlap', true]);
  assert.match(v.reason, /RWP_ASYNC is in both enable and disable/);
});

test('not_toggleable: only RWP_ASYNC can be toggled, in enable or disable', () => {
  quote('#define UFFD_FEATURE_TOGGLEABLE UFFD_FEATURE_RWP_ASYNC');
  quote('/* only toggleable features that this kernel/arch actually supports */');
  for (const over of [{ enable: WP_ASYNC }, { enable: 0n, disable: RWP }]) {
    const v = checkSetMode(seen(over), EINVAL, uapi);
    assert.deepEqual([v.expected, v.rule, v.agrees], ['EINVAL', 'not_toggleable', true]);
  }
  assert.match(checkSetMode(seen({ enable: WP_ASYNC }), EINVAL, uapi).reason, /only RWP_ASYNC can be toggled; WP_ASYNC cannot/);
});

test('not_available: RWP_ASYNC must be among the features this kernel/arch makes available', () => {
  quote('~(uffd_api_available_features() & UFFD_FEATURE_TOGGLEABLE))');
  quote('f &= ~(UFFD_FEATURE_RWP | UFFD_FEATURE_RWP_ASYNC);');
  const v = checkSetMode(seen({ available: MAINLINE, features: 0n, enable: 0n, disable: ASYNC }), EINVAL, uapi);
  assert.deepEqual([v.expected, v.rule, v.agrees], ['EINVAL', 'not_available', true]);
  // UFFDIO_API not traced: a context that negotiated RWP proves both bits available
  assert.equal(checkSetMode(seen({ available: undefined }), 0, uapi).expected, 'ok');
  const open = checkSetMode(seen({ available: undefined, features: undefined }), EINVAL, uapi);
  assert.deepEqual([open.expected, open.rule, open.agrees], ['unknown', 'not_available', null]);
  // empty masks touch no bit: allowed whatever is available
  assert.equal(checkSetMode(seen({ enable: 0n, disable: 0n, available: MAINLINE }), 0, uapi).expected, 'ok');
});

test('rwp_async_without_rwp: enabling RWP_ASYNC needs RWP negotiated; disabling does not', () => {
  quote('/* RWP_ASYNC can only be enabled on contexts that negotiated RWP */');
  quote('!(userfaultfd_features(ctx) & UFFD_FEATURE_RWP))');
  const v = checkSetMode(seen({ features: 0n }), EINVAL, uapi);
  assert.deepEqual([v.expected, v.rule, v.agrees], ['EINVAL', 'rwp_async_without_rwp', true]);
  const off = checkSetMode(seen({ features: 0n, enable: 0n, disable: ASYNC }), 0, uapi);
  assert.deepEqual([off.expected, off.agrees], ['ok', true]);
  const open = checkSetMode(seen({ features: undefined }), EINVAL, uapi);
  assert.deepEqual([open.expected, open.rule, open.agrees], ['unknown', 'rwp_async_without_rwp', null]);
});

test('ok_or_esrch: past the checks the call succeeds, or fails with ESRCH when the mm is gone', () => {
  quote('if (!mmget_not_zero(mm))');
  quote('return -ESRCH;');
  quote('WRITE_ONCE(ctx->features,');
  for (const ret of [0, ESRCH]) {
    const v = checkSetMode(seen(), ret, uapi);
    assert.deepEqual([v.expected, v.rule, v.agrees], ['ok', 'ok_or_esrch', true]);
  }
  // enabling RWP_ASYNC on a uffd already async is allowed (and still wakes every waiter)
  assert.equal(checkSetMode(seen({ features: RWP | ASYNC }), 0, uapi).expected, 'ok');
  const against = checkSetMode(seen(), EINVAL, uapi);
  assert.equal(against.agrees, false, 'a refusal the rules do not explain is flagged');
  assert.equal(checkSetMode(seen(), undefined, uapi).agrees, null, 'exit not seen');
});

test('only 0x4010AA0A is UFFDIO_SET_MODE; another size or direction with nr 0x0A is an unknown uffd ioctl', () => {
  quote('#define UFFDIO_SET_MODE _IOW(UFFDIO, _UFFDIO_SET_MODE, \\');
  quote('struct uffdio_set_mode {');
  assert.equal(ioctlName(0x4010aa0a, uapi), 'UFFDIO_SET_MODE');
  assert.equal(ioctlName(0xc010aa0a, uapi), 'UFFDIO_cmd_0xc010aa0a', '_IOWR');
  assert.equal(ioctlName(0x4008aa0a, uapi), 'UFFDIO_cmd_0x4008aa0a', 'another size');
  assert.equal(ioctlName(0xc018aa09, uapi), 'UFFDIO_RWPROTECT', 'ioctls without a known whole number still match on nr');
});

test('provisional bits follow --uapi overrides', () => {
  const moved = resolveUapi(['UFFD_FEATURE_RWP_ASYNC=1<<20', 'UFFD_FEATURE_RWP=1<<19']);
  const v = checkSetMode({ enable: 1n << 20n, disable: 0n, initialized: true, features: 1n << 19n, available: (1n << 20n) | (1n << 19n) }, 0, moved);
  assert.deepEqual([v.expected, v.agrees], ['ok', true]);
  assert.equal(checkSetMode({ enable: 1n << 18n, disable: 0n, initialized: true, features: 1n << 19n, available: (1n << 20n) | (1n << 19n) }, EINVAL, moved).rule, 'not_toggleable');
});
