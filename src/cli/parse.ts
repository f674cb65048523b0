// Argument parsers for commander options: precise one-line messages.
import { InvalidArgumentError } from 'commander';

export function intArg(name: string, min: number, max: number) {
  return (v: string): number => {
    if (!/^\d+$/.test(v.trim())) throw new InvalidArgumentError(`${name} must be a whole number, got "${v}"`);
    const n = Number(v);
    if (n < min || n > max) throw new InvalidArgumentError(`${name} must be between ${min} and ${max}, got ${n}`);
    return n;
  };
}

export function collectPid(v: string, prev: number[] = []): number[] {
  if (!/^\d+$/.test(v.trim()) || Number(v) <= 0) throw new InvalidArgumentError(`--pid takes a process id, got "${v}"`);
  return [...prev, Number(v)];
}

export function secondsArg(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 31 * 86400) {
    // shared by --duration and --interval: commander names the option
    throw new InvalidArgumentError(`expected seconds > 0 (e.g. 10 or 0.5), got "${v}"`);
  }
  return n;
}

export function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

/** Ring buffer size in MiB: a power of two. */
export function ringMiB(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 1024 || (n & (n - 1)) !== 0) {
    throw new InvalidArgumentError(`--ring-buffer-mb must be a power of two from 1 to 1024, got "${v}"`);
  }
  return n;
}

/** Ring buffer size in KiB: a power of two, at least one page. */
export function ringKiB(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 4 || n > 1 << 20 || (n & (n - 1)) !== 0) {
    throw new InvalidArgumentError(`--ring-buffer-kb must be a power of two from 4 to 1048576, got "${v}"`);
  }
  return n;
}
