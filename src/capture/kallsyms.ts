// Text ranges of kernel functions, from /proc/kallsyms. The BPF side needs
// handle_userfault()'s range to tell a uffd wait from any other sleep by
// looking at the kernel stack.
import { readFileSync } from 'node:fs';

export interface SymbolRange {
  start: bigint;
  end: bigint;
}

/** The [start, end) range of a text symbol: end is the next text symbol's
 *  address. Null when the symbol is absent or addresses are hidden
 *  (kptr_restrict, not root). */
export function textSymbolRange(name: string, kallsyms = '/proc/kallsyms'): SymbolRange | null {
  let text: string;
  try {
    text = readFileSync(kallsyms, 'utf8');
  } catch {
    return null;
  }
  let start: bigint | null = null;
  const addrs: bigint[] = [];
  for (const line of text.split('\n')) {
    const sp1 = line.indexOf(' ');
    if (sp1 < 0) continue;
    const t = line[sp1 + 1];
    if (t !== 't' && t !== 'T') continue;
    const addr = BigInt('0x' + line.slice(0, sp1));
    if (addr === 0n) continue;
    const rest = line.slice(sp1 + 3);
    const sym = rest.split(/[\s\t]/, 1)[0];
    if (sym === name) start = addr;
    addrs.push(addr);
  }
  if (start === null) return null;
  let end: bigint | null = null;
  for (const a of addrs) if (a > start && (end === null || a < end)) end = a;
  return end === null ? null : { start, end };
}
