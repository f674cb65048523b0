// Processes holding a userfaultfd right now, from /proc/PID/fd and fdinfo:
// how `top` decides whether the host has anything to show, and a view of
// uffds that existed before tracing began.
import { readdirSync, readlinkSync, readFileSync } from 'node:fs';

export interface UffdHolder {
  pid: number;
  comm: string;
  fd: number;
  /** from fdinfo: faults pending now, total so far, negotiated features */
  pending?: number;
  total?: number;
  features?: bigint;
}

export function parseUffdFdinfo(text: string): { pending?: number; total?: number; features?: bigint } {
  const pending = /^pending:\s*(\d+)/m.exec(text);
  const total = /^total:\s*(\d+)/m.exec(text);
  const api = /^API:\s*([0-9a-f]+):([0-9a-f]+):([0-9a-f]+)/im.exec(text);
  return {
    pending: pending ? Number(pending[1]) : undefined,
    total: total ? Number(total[1]) : undefined,
    features: api ? BigInt('0x' + api[2]) : undefined,
  };
}

export function findUffdHolders(proc = '/proc', limit = 10_000): UffdHolder[] {
  const out: UffdHolder[] = [];
  let pids: string[];
  try {
    pids = readdirSync(proc).filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const p of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`${proc}/${p}/fd`);
    } catch {
      continue; // gone, or not ours to read
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`${proc}/${p}/fd/${fd}`);
      } catch {
        continue;
      }
      if (target !== 'anon_inode:[userfaultfd]') continue;
      let comm = '';
      let info = {};
      try {
        comm = readFileSync(`${proc}/${p}/comm`, 'utf8').trim();
        info = parseUffdFdinfo(readFileSync(`${proc}/${p}/fdinfo/${fd}`, 'utf8'));
      } catch {
        /* raced with exit */
      }
      out.push({ pid: Number(p), comm, fd: Number(fd), ...info });
      if (out.length >= limit) return out;
    }
  }
  return out;
}
