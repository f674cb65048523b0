// How a damaged or unfinished recording is told to the user: the warning
// lines every command that reads a recording prints on stderr. The summary
// JSON carries the same ranges (RecordingStatus.damage) as they are.
import type { DamagedRange, RecordingStatus } from './reader.js';

/** Ranges listed one per line before the rest are only counted. */
export const LISTED_RANGES = 20;

function plural(n: number, one: string, many = one + 's'): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** One phrase for all the damage: "2 byte ranges skipped (4136 bytes: 512 records, and 1 range of unknown content)". */
export function damageHeadline(damage: readonly DamagedRange[]): string {
  const bytes = damage.reduce((a, d) => a + d.length, 0);
  const known = damage.reduce((a, d) => a + (d.records ?? 0), 0);
  const unknown = damage.filter((d) => d.records === null).length;
  const held = [known || unknown === 0 ? plural(known, 'record') : '', unknown ? `${plural(unknown, 'range')} of unknown content` : '']
    .filter(Boolean)
    .join(', and ');
  return `${plural(damage.length, 'byte range')} skipped (${plural(bytes, 'byte')}: ${held})`;
}

/** A range as "bytes 2792-3839 (1048 bytes): records chunk: ...: payload checksum mismatch". */
export function describeRange(d: DamagedRange): string {
  return `bytes ${d.offset}-${d.offset + d.length - 1} (${plural(d.length, 'byte')}): ${d.held}: ${d.reason}`;
}

/**
 * The warning for a recording that is damaged or has no trailer, as lines
 * without the program prefix; empty for an intact, finished recording.
 */
export function damageWarning(path: string, st: RecordingStatus): string[] {
  const out: string[] = [];
  if (st.damage.length) {
    out.push(`warning: ${path} is damaged: ${damageHeadline(st.damage)}; every other chunk was read`);
    for (const d of st.damage.slice(0, LISTED_RANGES)) out.push(`  ${describeRange(d)}`);
    if (st.damage.length > LISTED_RANGES) out.push(`  ... and ${st.damage.length - LISTED_RANGES} more ranges (report --json lists them all)`);
  }
  if (!st.complete) {
    const why = st.damage.length ? 'no readable trailer' : 'no trailer: the recorder did not finish (killed?)';
    out.push(`warning: ${path} has ${why}; everything readable before the end was used`);
  }
  return out;
}
