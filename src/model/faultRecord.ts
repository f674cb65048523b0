// A fault's record, made once it has ended: its stage times, taken from the
// moment it was resolved (B, see faultLifecycle.ts), and what resolved it.

import type { FaultRules } from './faultRules.js';
import { ref, type Fault } from './faultState.js';
import type { FaultKind, FaultRecord, FaultStages } from './faultTypes.js';

const PAGE_MASK = ~4095n;

export function faultRecord(f: Fault, rules: FaultRules): FaultRecord {
  const resolver = f.rr ?? f.wakeIoctl;
  const rx = resolver !== null ? resolver.exitTs : undefined;
  const msgTs = f.msgTs;
  const wakeTs = f.wakeTs;
  const resumeTs = f.resumeTs;
  // B: the moment the fault was resolved
  let b: number | undefined;
  if (wakeTs !== undefined) {
    b = rx !== undefined && rx < wakeTs && (msgTs === undefined || rx >= msgTs) ? rx : wakeTs;
  } else if (rx !== undefined) b = rx;
  const stages: FaultStages = {};
  if (resumeTs !== undefined) {
    stages.total = resumeTs - f.faultTs;
    if (f.blockTs !== undefined) stages.blocked = resumeTs - f.blockTs;
    if (b !== undefined) stages.wake = resumeTs - b;
  }
  if (msgTs !== undefined) {
    stages.queue = msgTs - f.faultTs;
    if (b !== undefined && b >= msgTs) stages.service = b - msgTs;
  }
  const reason = f.end;
  const userfault = f.blocked || f.msgTs !== undefined || f.rr !== null || reason === 'async';
  const kind: FaultKind = f.msgKind ?? (reason === 'async' ? 'async' : rules.armedKind(f));
  const resolverRef = resolver !== null ? ref(resolver) : undefined;
  return {
    uffd: f.uffd,
    pid: f.pid,
    tid: f.tid,
    comm: f.comm,
    address: f.address,
    page: f.address & PAGE_MASK,
    kind,
    userfault,
    blocked: f.blocked,
    nblocks: f.nblocks,
    blockHow: f.blockHow,
    errorCode: f.errorCode,
    armed: f.armed,
    ctxFeatures: f.ctxFeatures,
    faultTs: f.faultTs,
    blockTs: f.blockTs,
    msgTs,
    msgReaderPid: f.msgReaderPid,
    msgReaderTid: f.msgReaderTid,
    msgKind: f.msgKind,
    msgFlags: f.msgFlags,
    msgs: f.msgs,
    resolveIoctl: resolverRef,
    wakeIoctl: f.wakeIoctl === null ? undefined : f.wakeIoctl === resolver ? resolverRef : ref(f.wakeIoctl),
    wakeTs,
    wakerPid: f.wakerPid,
    wakerTid: f.wakerTid,
    wakerComm: f.wakerComm,
    resumeTs,
    resolvedTs: b,
    end: reason,
    endTs: f.endTs,
    stages,
    recovered: f.recovered,
    incomplete: f.incomplete || f.wakeMissing,
  };
}
