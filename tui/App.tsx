// The uffdscope top UI: header, view tabs, one view, a status line.
//
// Data flow: a FrameSampler (outside React) samples source.current() every
// frameMs and publishes a frame only when the snapshot changed and the
// display is not paused. UI state lives in a ref and changes only through
// reduceKey. React re-renders on frames and key presses, never per event.
// The App never exits the process: `q` and Ctrl-C call onQuit.
import React, { useCallback, useEffect, useMemo, useReducer, useRef, useSyncExternalStore } from 'react';
import { Box, Text, useInput, useStdout, type Key } from 'ink';
import type { SnapshotSource } from './snapshotSource.js';
import { FrameSampler } from './frameSampler.js';
import { Header } from './Header.js';
import { TabBar, type ViewName } from './TabBar.js';
import { OverviewView } from './OverviewView.js';
import { LatencyView } from './LatencyView.js';
import { TimelineView } from './TimelineView.js';
import { EventsView } from './EventsView.js';
import { HelpView } from './HelpView.js';
import { StatusLine } from './StatusLine.js';
import { derive, initialUiState, reduceKey, splitKeys, type Effect, type SourceCaps, type UiState } from './uiState.js';

export interface AppProps {
  source: SnapshotSource;
  /** called on `q` / Ctrl-C; the caller unmounts and restores the terminal */
  onQuit: () => void;
  /** sampling period of source.current(), ms (default 100) */
  frameMs?: number;
  /** terminal size override (default: the stdout's size, else 80x24) */
  columns?: number;
  rows?: number;
  /** first view (default overview) */
  initialView?: ViewName;
}

export const MIN_COLUMNS = 40;
export const MIN_ROWS = 10;

function capsOf(source: SnapshotSource): SourceCaps {
  return {
    setPaused: typeof source.setPaused === 'function',
    seek: typeof source.seek === 'function',
    setSpeed: typeof source.setSpeed === 'function',
    setFilter: typeof source.setFilter === 'function',
    selectUffd: typeof source.selectUffd === 'function',
    startDemo: typeof source.startDemo === 'function',
  };
}

export function App({ source, onQuit, frameMs = 100, columns, rows, initialView = 'overview' }: AppProps): React.JSX.Element {
  const sampler = useMemo(() => new FrameSampler(source, frameMs), [source, frameMs]);
  useEffect(() => {
    sampler.start();
    return () => sampler.stop();
  }, [sampler]);
  const frame = useSyncExternalStore(sampler.subscribe, sampler.getFrame, sampler.getFrame);
  const snap = frame.snapshot;

  // terminal size, redrawn on resize
  const { stdout } = useStdout();
  const [, redraw] = useReducer((x: number) => x + 1, 0);
  useEffect(() => {
    if (!stdout || (columns !== undefined && rows !== undefined)) return;
    const onResize = () => redraw();
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout, columns, rows]);
  const width = columns ?? (stdout?.columns || 80);
  const height = rows ?? (stdout?.rows || 24);

  // UI state outside React; keys go through reduceKey in arrival order
  const uiRef = useRef<UiState | null>(null);
  if (uiRef.current === null) uiRef.current = initialUiState(initialView);
  const live = useRef({ width, height, onQuit });
  live.current = { width, height, onQuit };

  const apply = useCallback(
    (e: Effect) => {
      switch (e.type) {
        case 'quit':
          live.current.onQuit();
          break;
        case 'freeze':
          sampler.setFrozen(e.frozen);
          break;
        case 'setPaused':
          source.setPaused?.(e.paused);
          break;
        case 'seek':
          source.seek?.(e.deltaS);
          break;
        case 'setSpeed':
          source.setSpeed?.(e.x);
          break;
        case 'setFilter':
          source.setFilter?.(e.filter);
          break;
        case 'selectUffd':
          source.selectUffd?.(e.id);
          break;
        case 'startDemo':
          source.startDemo?.();
          break;
      }
    },
    [sampler, source],
  );

  const onKey = useCallback(
    (chunk: string, chunkKey: Key) => {
      // every key of a chunk, in order, each on the state the one before left
      for (const { input, key } of splitKeys(chunk, chunkKey)) {
        const { ui, effects } = reduceKey(uiRef.current!, input, key, {
          snapshot: sampler.getFrame().snapshot,
          latest: sampler.getLatest(),
          width: live.current.width,
          height: live.current.height,
          can: capsOf(source),
        });
        uiRef.current = ui;
        for (const e of effects) apply(e);
      }
      redraw();
    },
    [sampler, source, apply],
  );
  useInput(onKey);

  const ui = uiRef.current;
  if (width < MIN_COLUMNS || height < MIN_ROWS) {
    return <Text>{`uffdscope: terminal ${width}x${height} too small (needs ${MIN_COLUMNS}x${MIN_ROWS}); q quits`.slice(0, Math.max(1, width))}</Text>;
  }
  const d = derive(ui, snap, width, height);
  const bodyH = d.bodyHeight;

  let body: React.JSX.Element;
  if (ui.helpOpen) {
    body = <HelpView width={width} height={bodyH} scroll={ui.helpScroll} />;
  } else if (ui.view === 'overview') {
    body = (
      <OverviewView
        rows={d.uffds}
        total={snap.uffds.length}
        selectedKey={d.selectedKey}
        sortKey={ui.sortKey}
        reversed={ui.reversed}
        filter={ui.filter}
        width={width}
        height={bodyH}
      />
    );
  } else if (ui.view === 'latency') {
    body = (
      <LatencyView
        latency={snap.latency}
        uffds={snap.uffds}
        requested={ui.requested}
        canSelect={typeof source.selectUffd === 'function'}
        width={width}
        height={bodyH}
      />
    );
  } else if (ui.view === 'timeline') {
    body = <TimelineView timeline={snap.timeline} lanes={d.lanes} scroll={ui.laneScroll} width={width} height={bodyH} />;
  } else {
    body = <EventsView events={d.events} total={snap.events.length} filter={ui.filter} anchor={ui.anchor} width={width} height={bodyH} />;
  }

  return (
    <Box flexDirection="column" width={width}>
      <Header header={snap.header} width={width} paused={ui.paused} totals={d.totals} />
      <TabBar active={ui.view} width={width} filter={ui.filter} helpOpen={ui.helpOpen} />
      <Box flexDirection="column" height={bodyH} overflow="hidden">
        {body}
      </Box>
      <StatusLine view={ui.helpOpen ? 'help' : ui.view} width={width} prompt={ui.prompt} message={ui.message} />
    </Box>
  );
}
