// The kernel's rules the lifecycle judges a fault by: which ioctl could have
// resolved it, whether it was resolved asynchronously, its kind when no
// message named it, and the range an ioctl resolved. Feature bits come from
// the Uapi table; the ioctls' own facts from src/kernel/uffdIoctls.ts.

import type { Uapi } from '../events/uapi.js';
import { uffdIoctl } from '../kernel/uffdIoctls.js';
import { PF_PRESENT, PF_WRITE } from '../kernel/x86PageFault.js';
import { A_MINOR, A_MISSING, A_UNKNOWN, A_WP, type Fault, type IoctlCall } from './faultState.js';
import type { FaultEnd, FaultKind } from './faultTypes.js';


function u32bit(uapi: Uapi, name: string): number {
  const v = uapi[name];
  return v !== undefined && v > 0n && v < 1n << 32n ? Number(v) : 0;
}

export class FaultRules {
  private readonly wpAsync: number;
  private readonly rwpAsync: number;
  private readonly rwpAny: number;
  private readonly wpModeBit: bigint;

  constructor(uapi: Uapi) {
    this.wpAsync = u32bit(uapi, 'UFFD_FEATURE_WP_ASYNC');
    this.rwpAsync = u32bit(uapi, 'UFFD_FEATURE_RWP_ASYNC');
    this.rwpAny = u32bit(uapi, 'UFFD_FEATURE_RWP') | this.rwpAsync;
    this.wpModeBit = uapi.UFFDIO_WRITEPROTECT_MODE_WP ?? 1n;
  }

  /** The range an exited ioctl resolved, or null (failed, protect-only, unreadable). */
  resolvedRange(io: IoctlCall): [bigint, bigint] | null {
    const a = io.args;
    const spec = uffdIoctl(io.name);
    if (a === null || spec === undefined || spec.resolves === null || spec.rangeStart === null) return null;
    if (spec.result === null) {
      // a protection change: only a successful un-protect resolves
      if (io.ret !== 0 || a.mode === undefined || (a.mode & this.wpModeBit) !== 0n) return null;
      return a.start !== undefined && a.len !== undefined && a.len > 0n ? [a.start, a.len] : null;
    }
    const start = a[spec.rangeStart];
    if (start === undefined) return null;
    if (io.ret === 0 && a.len !== undefined && a.len > 0n) return [start, a.len];
    const done = a[spec.result];
    if (done !== undefined && done > 0n) return [start, done];
    return null;
  }

  /** Could this ioctl have resolved this (never blocked) fault? By the
   *  fault's mode: a fault the ioctl cannot resolve was no userfault. */
  canResolve(name: string, f: Fault): boolean {
    const err = f.errorCode;
    if (err < 0) return true;
    const a = f.armedMask;
    const present = (err & PF_PRESENT) !== 0;
    switch (uffdIoctl(name)?.resolves) {
      case 'wp':
        return (a & A_WP) !== 0 && present && (err & PF_WRITE) !== 0;
      case 'minor':
        return (a & A_MINOR) !== 0 && !present;
      default:
        // missing pages filled
        return (a & (A_MISSING | A_UNKNOWN)) !== 0 && !present;
    }
  }

  /** How a fault that never blocked ended, by what was seen of it. */
  classifyUnblocked(f: Fault): FaultEnd {
    if (f.rr !== null || f.msgTs !== undefined) return 'resolved';
    if (this.asyncEligible(f)) return 'async';
    return 'no_wait';
  }

  /** An outside end (close, unregister, exit) of a fault that never blocked. */
  externalEnd(f: Fault, reason: FaultEnd): FaultEnd {
    const c = this.classifyUnblocked(f);
    return c === 'no_wait' ? reason : c;
  }

  /** Async = a WP fault with WP_ASYNC, or an RWP fault with RWP_ASYNC; nothing else. */
  private asyncEligible(f: Fault): boolean {
    const cf = f.duringSetMode ? f.us.ctxFeatures : f.ctxFeatures;
    if (f.errorCode < 0) return false;
    const wpWrite = (f.armedMask & A_WP) !== 0 && (f.errorCode & (PF_PRESENT | PF_WRITE)) === (PF_PRESENT | PF_WRITE);
    if (cf & this.wpAsync && wpWrite) return true;
    // an RWP-armed VMA shows as armed by no mode the table knows (VM_UFFD_RWP's bit is not known)
    return (cf & this.rwpAsync) !== 0 && (f.armedMask & A_UNKNOWN) !== 0;
  }

  /** Kind from the VMA's armed modes and the error code (no message read). */
  armedKind(f: Fault): FaultKind {
    const a = f.armedMask;
    const rwp = (f.ctxFeatures & this.rwpAny) !== 0;
    const err = f.errorCode;
    if (err < 0) {
      // fault entry lost: only an unambiguous VMA tells
      if (a === A_MISSING) return 'missing';
      if (a === A_WP) return 'wp';
      if (a === A_MINOR) return 'minor';
      if (a === A_UNKNOWN && rwp) return 'rwp';
      return 'unknown';
    }
    const present = (err & PF_PRESENT) !== 0;
    if (present && err & PF_WRITE && a & A_WP) return 'wp';
    if (!present) {
      const mm = a & (A_MISSING | A_MINOR);
      if (mm === A_MISSING) return 'missing';
      if (mm === A_MINOR) return 'minor';
    }
    if (rwp && (a & A_UNKNOWN || present)) return 'rwp';
    return 'unknown';
  }
}
