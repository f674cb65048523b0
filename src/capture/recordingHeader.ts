// The recording header for a live capture: kernel, clock and selection.
import os from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../paths.js';
import { C } from '../events/layout.generated.js';
import { DEFAULT_UAPI, type Uapi } from '../events/uapi.js';
import { formatForAbi, type RecordingHeader } from '../recording/format.js';
import type { CaptureInfo } from './liveCapture.js';

export const toolVersion = (JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version;

export function uapiForHeader(uapi: Uapi): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(DEFAULT_UAPI)) out[k] = `0x${uapi[k].toString(16)}`;
  return out;
}

export function liveRecordingHeader(info: CaptureInfo, pids: number[], command: string[] | null, uapi: Uapi): RecordingHeader {
  return {
    format: formatForAbi(C.USCOPE_RECORD_ABI),
    recordAbi: C.USCOPE_RECORD_ABI,
    tool: { name: 'uffdscope', version: toolVersion },
    kernel: info.kernel,
    hostname: os.hostname(),
    clock: { name: 'boottime', bootToRealtimeOffsetNs: info.bootToRealtimeOffsetNs, startedAtBootNs: info.startedAtBootNs },
    createdAt: new Date().toISOString(),
    backend: info.backend,
    selection: { pids, command, hostWide: info.hostWide },
    uapi: uapiForHeader(uapi),
    generated: null,
    extra: { blockDetection: info.blockDetection, hooks: info.hooks, backendAttempts: info.backendAttempts },
  };
}
