// Loads the native addon (build/Release/uffdscope.node) and owns its API:
// argument validation happens here, and the error class the addon throws is
// defined here (the better-sqlite3 habit: a thin native layer, the
// JavaScript side owns the contract).

import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { projectRoot } from '../paths.js';
import { join } from 'node:path';

// Capture backends (each its own BPF object and skeleton in the addon) and hook flavours: src/kernel/backends.ts.
import { BACKEND_ORDER, HOOK_ORDER, isBackendName, isHookFlavour, type BackendName, type HookFlavour } from '../kernel/backends.js';
export { BACKEND_ORDER, HOOK_ORDER, isBackendName, isHookFlavour, type BackendName, type HookFlavour };

/** An error raised by a libbpf step (open, configure, load, attach, poll). */
export class NativeError extends Error {
  /** which step failed: "load", "attach fault_entry (tracepoint/...)" ... */
  step = '';
  errno = 0;
  /** libbpf's own messages (the verifier log on a load failure) */
  libbpfLog?: string;
  /** the backend whose object failed (absent for errors outside a tracer) */
  backend?: BackendName;
  constructor(message: string) {
    super(message);
    this.name = 'NativeError';
  }
}

export interface TracerConfig {
  /** which BPF object to open (default tracepoint) */
  backend?: BackendName;
  /** how its hooks attach (default btf) */
  hooks?: HookFlavour;
  filterTgids: boolean;
  followChildren: boolean;
  handleUserfaultStart: bigint;
  handleUserfaultEnd: bigint;
  /** userfaultfd_wake_function's address (0 or absent: unknown), for the
   *  wait-queue check of a sleeping thread */
  uffdWakeFunction?: bigint;
  vmUffdMissing: bigint;
  vmUffdWp: bigint;
  vmUffdMinor: bigint;
  /** 0: wake the consumer for every record */
  wakeupBytes: number;
  /** count faults and histogram waits and their stages in the kernel
   *  (uscope_uffd_stats) instead of FAULT/BLOCK/WAKE/RESUME, per-fault
   *  ioctl and MSG records */
  inKernelStats?: boolean;
  /** uapi bits the in-kernel statistics need to tell fault kinds apart */
  featWpAsync?: bigint;
  featRwpAsync?: bigint;
  msgFlagWp?: bigint;
  msgFlagMinor?: bigint;
  msgFlagRwp?: bigint;
  /** ring buffer size in bytes: a power of two, multiple of the page size */
  ringBytes: number;
  pollTimeoutMs: number;
  batchBytes: number;
}

export interface CpuCounters {
  produced: number[];
  lost: number[];
  vmaLookupFailed: number;
  stackFailed: number;
  msgsTruncated: number;
  inflightDropped: number;
  /** per-fault uffd ioctls that succeeded, by ioctl nr (in-kernel statistics only) */
  fastIoctls: number[];
}

export interface NativeCounters {
  perCpu: CpuCounters[];
  delivered: number;
  discardedAtClose: number;
  /** the stop-time flush of faults not sent whole: 0, or the errno it failed with */
  pendingFlushErrno?: number;
}

/** The in-kernel statistics map read at once: `count` struct uscope_uffd_key
 *  in `keys` and struct uscope_uffd_stats in `values`, back to back. */
export interface RawUffdStatsRead {
  /** entries written to the buffers */
  count: number;
  /** the buffers were too small for the whole map: grow them and read again */
  more: boolean;
}

/** One entry of the in-kernel statistics map, undecoded. */
export interface RawUffdStats {
  uffd: bigint;
  createdNs: bigint;
  value: Buffer;
}

export interface NativeTracer {
  attach(): void;
  /** `batch` is a view of one Buffer the addon reuses for every batch: it
   *  is valid only until onBatch returns. Decode or copy it there. */
  start(onBatch: (batch: Buffer, count: number) => void): Promise<void>;
  stop(): void;
  close(): void;
  addTgid(pid: number): void;
  removeTgid(pid: number): void;
  counters(): NativeCounters;
  /** the in-kernel statistics map now, into the caller's buffers: per uffd
   *  its key (context pointer and creation time, 0 when created before
   *  tracing) and its struct uscope_uffd_stats (src/stats/kernelStats.ts) */
  uffdStats(keys: Buffer, values: Buffer): RawUffdStatsRead;
  /** every program of the object; autoload false: left out (see describe) */
  programs(): Array<{ name: string; section: string; autoload: boolean; id?: number }>;
  /** the backend opened and the optional programs it left out, with why */
  describe(): TracerDescription;
}

export interface TracerDescription {
  backend: BackendName;
  hooks: HookFlavour;
  skipped: Array<{ program: string; section: string; reason: string }>;
}

export interface UffdApiProbe {
  created: boolean;
  via?: string;
  ok?: boolean;
  errno: number;
  features: bigint;
  ioctls: bigint;
}

interface Addon {
  Tracer: new (cfg: TracerConfig) => NativeTracer;
  recordSizes(): Record<string, number>;
  setErrorClass(cls: typeof NativeError): void;
  libbpfVersion(): string;
  /** creates a uffd and performs UFFDIO_API with these features */
  probeUffdApi(features: bigint): UffdApiProbe;
  abi: number;
  /** backends whose skeletons are built into this addon */
  backends?: string[];
}

export const addonPath = join(projectRoot, 'build', 'Release', 'uffdscope.node');

let cached: Addon | undefined;

export class AddonMissingError extends Error {}

export function loadAddon(): Addon {
  if (cached) return cached;
  if (!existsSync(addonPath)) {
    throw new AddonMissingError(
      `native addon not built (${addonPath} missing): run scripts/setup.sh (or npm ci) first`,
    );
  }
  const require = createRequire(import.meta.url);
  const addon = require(addonPath) as Addon;
  addon.setErrorClass(NativeError);
  cached = addon;
  return addon;
}

const PAGE = 4096;

export function validateTracerConfig(c: TracerConfig): void {
  if (c.backend !== undefined && !isBackendName(c.backend)) {
    throw new RangeError(`backend ${String(c.backend)}: must be one of ${BACKEND_ORDER.join(', ')}`);
  }
  if (c.hooks !== undefined && !isHookFlavour(c.hooks)) {
    throw new RangeError(`hooks ${String(c.hooks)}: must be one of ${HOOK_ORDER.join(', ')}`);
  }
  const pow2 = (n: number) => n > 0 && (n & (n - 1)) === 0;
  if (!Number.isInteger(c.ringBytes) || !pow2(c.ringBytes) || c.ringBytes < PAGE || c.ringBytes > 1 << 30) {
    throw new RangeError(`ring buffer size ${c.ringBytes}: must be a power of two between 4 KiB and 1 GiB`);
  }
  if (!Number.isInteger(c.pollTimeoutMs) || c.pollTimeoutMs < 1 || c.pollTimeoutMs > 10_000) {
    throw new RangeError(`poll timeout ${c.pollTimeoutMs} ms: must be 1..10000`);
  }
  if (!Number.isInteger(c.wakeupBytes) || c.wakeupBytes < 0 || c.wakeupBytes >= c.ringBytes) {
    throw new RangeError(`wakeup threshold ${c.wakeupBytes}: must be 0..ring size`);
  }
  if (c.handleUserfaultEnd < c.handleUserfaultStart) {
    throw new RangeError('handle_userfault range: end before start');
  }
}

export function createTracer(c: TracerConfig): NativeTracer {
  validateTracerConfig(c);
  const addon = loadAddon();
  return new addon.Tracer(c);
}
