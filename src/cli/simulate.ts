// `uffdscope simulate --scenario NAME -o FILE`: a GENERATED recording (marked
// as such in its header, and shown as such everywhere) for what no kernel
// here can produce: successful UFFDIO_SET_MODE switches, RWP faults.
import { existsSync } from 'node:fs';
import os from 'node:os';
import { RecordingWriter } from '../recording/writer.js';
import { ENCODED_RECORD_ABI, RecordEncoder } from '../events/encode.js';
import { generateModeToggle } from '../simulate/modeToggle.js';
import { uapiForHeader, toolVersion } from '../capture/recordingHeader.js';
import type { Uapi } from '../events/uapi.js';
import { UsageError } from '../exitCodes.js';

export const SCENARIOS = ['mode-toggle'] as const;

export interface SimulateOptions {
  scenario: string;
  output: string;
  seed: number;
  duration: number;
  faultRate: number;
  force?: boolean;
  uapi: Uapi;
}

export function runSimulate(o: SimulateOptions): { events: number } {
  if (!(SCENARIOS as readonly string[]).includes(o.scenario)) {
    throw new UsageError(`--scenario ${o.scenario}: unknown; choose one of ${SCENARIOS.join(', ')}`);
  }
  if (existsSync(o.output) && !o.force) throw new UsageError(`${o.output} exists: choose another -o FILE or pass --force`);
  const startNs = 1_000_000_000_000; // 1000 s after a simulated boot
  const writer = RecordingWriter.create(
    o.output,
    {
      format: 1,
      recordAbi: ENCODED_RECORD_ABI,
      tool: { name: 'uffdscope', version: toolVersion },
      kernel: { release: 'generated (RWP series semantics)', version: '', machine: os.machine() },
      hostname: 'generated',
      clock: { name: 'boottime', bootToRealtimeOffsetNs: Date.UTC(2026, 0, 1) * 1e6 - startNs, startedAtBootNs: startNs },
      createdAt: new Date().toISOString(),
      backend: 'generated',
      selection: { pids: [], command: null, hostWide: true },
      uapi: uapiForHeader(o.uapi),
      generated: { generator: 'uffdscope simulate', scenario: o.scenario, seed: o.seed },
      extra: { durationS: o.duration, faultRate: o.faultRate },
    },
    { overwrite: !!o.force },
  );
  const enc = new RecordEncoder(o.uapi, 1 << 20);
  let events = 0;
  let lastTs = startNs;
  generateModeToggle(o.uapi, { seed: o.seed, durationS: o.duration, faultRate: o.faultRate, startNs }, (e) => {
    enc.push(e);
    events++;
    lastTs = e.ts;
    if (enc.bytes >= 1 << 20) {
      const b = enc.take();
      writer.append(b.bytes, b.count);
    }
  });
  const b = enc.take();
  if (b.count) writer.append(b.bytes, b.count);
  writer.writeCounters({ producedTotal: events, lostTotal: 0, generated: true });
  writer.close({ endedAtBootNs: lastTs, reason: 'completed', generated: true });
  process.stderr.write(`uffdscope: wrote ${events} GENERATED events (scenario ${o.scenario}, seed ${o.seed}) to ${o.output}\n`);
  return { events };
}
