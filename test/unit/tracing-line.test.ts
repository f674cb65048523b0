// The "tracing ...; Ctrl-C to stop" line of record, stat, serve and top's plain output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tracingLine } from '../../src/cli/tracingLine.js';

test('tracingLine: host-wide, one pid, several pids, a command, both', () => {
  assert.equal(tracingLine({ pid: [], command: [], hostWide: true }), 'uffdscope: tracing host-wide (every process; select with --pid or -- CMD); Ctrl-C to stop');
  assert.equal(tracingLine({ pid: [123], command: [], hostWide: false }), 'uffdscope: tracing pid 123 and its descendants; Ctrl-C to stop');
  assert.equal(tracingLine({ pid: [1, 2], command: [], hostWide: false }, 'recording'), 'uffdscope: recording pids 1, 2 and their descendants; Ctrl-C to stop');
  assert.equal(tracingLine({ pid: [], command: ['./vmm', '--x'], hostWide: false }), 'uffdscope: tracing `./vmm --x` and its descendants; Ctrl-C to stop');
  assert.equal(tracingLine({ pid: [7], command: ['vmm'], hostWide: false }), 'uffdscope: tracing pid 7 and `vmm` and their descendants; Ctrl-C to stop');
});
