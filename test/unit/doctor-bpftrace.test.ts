// doctor names the bpftrace tools when the native addon cannot be loaded, and only then.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { formatDoctor, type DoctorReport } from '../../src/cli/doctor.js';
import { bpftraceTools } from '../../src/paths.js';

function report(addon: DoctorReport['addon']): DoctorReport {
  return {
    kernel: { release: '6.18.0', version: '#1', machine: 'x86_64' },
    btf: { ok: true, path: '/sys/kernel/btf/vmlinux' },
    tracefs: { ok: true, path: '/sys/kernel/tracing', mountedNow: false },
    privileges: { ok: true, euid: 0, caps: {} },
    addon,
    handleUserfault: { found: false, blockDetection: 'heuristic', wakeFunctionFound: false },
    backends: [],
    backendAttempts: [],
    selectedBackend: null,
    uffd: {
      created: false,
      rwp: { requested: '0x60000', provisional: true, series: 'unknown', granted: false, errno: null, ioctls: null, verdict: 'not tried', causes: [] },
    },
  };
}

test('doctor points to tools/bpftrace when the addon cannot be loaded', () => {
  const text = formatDoctor(report({ ok: false, problem: 'cannot load build/Release/uffdscope.node' }));
  const line = text.split('\n').find((l) => l.includes('bpftrace'));
  assert.equal(line?.trim(), `without the addon: sudo bpftrace ${bpftraceTools}/uffdlat.bt (also uffdioctl.bt, uffdsetmode.bt; tracepoints only)`);
  for (const f of ['uffdlat.bt', 'uffdioctl.bt', 'uffdsetmode.bt']) assert.ok(existsSync(join(bpftraceTools, f)), f);
});

test('doctor does not mention bpftrace when the addon loads', () => {
  const text = formatDoctor(report({ ok: true, libbpf: '1.1.2' }));
  assert.ok(!text.includes('bpftrace'), text);
});
