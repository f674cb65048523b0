// The one line a tracing command (record, stat, serve, top's plain output)
// writes on stderr when the programs are attached: what it traces and how
// to stop it, so a host-wide run is never silent about being host-wide.

export interface TracingSelection {
  pid: readonly number[];
  command: readonly string[];
  hostWide: boolean;
}

/** e.g. "uffdscope: tracing pid 123 and its descendants; Ctrl-C to stop". */
export function tracingLine(s: TracingSelection, verb: 'tracing' | 'recording' = 'tracing'): string {
  if (s.hostWide) return `uffdscope: ${verb} host-wide (every process; select with --pid or -- CMD); Ctrl-C to stop`;
  const what: string[] = [];
  if (s.pid.length) what.push(`${s.pid.length === 1 ? 'pid' : 'pids'} ${s.pid.join(', ')}`);
  if (s.command.length) what.push(`\`${s.command.join(' ')}\``);
  const one = s.pid.length + (s.command.length ? 1 : 0) === 1;
  return `uffdscope: ${verb} ${what.join(' and ')} and ${one ? 'its' : 'their'} descendants; Ctrl-C to stop`;
}
