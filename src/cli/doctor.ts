// `uffdscope doctor`: what this host allows, found by trying, not guessing.
import { existsSync } from 'node:fs';
import os from 'node:os';
import { ensureTracefs } from '../capture/tracefs.js';
import { privileges } from '../capture/privileges.js';
import { blockDetection, blockSymbols } from '../capture/kallsyms.js';
import type { BlockHow } from '../events/types.js';
import { probeBackend, BACKEND_ORDER, DEFAULT_RING_BYTES, type BackendAttempt } from '../capture/liveCapture.js';
import { loadAddon, type UffdApiProbe } from '../native/addon.js';
import { bitNames, DEFAULT_UAPI, errnoName, type Uapi } from '../events/uapi.js';
import { rwpSupport, type RwpSupport } from '../events/rwpSupport.js';
import { backend, hooksLabel, type BackendName } from '../kernel/backends.js';
import { bpftraceTools } from '../paths.js';

export interface BackendProbe {
  name: BackendName;
  tried: boolean;
  ok: boolean;
  detail: string;
}

export interface DoctorReport {
  kernel: { release: string; version: string; machine: string };
  btf: { ok: boolean; path: string };
  tracefs: { ok: boolean; path: string; mountedNow: boolean; problem?: string };
  privileges: { ok: boolean; euid: number; caps: Record<string, boolean>; problem?: string };
  addon: { ok: boolean; libbpf?: string; problem?: string };
  handleUserfault: { found: boolean; blockDetection: BlockHow; size?: number; wakeFunctionFound: boolean };
  backends: BackendProbe[];
  /** what each backend's open -> load -> attach returned (untried ones absent) */
  backendAttempts: BackendAttempt[];
  /** what `--backend auto` picks: the first ok backend, in BACKEND_ORDER */
  selectedBackend: string | null;
  uffd: {
    created: boolean;
    via?: string;
    errno?: string | null;
    features?: string;
    featureNames?: string[];
    rwp: { requested: string; provisional: boolean } & RwpSupport;
  };
}

export function runDoctor(uapi: Uapi): DoctorReport {
  const kernel = { release: os.release(), version: os.version(), machine: os.machine() };
  const btfPath = '/sys/kernel/btf/vmlinux';
  const tracefs = ensureTracefs();
  const priv = privileges();
  const syms = blockSymbols();
  const hu = syms.handleUserfault;
  let addonOk = false;
  let libbpf: string | undefined;
  let addonProblem: string | undefined;
  let probe: UffdApiProbe | null = null;
  let rwpProbe: UffdApiProbe | null = null;
  const rwpBits = uapi.UFFD_FEATURE_RWP | uapi.UFFD_FEATURE_RWP_ASYNC;
  try {
    const addon = loadAddon();
    addonOk = true;
    libbpf = addon.libbpfVersion();
    probe = addon.probeUffdApi(0n);
    rwpProbe = addon.probeUffdApi(rwpBits);
  } catch (e) {
    addonProblem = (e as Error).message;
  }

  // Each backend is really tried: open, load, attach, then closed again.
  const backends: BackendProbe[] = [];
  const backendAttempts: BackendAttempt[] = [];
  const cannot = !addonOk ? (addonProblem ?? 'native addon missing') : !priv.ok ? priv.problem! : !tracefs.ok ? tracefs.problem! : null;
  for (const name of BACKEND_ORDER) {
    const b: BackendProbe = { name, tried: false, ok: false, detail: '' };
    backends.push(b);
    if (cannot) {
      b.detail = `not tried: ${cannot}`;
      continue;
    }
    b.tried = true;
    try {
      const tries = probeBackend(name, {
        pids: [],
        uapi,
        ringBytes: DEFAULT_RING_BYTES,
        wakeupBytes: 0,
        pollTimeoutMs: 50,
        batchBytes: 64 << 10,
        followChildren: false,
      });
      backendAttempts.push(...tries);
      const a = tries[tries.length - 1];
      b.ok = a.ok;
      b.detail = backendDetail(a);
      // classic hooks after refused btf ones: say why
      const btf = tries.find((t) => t.hooks === 'btf' && !t.ok);
      if (a.ok && a.hooks === 'classic' && btf) b.detail += `; ${hooksLabel('btf')} ${backendDetail(btf)}`;
    } catch (e) {
      b.detail = (e as Error).message;
    }
  }

  const features = probe && probe.created ? probe.features : undefined;
  const provisional =
    uapi.UFFD_FEATURE_RWP === DEFAULT_UAPI.UFFD_FEATURE_RWP.value && uapi.UFFD_FEATURE_RWP_ASYNC === DEFAULT_UAPI.UFFD_FEATURE_RWP_ASYNC.value;
  return {
    kernel,
    btf: { ok: existsSync(btfPath), path: btfPath },
    tracefs,
    privileges: { ok: priv.ok, euid: priv.euid, caps: priv.caps, problem: priv.problem },
    addon: { ok: addonOk, libbpf, problem: addonProblem },
    handleUserfault: {
      found: hu !== null,
      blockDetection: blockDetection(syms),
      size: hu ? Number(hu.end - hu.start) : undefined,
      wakeFunctionFound: syms.uffdWakeFunction !== null,
    },
    backends,
    backendAttempts,
    selectedBackend: backends.find((b) => b.ok)?.name ?? null,
    uffd: {
      created: probe?.created ?? false,
      via: probe?.via,
      errno: probe && probe.errno ? errnoName(-probe.errno) : null,
      features: features !== undefined ? `0x${features.toString(16)}` : undefined,
      featureNames: features !== undefined ? bitNames(features, 'UFFD_FEATURE_', uapi) : undefined,
      rwp: {
        requested: `0x${rwpBits.toString(16)}`,
        provisional,
        ...rwpSupport({ base: probe, rwp: rwpProbe, uapi, provisional, machine: kernel.machine }),
      },
    },
  };
}

/** One line per backend: what was attached, or where and why it failed. */
export function backendDetail(a: BackendAttempt): string {
  if (a.ok) {
    const precise = backend(a.backend).precise ? '; exact handle_userfault() entry/exit' : '';
    const hooks = ` (hooks: ${hooksLabel(a.hooks)})`;
    const skipped = a.skipped?.length
      ? `; skipped ${a.skipped.map((s) => s.program).join(', ')}: ${[...new Set(a.skipped.map((s) => s.reason))].join('; ')}`
      : '';
    return `${a.message}${hooks}${precise}${skipped}`;
  }
  const prog = a.program && !a.message.includes(a.program) ? ` [${a.program}]` : '';
  return `refused: ${a.message}${prog}${a.hint ? `; ${a.hint}` : ''}`;
}

export function formatDoctor(r: DoctorReport): string {
  const ok = (b: boolean) => (b ? 'ok  ' : 'FAIL');
  const lines: string[] = [];
  lines.push(`kernel        ${r.kernel.release} (${r.kernel.machine})`);
  lines.push(`${ok(r.btf.ok)}  BTF         ${r.btf.ok ? r.btf.path : `missing: ${r.btf.path} (needs CONFIG_DEBUG_INFO_BTF=y)`}`);
  lines.push(`${ok(r.tracefs.ok)}  tracefs     ${r.tracefs.ok ? r.tracefs.path + (r.tracefs.mountedNow ? ' (mounted now)' : '') : r.tracefs.problem}`);
  lines.push(`${ok(r.privileges.ok)}  privileges  ${r.privileges.ok ? (r.privileges.euid === 0 ? 'root' : 'CAP_BPF+CAP_PERFMON') : r.privileges.problem}`);
  lines.push(`${ok(r.addon.ok)}  addon       ${r.addon.ok ? `libbpf ${r.addon.libbpf}` : r.addon.problem}`);
  if (!r.addon.ok) lines.push(`              without the addon: sudo bpftrace ${bpftraceTools}/uffdlat.bt (also uffdioctl.bt, uffdsetmode.bt; tracepoints only)`);
  lines.push(
    `${ok(r.handleUserfault.blockDetection !== 'heuristic')}  waits       ${
      r.handleUserfault.blockDetection === 'waitqueue'
        ? `exact: a sleeping thread is looked up on its uffd's fault wait queues (userfaultfd_wake_function found in kallsyms)${r.handleUserfault.found ? ', else handle_userfault() on its kernel stack' : ''}`
        : r.handleUserfault.found
        ? 'exact: handle_userfault() found in kallsyms, waits checked on the kernel stack'
        : 'heuristic: handle_userfault() not in /proc/kallsyms (kptr_restrict?); first sleep after a uffd fault counts as its wait'
    }`,
  );
  lines.push('backends (tried in this order by --backend auto):');
  for (const b of r.backends) lines.push(`  ${b.ok ? 'ok  ' : b.tried ? 'FAIL' : '--  '}  ${b.name.padEnd(10)} ${b.detail}`);
  lines.push(r.selectedBackend ? `using: ${r.selectedBackend}` : 'no backend can run here: fix the FAIL lines above');
  if (r.uffd.created) {
    lines.push(`uffd          created via ${r.uffd.via}; UFFDIO_API grants ${r.uffd.features}: ${r.uffd.featureNames?.join(' ')}`);
  } else {
    lines.push(`uffd          cannot create a userfaultfd here${r.uffd.errno ? ` (${r.uffd.errno})` : ''}`);
  }
  lines.push(`RWP series    ${r.uffd.rwp.series === 'unknown' ? '' : `${r.uffd.rwp.series}: `}${r.uffd.rwp.verdict}`);
  for (const c of r.uffd.rwp.causes) lines.push(`                possible cause: ${c}`);
  return lines.join('\n');
}

/** `doctor --uapi-table`: every interpreted constant, its effective value, whether provisional or overridden, and its source; aligned under a header. */
export function formatUapiTable(uapi: Uapi): string {
  const rows = [['CONSTANT', 'VALUE', 'STATUS', 'SOURCE']];
  for (const [k, v] of Object.entries(DEFAULT_UAPI)) {
    const status = [v.provisional ? 'PROVISIONAL' : '', uapi[k] !== v.value ? `overridden (default 0x${v.value.toString(16)})` : ''].filter(Boolean).join(', ');
    rows.push([k, `0x${uapi[k].toString(16)}`, status || '-', v.source]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ')).join('\n') + '\n';
}
