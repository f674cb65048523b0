// Who may load BPF tracing programs: root, or CAP_BPF + CAP_PERFMON (or
// CAP_SYS_ADMIN on older kernels).
import { readFileSync } from 'node:fs';

const CAP_SYS_ADMIN = 21n;
const CAP_PERFMON = 38n;
const CAP_BPF = 39n;

export interface PrivilegeStatus {
  ok: boolean;
  euid: number;
  caps: { bpf: boolean; perfmon: boolean; sysAdmin: boolean };
  problem?: string;
}

export function privileges(): PrivilegeStatus {
  let eff = 0n;
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) eff = BigInt('0x' + m[1]);
  } catch {
    /* no procfs: treat as no capabilities */
  }
  const has = (c: bigint) => (eff & (1n << c)) !== 0n;
  const caps = { bpf: has(CAP_BPF), perfmon: has(CAP_PERFMON), sysAdmin: has(CAP_SYS_ADMIN) };
  const euid = process.geteuid ? process.geteuid() : -1;
  const ok = (caps.bpf && caps.perfmon) || caps.sysAdmin;
  return {
    ok,
    euid,
    caps,
    problem: ok
      ? undefined
      : 'tracing needs root, or CAP_BPF and CAP_PERFMON: run with sudo (recordings and reports need no privileges)',
  };
}
