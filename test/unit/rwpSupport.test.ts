// doctor's RWP verdict, as the pure decision it is (running `doctor` loads
// BPF): the series by bit 10 of UFFDIO_API's ioctls, each possible cause of
// a refused RWP|RWP_ASYNC, EPERM as a privilege problem.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rwpSupport, type UffdApiResult } from '../../src/events/rwpSupport.js';
import { resolveUapi } from '../../src/events/uapi.js';

const uapi = resolveUapi();
const MAINLINE = 0x1ffffn; // this project's kernel: up to UFFD_FEATURE_MOVE
const RWP_BITS = uapi.UFFD_FEATURE_RWP | uapi.UFFD_FEATURE_RWP_ASYNC;
/** UFFD_API_IOCTLS: REGISTER, UNREGISTER, API (bit 0x3f); the series adds SET_MODE (bit 10) */
const IOCTLS = (1n << 0n) | (1n << 1n) | (1n << 0x3fn);
const WITH_SERIES = IOCTLS | (1n << 10n);
const EINVAL = 22;
const EPERM = 1;

const ok = (features: bigint, ioctls: bigint): UffdApiResult => ({ created: true, ok: true, errno: 0, features, ioctls });
const refused = (errno: number): UffdApiResult => ({ created: true, ok: false, errno, features: 0n, ioctls: 0n });
const run = (base: UffdApiResult | null, rwp: UffdApiResult | null, provisional = true) => rwpSupport({ base, rwp, uapi, provisional, machine: 'x86_64' });

test('this machine: bit 10 clear, RWP refused with EINVAL -> the kernel lacks the series, the only cause', () => {
  const r = run(ok(MAINLINE, IOCTLS), refused(EINVAL));
  assert.equal(r.series, 'absent');
  assert.equal(r.granted, false);
  assert.equal(r.errno, 'EINVAL');
  assert.equal(r.ioctls, '0x8000000000000003');
  assert.match(r.verdict, /UFFDIO_SET_MODE not listed \(bit 10 of UFFDIO_API's ioctls 0x8000000000000003 is clear\)/);
  assert.deepEqual(r.causes, ['this kernel lacks the RWP series (UFFDIO_SET_MODE will fail with EINVAL)']);
});

test('series present, RWP not available and no unknown feature bit -> an architecture without RWP', () => {
  const r = run(ok(MAINLINE, WITH_SERIES), refused(EINVAL));
  assert.equal(r.series, 'present');
  assert.equal(r.causes.length, 1);
  assert.match(r.causes[0], /^an architecture without RWP \(x86_64\)/);
});

test('series present with feature bits uffdscope does not know -> wrong provisional bits first, then the architecture', () => {
  const r = run(ok(MAINLINE | (1n << 19n) | (1n << 20n), WITH_SERIES), refused(EINVAL));
  assert.equal(r.causes.length, 2);
  assert.match(r.causes[0], /^wrong provisional bits: this kernel offers features uffdscope does not know \(0x180000\).*--uapi UFFD_FEATURE_RWP=/);
  assert.match(r.causes[1], /^an architecture without RWP/);
  // bits given with --uapi are not called provisional
  assert.match(run(ok(MAINLINE | (1n << 19n), WITH_SERIES), refused(EINVAL), false).causes[0], /^wrong bits:/);
});

test('both bits listed as available yet refused: names the bits, not the series', () => {
  const r = run(ok(MAINLINE | RWP_BITS, WITH_SERIES), refused(EINVAL));
  assert.equal(r.causes.length, 1);
  assert.match(r.causes[0], /lists both bits as available yet refused them/);
});

test('granted: no causes', () => {
  const r = run(ok(MAINLINE | RWP_BITS, WITH_SERIES), ok(MAINLINE | RWP_BITS, WITH_SERIES));
  assert.deepEqual([r.series, r.granted, r.causes], ['present', true, []]);
  assert.match(r.verdict, /granted; UFFDIO_SET_MODE listed \(bit 10/);
});

test('EPERM is a privilege problem, never "lacks the RWP series"', () => {
  const noUffd: UffdApiResult = { created: false, errno: EPERM, features: 0n, ioctls: 0n };
  for (const r of [run(noUffd, noUffd), run(ok(MAINLINE, IOCTLS), refused(EPERM)), run({ ...refused(EPERM) }, refused(EPERM))]) {
    assert.match(r.verdict, /EPERM.*a privilege problem, not a missing feature/);
    assert.deepEqual(r.causes, []);
    assert.doesNotMatch(r.verdict, /lacks the RWP series/);
  }
  assert.equal(run(noUffd, noUffd).series, 'unknown', 'no uffd, no ioctls mask: the series is not known');
});

test('no native addon: not tried', () => {
  const r = run(null, null);
  assert.deepEqual([r.series, r.granted, r.causes], ['unknown', false, []]);
  assert.match(r.verdict, /not tried/);
});
