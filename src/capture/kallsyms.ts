// Kernel text symbols from /proc/kallsyms. The BPF side needs
// handle_userfault()'s range (to find it on a sleeping thread's kernel
// stack) and userfaultfd_wake_function's address (to find the thread on a
// uffd's fault wait queue, the cheaper exact check).
import { readFileSync } from 'node:fs';
import type { BlockHow } from '../events/types.js';

export interface SymbolRange {
  start: bigint;
  end: bigint;
}

/** [start, end) ranges of text symbols, read in one pass: end is the next
 *  text symbol's address. A symbol absent, or all of them when addresses
 *  are hidden (kptr_restrict, not root), maps to null. */
export function textSymbolRanges<N extends string>(names: readonly N[], kallsyms = '/proc/kallsyms'): Record<N, SymbolRange | null> {
  const out = Object.fromEntries(names.map((n) => [n, null])) as Record<N, SymbolRange | null>;
  let text: string;
  try {
    text = readFileSync(kallsyms, 'utf8');
  } catch {
    return out;
  }
  const wanted = new Set<string>(names);
  const starts = new Map<string, bigint>();
  const addrs: bigint[] = [];
  for (const line of text.split('\n')) {
    const sp1 = line.indexOf(' ');
    if (sp1 < 0) continue;
    const t = line[sp1 + 1];
    if (t !== 't' && t !== 'T') continue;
    const addr = BigInt('0x' + line.slice(0, sp1));
    if (addr === 0n) continue;
    const sym = line.slice(sp1 + 3).split(/[\s\t]/, 1)[0];
    if (wanted.has(sym) && !starts.has(sym)) starts.set(sym, addr);
    addrs.push(addr);
  }
  for (const [sym, start] of starts) {
    let end: bigint | null = null;
    for (const a of addrs) if (a > start && (end === null || a < end)) end = a;
    if (end !== null) out[sym as N] = { start, end };
  }
  return out;
}

/** The kernel symbols block detection uses, and what they allow. */
export interface BlockSymbols {
  handleUserfault: SymbolRange | null;
  uffdWakeFunction: bigint | null;
}

export function blockSymbols(kallsyms = '/proc/kallsyms'): BlockSymbols {
  const r = textSymbolRanges(['handle_userfault', 'userfaultfd_wake_function'], kallsyms);
  return { handleUserfault: r.handle_userfault, uffdWakeFunction: r.userfaultfd_wake_function?.start ?? null };
}

/** How waits are told from other sleeps with these symbols: the wait queue
 *  check (stack walk as its fallback), the stack walk alone, or the first
 *  sleep after the fault. */
export function blockDetection(s: BlockSymbols): BlockHow {
  if (s.uffdWakeFunction !== null) return 'waitqueue';
  return s.handleUserfault ? 'stack' : 'heuristic';
}
