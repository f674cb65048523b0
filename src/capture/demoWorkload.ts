// The bundled demo workload started on request (top's `D` key): its own
// process group, output discarded, stopped with the group (SIGTERM, then
// SIGKILL after the grace) when the caller ends, or at exit at the latest.
import { spawn } from 'node:child_process';
import { stopGroup, stopGroupSync } from './processGroup.js';

export class DemoWorkload {
  private pgid: number | null = null;
  private readonly onExit = () => {
    if (this.pgid !== null) stopGroupSync(this.pgid);
  };

  constructor(private readonly command: readonly string[]) {}

  get running(): boolean {
    return this.pgid !== null;
  }

  /** Starts it once; later calls do nothing. */
  start(): void {
    if (this.pgid !== null) return;
    const child = spawn(this.command[0]!, this.command.slice(1), { detached: true, stdio: 'ignore' });
    child.on('error', () => {}); // a failed spawn shows as no faults; the header says it was asked for
    if (child.pid === undefined) return;
    this.pgid = child.pid;
    process.once('exit', this.onExit);
  }

  /** Stops the whole group and waits for it. */
  async stop(): Promise<void> {
    if (this.pgid === null) return;
    const pgid = this.pgid;
    this.pgid = null;
    process.off('exit', this.onExit);
    await stopGroup(pgid);
  }
}
