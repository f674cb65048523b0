// The fallback when stdout is not a terminal: a plain text table printed
// periodically (no ANSI codes, no cursor movement), good for logs and pipes.
import type { TopSnapshot } from '../src/view/topSnapshot.js';
import type { SnapshotSource } from './snapshotSource.js';
import { formatAgo, formatClock, formatCount, formatMiB, formatNs, formatSpeed, formatUptime, stripAnsi, visibleWidth } from './format.js';
import { createdLabel, demoBanner, ENGINE_KERNEL_LINE, GENERATED_BANNER, markerEffect, markerTiming, stageShare, uffdLabel } from './labels.js';

function table(header: string[], rows: string[][], right: boolean[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => visibleWidth(r[i] ?? ''))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => {
        const pad = ' '.repeat(Math.max(0, widths[i]! - visibleWidth(c)));
        return right[i] ? pad + c : i === cells.length - 1 ? c : c + pad;
      })
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** One plain-text frame of the snapshot, ending in a newline. */
export function renderPlain(s: TopSnapshot): string {
  const h = s.header;
  const out: string[] = [];
  const parts = [
    `uffdscope ${h.source}`,
    `kernel ${h.kernel}`,
    `backend ${h.backend}`,
    `tracing ${h.selection || 'host-wide'}`,
    `events ${formatCount(h.eventsPerSec)}/s`,
    `total ${h.eventsTotal}`,
    `lost ${h.lost}${h.lost > 0 ? ' (!)' : ''}`,
    `up ${formatUptime(h.uptimeS)}`,
  ];
  if (h.replay) {
    parts.push(
      `replay ${formatClock(h.replay.positionS)}/${formatClock(h.replay.durationS)} ${formatSpeed(h.replay.speed)}${h.replay.ended ? ' ended' : h.replay.paused ? ' paused' : ''}`,
    );
  }
  if (h.paused) parts.push('display paused');
  out.push(parts.join('  '));
  if (h.userfaultsTotal !== undefined) out.push(`userfaults ${h.userfaultsTotal} in ${h.uffdsTotal ?? s.uffds.length} uffds`);
  if (h.engine === 'kernel') out.push(ENGINE_KERNEL_LINE);
  if (h.notice) out.push(h.notice);
  if (h.demo) out.push(demoBanner(h.selection));
  if (h.generated || h.source === 'generated') out.push(GENERATED_BANNER);

  if (s.uffds.length === 0) {
    out.push('no uffds');
  } else {
    const rows = [...s.uffds]
      .sort((a, b) => b.faultsPerSec - a.faultsPerSec || a.key.localeCompare(b.key))
      .map((r) => [
        String(r.pid),
        r.comm,
        r.id,
        createdLabel(r.createdS),
        r.closed ? `${r.mode} closed` : r.mode,
        formatMiB(r.armedMiB),
        formatCount(r.faultsPerSec),
        String(r.faultsTotal),
        formatNs(r.p50Ns),
        formatNs(r.p99Ns),
        String(r.pending),
        r.handler || '-',
      ]);
    out.push(
      ...table(
        ['PID', 'COMM', 'UFFD', 'CREATED', 'MODE', 'ARMED', 'FLT/s', 'FAULTS', 'P50', 'P99', 'PENDING', 'HANDLER'],
        rows,
        [true, false, false, true, false, true, true, true, true, true, true, false],
      ),
    );
  }

  const l = s.latency;
  const stage = (name: 'total' | 'queue' | 'service' | 'wake') => {
    const st = l[name];
    const share = name === 'total' ? '' : (() => {
      const x = stageShare(st, l.total);
      return x === null ? '' : ` (${Math.round(x * 100)}% of p50)`;
    })();
    return `${name} p50 ${formatNs(st.p50Ns)} p99 ${formatNs(st.p99Ns)}${share}`;
  };
  out.push(
    `latency (${l.selected === 'all' ? 'all uffds' : `uffd ${uffdLabel(l.selected, s.uffds)}`}, ${l.total.count} faults${l.endsUnseen ? `, ${l.endsUnseen} more ended unseen` : ''}): ${stage('total')} | ${stage('queue')} | ${stage('service')} | ${stage('wake')}`,
  );

  const markers = s.timeline.lanes
    .flatMap((lane) => lane.markers.map((m) => ({ lane, m })))
    .sort((a, b) => b.m.atS - a.m.atS)
    .slice(0, 5);
  if (markers.length > 0) {
    out.push('mode switches (newest first):');
    for (const { lane, m } of markers) {
      const woke = m.woken !== undefined ? ` woke ${m.woken}` : '';
      const created = lane.createdS === null ? 'pre' : `+${createdLabel(lane.createdS)}`;
      out.push(`  ${formatAgo(m.atS)} ${lane.label} ${lane.uffd} ${created} ${m.ok ? 'ok' : 'REFUSED'} ${markerEffect(m, lane.spans)} ${markerTiming(m).map(([k, v]) => `${k} ${v}`).join(' ')}${woke}`);
    }
  } else {
    out.push(`mode switches: none in the last ${s.timeline.windowS}s`);
  }
  return stripAnsi(out.join('\n')) + '\n';
}

/**
 * The non-TTY fallback: writes renderPlain(source.current()) now and on
 * each tick of `every` (which returns how to stop it: the command's
 * schedule, e.g. every interval since launch). Returns a function that stops it.
 */
export function runPlain(source: Pick<SnapshotSource, 'current'>, every: (tick: () => void) => () => void, write: (text: string) => void): () => void {
  const tick = () => write(renderPlain(source.current()) + '\n');
  tick();
  return every(tick);
}
