// The kernel's UFFDIO_SET_MODE rules (RWP series patch 13/15), as the tool
// applies them to explain results and flag disagreements.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSetMode } from '../../src/model/setModeRules.js';
import { resolveUapi } from '../../src/events/uapi.js';

const uapi = resolveUapi();
const RWP = uapi.UFFD_FEATURE_RWP;
const ASYNC = uapi.UFFD_FEATURE_RWP_ASYNC;
const ALL = RWP | ASYNC | 0x1ffffn;
const WITH_SET_MODE = (1n << 0x0an) | (1n << 0x3fn) | 3n;

test('a kernel without the series refuses every attempt, and the tool says why', () => {
  const v = checkSetMode({ enable: ASYNC, disable: 0n, negotiated: 0n, available: 0x1ffffn, apiIoctls: (1n << 63n) | 3n }, -22, uapi);
  assert.equal(v.expected, 'EINVAL');
  assert.match(v.reason, /lacks the RWP series/);
  assert.equal(v.agrees, true);
});

test('overlapping masks are invalid (first rule)', () => {
  const v = checkSetMode({ enable: ASYNC, disable: ASYNC, negotiated: RWP, available: ALL, apiIoctls: WITH_SET_MODE }, -22, uapi);
  assert.equal(v.expected, 'EINVAL');
  assert.match(v.reason, /both enable and disable/);
});

test('only RWP_ASYNC is toggleable', () => {
  const v = checkSetMode({ enable: uapi.UFFD_FEATURE_WP_ASYNC, disable: 0n, negotiated: RWP, available: ALL, apiIoctls: WITH_SET_MODE }, -22, uapi);
  assert.match(v.reason, /only RWP_ASYNC can be toggled; WP_ASYNC cannot/);
  const unsupported = checkSetMode({ enable: ASYNC, disable: 0n, negotiated: RWP, available: 0x1ffffn, apiIoctls: WITH_SET_MODE }, -22, uapi);
  assert.match(unsupported.reason, /not supported by this kernel/);
});

test('enabling RWP_ASYNC needs RWP negotiated; disabling does not', () => {
  const v = checkSetMode({ enable: ASYNC, disable: 0n, negotiated: 0n, available: ALL, apiIoctls: WITH_SET_MODE }, -22, uapi);
  assert.match(v.reason, /negotiated RWP/);
  const off = checkSetMode({ enable: 0n, disable: ASYNC, negotiated: 0n, available: ALL, apiIoctls: WITH_SET_MODE }, 0, uapi);
  assert.equal(off.expected, 'ok');
  assert.equal(off.agrees, true);
});

test('a kernel answer against the rules is flagged', () => {
  const v = checkSetMode({ enable: ASYNC, disable: 0n, negotiated: RWP, available: ALL, apiIoctls: WITH_SET_MODE }, -22, uapi);
  assert.equal(v.expected, 'ok');
  assert.equal(v.agrees, false);
  const pending = checkSetMode({ enable: ASYNC, disable: 0n, negotiated: RWP, available: ALL }, undefined, uapi);
  assert.equal(pending.agrees, null);
});

test('provisional bits follow --uapi overrides', () => {
  const moved = resolveUapi(['UFFD_FEATURE_RWP_ASYNC=1<<20', 'UFFD_FEATURE_RWP=1<<19']);
  const v = checkSetMode({ enable: 1n << 20n, disable: 0n, negotiated: 1n << 19n, available: (1n << 20n) | (1n << 19n) }, 0, moved);
  assert.equal(v.expected, 'ok');
  assert.equal(v.agrees, true);
});
