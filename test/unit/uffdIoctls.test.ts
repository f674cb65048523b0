// The uffd ioctl table (src/kernel/uffdIoctls.ts) is the one place the
// decoder, the model and the views learn an ioctl's fields and rules from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ARG_KINDS, ioctlArgFields, isControlIoctl, isPerFaultIoctl, UFFD_IOCTLS, uffdIoctl, wakeCauseOf } from '../../src/kernel/uffdIoctls.js';
import { DEFAULT_UAPI, ioctlName, resolveUapi } from '../../src/events/uapi.js';

const uapi = resolveUapi();

test('every row names an ioctl number in the uapi table, and ioctlName() gives the row back', () => {
  for (const i of UFFD_IOCTLS) {
    assert.ok(i.nrKey in DEFAULT_UAPI, i.nrKey);
    const cmd = Number((uapi.UFFDIO_TYPE << 8n) | uapi[i.nrKey]);
    const whole = uapi[i.name];
    assert.equal(ioctlName(whole === undefined ? cmd : Number(whole), uapi), i.name);
  }
  assert.equal(new Set(UFFD_IOCTLS.map((i) => uapi[i.nrKey])).size, UFFD_IOCTLS.length, 'numbers are distinct');
});

test('an argument field means the same in every ioctl; result and range fields are among the arguments', () => {
  for (const i of UFFD_IOCTLS) {
    for (const [f, kind] of i.args) assert.equal(ARG_KINDS.get(f), kind, `${i.name}.${f}`);
    if (i.result !== null) assert.equal(ARG_KINDS.get(i.result), 'result', i.name);
    if (i.rangeStart !== null) assert.ok(ioctlArgFields(i.name).includes(i.rangeStart), i.name);
    if (i.resolves !== null) assert.notEqual(i.rangeStart, null, `${i.name} resolves a range`);
  }
  assert.deepEqual(ioctlArgFields('UFFDIO_COPY'), ['dst', 'src', 'len', 'mode', 'copy']);
  assert.deepEqual(ioctlArgFields('UFFDIO_nr_0x3e'), []);
});

test('control and per-fault ioctls split the known ones; unknown ones are neither and count as resolving', () => {
  const control = UFFD_IOCTLS.filter((i) => isControlIoctl(i.name)).map((i) => i.name).sort();
  assert.deepEqual(control, ['UFFDIO_API', 'UFFDIO_REGISTER', 'UFFDIO_SET_MODE', 'UFFDIO_UNREGISTER']);
  for (const i of UFFD_IOCTLS) assert.notEqual(isControlIoctl(i.name), isPerFaultIoctl(i.name), i.name);
  assert.equal(isControlIoctl('UFFDIO_nr_0x3e'), false);
  assert.equal(isPerFaultIoctl('UFFDIO_nr_0x3e'), false);
  assert.equal(wakeCauseOf('UFFDIO_nr_0x3e'), 'resolved');
  assert.equal(wakeCauseOf('UFFDIO_SET_MODE'), 'mode_switch');
  assert.equal(wakeCauseOf('UFFDIO_UNREGISTER'), 'unregistered');
  assert.equal(uffdIoctl('UFFDIO_CONTINUE')?.resolves, 'minor');
  assert.equal(uffdIoctl('UFFDIO_WRITEPROTECT')?.resolves, 'wp');
});
