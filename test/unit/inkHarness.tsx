// Mounts the top App under ink-testing-library for frame tests: keys (one
// or several per write, as a terminal delivers them), the drawn frame without
// colours, waiting for a frame to show something.
import assert from 'node:assert/strict';
import { render } from 'ink-testing-library';
import { App } from '../../tui/App.js';
import type { SnapshotSource } from '../../tui/snapshotSource.js';
import { stripAnsi, visibleWidth } from '../../tui/format.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const KEY = {
  enter: '\r',
  esc: '\u001B',
  tab: '\t',
  shiftTab: '\u001B[Z',
  up: '\u001B[A',
  down: '\u001B[B',
  right: '\u001B[C',
  left: '\u001B[D',
  pageUp: '\u001B[5~',
  pageDown: '\u001B[6~',
  home: '\u001B[H',
  end: '\u001B[F',
  ctrlC: '\u0003',
  backspace: '\u007F',
};

export interface Mounted<S extends SnapshotSource> {
  src: S;
  frame(): string;
  /** each argument is one write to stdin: 'jjj' is one chunk of three keys */
  press(...keys: string[]): Promise<void>;
  waitFor(pred: (frame: string) => boolean, what: string): Promise<string>;
  quits(): number;
  unmount(): void;
}

export async function mount<S extends SnapshotSource>(src: S, size: { columns?: number; rows?: number } = {}): Promise<Mounted<S>> {
  let quits = 0;
  const inst = render(<App source={src} onQuit={() => quits++} frameMs={5} columns={size.columns ?? 80} rows={size.rows ?? 24} />);
  const frame = () => stripAnsi(inst.lastFrame() ?? '');
  const m: Mounted<S> = {
    src,
    frame,
    async press(...keys) {
      for (const k of keys) {
        inst.stdin.write(k);
        await sleep(k === KEY.esc ? 15 : 5); // a lone ESC is flushed on the next tick
      }
      await sleep(20);
    },
    async waitFor(pred, what) {
      // Generous: a loaded 2-core machine can stall a frame for a while.
      for (let i = 0; i < 1000; i++) {
        const f = frame();
        if (pred(f)) return f;
        await sleep(5);
      }
      assert.fail(`timed out waiting for ${what}; last frame:\n${frame()}`);
    },
    quits: () => quits,
    unmount: () => inst.unmount(),
  };
  await m.waitFor((f) => f.includes('uffdscope'), 'first frame');
  await sleep(15); // let the input effects subscribe before the first key
  return m;
}

export async function withMounted<S extends SnapshotSource>(src: S, fn: (m: Mounted<S>) => Promise<void>, size?: { columns?: number; rows?: number }) {
  const m = await mount(src, size);
  try {
    await fn(m);
  } finally {
    m.unmount();
  }
}

export function assertFits80x24(f: string, what: string) {
  const lines = f.split('\n');
  assert.ok(lines.length <= 23, `${what}: ${lines.length} lines (24 rows keep one spare)`);
  for (const l of lines) assert.ok(visibleWidth(l) <= 80, `${what}: line of ${visibleWidth(l)}: ${l}`);
}
