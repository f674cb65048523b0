// Entry points: the interactive UI on a terminal, the plain table otherwise.
import { render } from 'ink';
import type { SnapshotSource } from './snapshotSource.js';
import { App } from './App.js';

export interface RunTuiOptions {
  /** sampling period, ms (default 100) */
  frameMs?: number;
  /** streams (default process.stdin / process.stdout / process.stderr) */
  stdin?: NodeJS.ReadStream;
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
  /** use the terminal's alternate screen like htop (default: when stdout is a TTY) */
  alternateScreen?: boolean;
  /** closes the UI from outside (the capture ended on a signal, the terminal went away) */
  signal?: AbortSignal;
}

const ENTER_ALT = '\u001B[?1049h\u001B[H';
const LEAVE_ALT = '\u001B[?1049l';
const SHOW_CURSOR = '\u001B[?25h';

/**
 * Draws the UI until the user quits (`q` / Ctrl-C), then unmounts, restores
 * the terminal (raw mode off, cursor shown, main screen back) and resolves.
 * It never calls process.exit.
 */
export async function runTui(source: SnapshotSource, opts: RunTuiOptions = {}): Promise<void> {
  const stdout = opts.stdout ?? process.stdout;
  const stdin = opts.stdin ?? process.stdin;
  if (!stdin.isTTY) {
    throw new Error('the interactive view needs a terminal on stdin; use runPlain for non-interactive output');
  }
  const alt = opts.alternateScreen ?? Boolean(stdout.isTTY);
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    if (alt) stdout.write(LEAVE_ALT + SHOW_CURSOR);
  };
  // if the process dies without unmounting, at least give the screen back
  const onExit = () => restore();
  process.once('exit', onExit);
  if (alt) stdout.write(ENTER_ALT);

  let quit: () => void = () => {};
  const instance = render(<App source={source} frameMs={opts.frameMs} onQuit={() => quit()} />, {
    stdout,
    stdin,
    stderr: opts.stderr ?? process.stderr,
    exitOnCtrlC: false,
    patchConsole: false,
  });
  quit = () => instance.unmount();
  const onAbort = () => quit();
  if (opts.signal?.aborted) quit();
  opts.signal?.addEventListener('abort', onAbort);
  try {
    await instance.waitUntilExit();
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    instance.cleanup();
    restore();
    process.removeListener('exit', onExit);
  }
}

export { runPlain } from './plainTable.js';
