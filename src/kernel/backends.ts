// The capture backends and the ways their hooks attach, one row each: the
// CLI's choices, `auto`'s order, doctor's wording and the addon's checks all
// read these (native/ builds one BPF object per backend; native/hooks.h
// attaches the shared hooks in either flavour).

export type BackendName = 'fentry' | 'kprobe' | 'tracepoint';

export interface Backend {
  name: BackendName;
  /** exact handle_userfault() entry/exit (and the set-mode path) on top of the tracepoint records */
  precise: boolean;
}

/** In the order `--backend auto` tries them: most precise first. */
export const BACKENDS: readonly Backend[] = [
  { name: 'fentry', precise: true },
  { name: 'kprobe', precise: true },
  { name: 'tracepoint', precise: false },
];

export const BACKEND_ORDER: readonly BackendName[] = BACKENDS.map((b) => b.name);

export function isBackendName(v: unknown): v is BackendName {
  return typeof v === 'string' && (BACKEND_ORDER as readonly string[]).includes(v);
}

export function backend(name: BackendName): Backend {
  return BACKENDS.find((b) => b.name === name)!;
}

/** btf: BTF raw tracepoints (tp_btf), cheaper per event; classic: perf
 *  tracepoints, for kernels that refuse tp_btf. */
export type HookFlavour = 'btf' | 'classic';

export interface Hooks {
  name: HookFlavour;
  /** how doctor and the help name it */
  label: string;
}

/** In the order `--hooks auto` tries them. */
export const HOOK_FLAVOURS: readonly Hooks[] = [
  { name: 'btf', label: 'BTF raw tracepoints' },
  { name: 'classic', label: 'classic tracepoints' },
];

export const HOOK_ORDER: readonly HookFlavour[] = HOOK_FLAVOURS.map((h) => h.name);

export function isHookFlavour(v: unknown): v is HookFlavour {
  return typeof v === 'string' && (HOOK_ORDER as readonly string[]).includes(v);
}

export function hooksLabel(name: HookFlavour): string {
  return HOOK_FLAVOURS.find((h) => h.name === name)!.label;
}
