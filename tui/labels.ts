// Text the views and the plain table share, with no React in it: the plain
// output (top with stdout a pipe) loads this instead of the Ink components.
import type { ModeMarker, ModeSpan, StageSummary, UffdRow } from '../src/view/topSnapshot.js';
import { parseUffdKey } from '../src/model/uffdIdentity.js';
import { formatNs, formatUptime, shortUffd } from './format.js';

export const GENERATED_BANNER = 'GENERATED DATA — simulated, not captured from a kernel';

/** What the kernel-counting engine shows, and what needs --per-fault. */
export const ENGINE_KERNEL_LINE = 'counted in the kernel: faults, latency and stages per uffd; per-fault events need --per-fault';

export function demoBanner(selection: string): string {
  const m = /scenario[\s=:]+([\w-]+)/.exec(selection);
  const scenario = m ? m[1] : 'mixed';
  return `DEMO: tracing the bundled workload (${scenario} scenario) because nothing else on this host uses userfaultfd`;
}

export function modeAt(spans: readonly ModeSpan[], t: number): 'sync' | 'async' | null {
  for (const s of spans) if (s.startS <= t && t < s.endS) return s.mode;
  // the newest span includes "now"
  const lastSpan = spans[spans.length - 1];
  if (lastSpan && t >= lastSpan.startS && t <= lastSpan.endS) return lastSpan.mode;
  return null;
}

const mask = (v: bigint | null) => (v === null ? 'unread' : `0x${v.toString(16)}`);

/** What a marker did: "→ async", "→ sync", or the raw feature masks. */
export function markerEffect(m: ModeMarker, spans: readonly ModeSpan[]): string {
  if (!m.ok) return `${m.errno ?? 'refused'} enable ${mask(m.enable)} disable ${mask(m.disable)}`;
  const after = modeAt(spans, m.atS + 1e-3);
  if (after) return `→ ${after}`;
  return `enable ${mask(m.enable)} disable ${mask(m.disable)}`;
}

/** The marker's timing, named as everywhere: drain and wake-up where observed, else the ioctl latency. */
export function markerTiming(m: ModeMarker): Array<[string, string]> {
  if (m.drainNs === undefined) return [['ioctl', formatNs(m.latencyNs)]];
  const out: Array<[string, string]> = [['drain', formatNs(m.drainNs)]];
  if (m.wakeupNs !== undefined) out.push(['wake-up', formatNs(m.wakeupNs)]);
  return out;
}

/** Share of the total p50 that a stage's p50 is (null when unknown). */
export function stageShare(stage: StageSummary, total: StageSummary): number | null {
  if (stage.p50Ns === null || total.p50Ns === null || !(total.p50Ns > 0)) return null;
  return stage.p50Ns / total.p50Ns;
}

/** A uffd (by key) as "…8810badd800 +0.016s": address tail and when it was created ("pre": before tracing). */
export function uffdLabel(key: string, uffds: readonly UffdRow[]): string {
  const u = uffds.find((r) => r.key === key);
  if (u !== undefined) return `${shortUffd(u.id, 12)} ${u.createdS === null ? 'pre' : '+' + createdLabel(u.createdS)}`;
  const id = parseUffdKey(key);
  return shortUffd(id === null ? key : '0x' + id.ctx.toString(16), 12);
}

/**
 * CREATED cell: seconds after the start, "-" for a uffd that existed before.
 * µs in the first 10 s ("0.016407s": a busy start makes uffds µs apart), then
 * ms ("83.204s"), then coarser ("512.3s", "3m05s").
 */
export function createdLabel(createdS: number | null): string {
  if (createdS === null) return '-';
  if (createdS < 10) return `${createdS.toFixed(6)}s`;
  if (createdS < 100) return `${createdS.toFixed(3)}s`;
  if (createdS < 1000) return `${createdS.toFixed(1)}s`;
  return formatUptime(createdS);
}
