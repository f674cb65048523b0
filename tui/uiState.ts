// UI state (view, sort, selection, filter, scroll, pause) and the key map, as
// plain data and pure functions. The App keeps one UiState outside React
// (a ref) and runs every key through reduceKey, so keys typed faster than the
// screen redraws are applied in order to the newest state; what a key asks
// of the outside world (quit, source controls) comes back as effects.

import type { LogLine, TimelineLane, TopSnapshot, UffdRow } from '../src/view/topSnapshot.js';
import { headerRows } from './Header.js';
import { VIEWS, type ViewName } from './TabBar.js';
import { overviewPageSize, shownSortKeys, SORT_TITLES, sortIsDesc, stepSortKey, visibleUffds, type SortKey } from './OverviewView.js';
import { eventsPageSize, filterEvents, scrollAnchor, type EventAnchor } from './EventsView.js';
import { maxLaneScroll, visibleLanes } from './TimelineView.js';
import { helpMaxScroll } from './HelpView.js';
import { formatSpeed } from './format.js';

export interface UiState {
  view: ViewName;
  helpOpen: boolean;
  helpScroll: number;
  /** `p`: the drawn frame is frozen */
  paused: boolean;
  /** applied process filter ("" = none) */
  filter: string;
  /** the filter being typed; undefined when the prompt is closed */
  prompt: string | undefined;
  sortKey: SortKey;
  reversed: boolean;
  /** overview selection, by uffd key (stays on the uffd when rows move) */
  selectedKey: string | null;
  /** latency view: what Enter / `a` asked the source for (undefined: nothing yet) */
  requested: string | null | undefined;
  /** events: scrolled-back position (null = follow the newest) */
  anchor: EventAnchor | null;
  /** timeline: first lane shown */
  laneScroll: number;
  /** one-line feedback for the last key */
  message: string | undefined;
  /**
   * replay: the playback state the keys last asked for. The next key starts
   * from it, not from the snapshot, which shows a request only on the next
   * frame (`++` typed fast is two steps).
   */
  asked: { speed?: number; paused?: boolean };
}

export function initialUiState(view: ViewName = 'overview'): UiState {
  return {
    view,
    helpOpen: false,
    helpScroll: 0,
    paused: false,
    filter: '',
    prompt: undefined,
    sortKey: 'faults',
    reversed: false,
    selectedKey: null,
    requested: undefined,
    anchor: null,
    laneScroll: 0,
    message: undefined,
    asked: {},
  };
}

/** What the screen shows for a state, a snapshot and a terminal size. */
export interface Derived {
  uffds: UffdRow[];
  /** key of the selected row (the first one when the selected uffd is not shown) */
  selectedKey: string | null;
  events: LogLine[];
  lanes: TimelineLane[];
  totals: { uffds: number; faultsPerSec: number; pending: number };
  headerHeight: number;
  /** lines for the view between the tab bar and the status line */
  bodyHeight: number;
}

/** Lines drawn in total: one less than the terminal, so Ink never scrolls or clears it. */
export function screenLines(rows: number): number {
  return Math.max(1, rows - 1);
}

export function derive(ui: UiState, snap: TopSnapshot, width: number, height: number): Derived {
  const uffds = visibleUffds(snap.uffds, ui.filter, ui.sortKey, ui.reversed);
  const selectedKey = uffds.some((r) => r.key === ui.selectedKey) ? ui.selectedKey : (uffds[0]?.key ?? null);
  const totals = {
    uffds: snap.uffds.length,
    faultsPerSec: snap.uffds.reduce((a, r) => a + r.faultsPerSec, 0),
    pending: snap.uffds.reduce((a, r) => a + r.pending, 0),
  };
  const headerHeight = headerRows({ header: snap.header, width, paused: ui.paused, totals }).length;
  return {
    uffds,
    selectedKey,
    events: filterEvents(snap.events, ui.filter),
    lanes: visibleLanes(snap.timeline, snap.uffds, ui.filter),
    totals,
    headerHeight,
    bodyHeight: Math.max(3, screenLines(height) - headerHeight - 2),
  };
}

/** The subset of Ink's Key the map uses. */
export interface KeyInfo {
  upArrow?: boolean;
  downArrow?: boolean;
  leftArrow?: boolean;
  rightArrow?: boolean;
  pageUp?: boolean;
  pageDown?: boolean;
  home?: boolean;
  end?: boolean;
  return?: boolean;
  escape?: boolean;
  ctrl?: boolean;
  shift?: boolean;
  tab?: boolean;
  backspace?: boolean;
  delete?: boolean;
  meta?: boolean;
}

export interface SourceCaps {
  setPaused: boolean;
  seek: boolean;
  setSpeed: boolean;
  setFilter: boolean;
  selectUffd: boolean;
  startDemo: boolean;
}

export interface KeyContext {
  /** the drawn snapshot (frozen while paused) */
  snapshot: TopSnapshot;
  /** the newest snapshot (replay state, even while the display is frozen) */
  latest: TopSnapshot;
  width: number;
  height: number;
  can: SourceCaps;
}

export type Effect =
  | { type: 'quit' }
  | { type: 'freeze'; frozen: boolean }
  | { type: 'setPaused'; paused: boolean }
  | { type: 'seek'; deltaS: number }
  | { type: 'setSpeed'; x: number }
  | { type: 'setFilter'; filter: string }
  | { type: 'selectUffd'; id: string | null }
  | { type: 'startDemo' };

export const SEEK_STEP_S = 5;
export const SPEEDS: readonly number[] = [0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64];

/** The next replay speed up (dir 1) or down (dir -1) from `x`. */
export function nextSpeed(x: number, dir: 1 | -1): number {
  if (dir > 0) return SPEEDS.find((s) => s > x * 1.001) ?? SPEEDS[SPEEDS.length - 1]!;
  return [...SPEEDS].reverse().find((s) => s < x * 0.999) ?? SPEEDS[0]!;
}

/**
 * The key presses in one chunk of input, in order. Ink splits escape
 * sequences apart but hands a run of plain characters over as one string
 * (`jjj` typed fast, `++`, a pasted `/8227` or `abc\r`): each character is
 * its own key, with the flags Ink gives that character alone.
 */
export function splitKeys(input: string, key: KeyInfo): Array<{ input: string; key: KeyInfo }> {
  const chars = [...input];
  if (chars.length <= 1) return [{ input, key }];
  return chars.map((ch) => {
    const c = ch.codePointAt(0)!;
    if (ch === '\r' || ch === '\n') return { input: '', key: { return: true } };
    if (ch === '\t') return { input: '', key: { tab: true } };
    if (ch === '\u007f' || ch === '\b') return { input: '', key: { backspace: true } };
    if (ch === '\u001b') return { input: '', key: { escape: true, meta: true } };
    if (c < 0x20) return { input: String.fromCharCode(c + 0x60), key: { ctrl: true } };
    return { input: ch, key: {} };
  });
}

/** Applies one key press. Pure: returns the new state and what to do outside. */
export function reduceKey(prev: UiState, input: string, key: KeyInfo, ctx: KeyContext): { ui: UiState; effects: Effect[] } {
  const ui: UiState = { ...prev, message: undefined };
  const effects: Effect[] = [];
  const done = () => ({ ui, effects });

  if (key.ctrl && input === 'c') {
    effects.push({ type: 'quit' });
    return done();
  }

  // the filter prompt takes every other key
  if (ui.prompt !== undefined) {
    if (key.return) {
      applyFilter(ui, effects, ui.prompt);
      ui.prompt = undefined;
    } else if (key.escape) {
      ui.prompt = undefined;
    } else if (key.backspace || key.delete) {
      ui.prompt = ui.prompt.slice(0, -1);
    } else if (input && !key.ctrl && !key.meta && !key.tab && !key.upArrow && !key.downArrow && !key.leftArrow && !key.rightArrow) {
      ui.prompt += input.replace(/[\r\n\t\u0000-\u001f]/g, '');
    }
    return done();
  }

  const d = derive(ui, ctx.snapshot, ctx.width, ctx.height);

  if (input === 'q') {
    effects.push({ type: 'quit' });
    return done();
  }
  if (input === '?' || input === 'h') {
    ui.helpOpen = !ui.helpOpen;
    ui.helpScroll = 0;
    return done();
  }
  if (ui.helpOpen) {
    const max = helpMaxScroll(ctx.width, d.bodyHeight);
    const page = Math.max(1, d.bodyHeight - 1);
    const scrollTo = (n: number) => {
      ui.helpScroll = Math.max(0, Math.min(max, n));
      return done();
    };
    if (key.escape) {
      ui.helpOpen = false;
      return done();
    }
    if (key.upArrow || input === 'k') return scrollTo(ui.helpScroll - 1);
    if (key.downArrow || input === 'j') return scrollTo(ui.helpScroll + 1);
    if (key.pageUp) return scrollTo(ui.helpScroll - page);
    if (key.pageDown) return scrollTo(ui.helpScroll + page);
    if (key.home) return scrollTo(0);
    if (key.end) return scrollTo(max);
  }

  // views
  if (key.tab) {
    const i = VIEWS.indexOf(ui.view);
    ui.view = VIEWS[(i + (key.shift ? VIEWS.length - 1 : 1)) % VIEWS.length]!;
    ui.helpOpen = false;
    return done();
  }
  if (input.length === 1 && input >= '1' && input <= String(VIEWS.length)) {
    ui.view = VIEWS[Number(input) - 1]!;
    ui.helpOpen = false;
    return done();
  }

  const replay = ctx.latest.header.replay;

  if (input === 'D' && ctx.can.startDemo) {
    effects.push({ type: 'startDemo' });
    return done();
  }
  // global; in a replay, `p` pauses playback like Space (a frozen display could not show a seek)
  if (input === 'p' && !(replay && ctx.can.setPaused)) {
    ui.paused = !ui.paused;
    effects.push({ type: 'freeze', frozen: ui.paused }, { type: 'setPaused', paused: ui.paused });
    return done();
  }
  if (input === '/') {
    ui.prompt = ui.filter;
    return done();
  }
  if (key.escape) {
    if (ui.filter) applyFilter(ui, effects, '');
    return done();
  }

  // replay
  if (replay) {
    if (input === ' ' || input === 'p') {
      if (ctx.can.setPaused) {
        const paused = !(ui.asked.paused ?? replay.paused);
        effects.push({ type: 'setPaused', paused });
        ui.asked = { ...ui.asked, paused };
      }
      else ui.message = 'this source cannot pause';
      return done();
    }
    if (key.leftArrow || key.rightArrow) {
      if (ctx.can.seek) effects.push({ type: 'seek', deltaS: key.leftArrow ? -SEEK_STEP_S : SEEK_STEP_S });
      else ui.message = 'this source cannot seek';
      return done();
    }
    if (input === '+' || input === '=' || input === '-' || input === '_') {
      const x = nextSpeed(ui.asked.speed ?? replay.speed, input === '+' || input === '=' ? 1 : -1);
      if (ctx.can.setSpeed) {
        effects.push({ type: 'setSpeed', x });
        ui.asked = { ...ui.asked, speed: x };
        ui.message = `speed ${formatSpeed(x)}`;
      } else ui.message = 'this source cannot change speed';
      return done();
    }
  }

  if (ui.helpOpen) return done();

  switch (ui.view) {
    case 'overview': {
      const rows = d.uffds;
      const page = overviewPageSize(d.bodyHeight);
      const move = (to: (idx: number) => number) => {
        if (rows.length === 0) return;
        const idx = Math.max(0, rows.findIndex((r) => r.key === d.selectedKey));
        ui.selectedKey = rows[Math.max(0, Math.min(rows.length - 1, to(idx)))]!.key;
      };
      const sortBy = (k: SortKey) => {
        ui.sortKey = k;
        ui.reversed = false;
        ui.message = `sort ${SORT_TITLES[k]}${sortIsDesc(k, false) ? '▼' : '▲'}`;
      };
      if (key.upArrow || input === 'k') move((i) => i - 1);
      else if (key.downArrow || input === 'j') move((i) => i + 1);
      else if (key.pageUp) move((i) => i - page);
      else if (key.pageDown) move((i) => i + page);
      else if (key.home) move(() => 0);
      else if (key.end) move(() => rows.length - 1);
      else if (input === '>' || input === 's') sortBy(stepSortKey(ui.sortKey, 1, shownSortKeys(ctx.snapshot.uffds, ctx.width)));
      else if (input === '<') sortBy(stepSortKey(ui.sortKey, -1, shownSortKeys(ctx.snapshot.uffds, ctx.width)));
      else if (input === 'I' || input === 'r') {
        ui.reversed = !ui.reversed;
        ui.message = `sort ${SORT_TITLES[ui.sortKey]}${sortIsDesc(ui.sortKey, ui.reversed) ? '▼' : '▲'}`;
      } else if (key.return && d.selectedKey) {
        ui.selectedKey = d.selectedKey;
        ui.requested = d.selectedKey;
        ui.view = 'latency';
        effects.push({ type: 'selectUffd', id: d.selectedKey });
        if (!ctx.can.selectUffd) ui.message = 'this source cannot select a uffd';
      }
      break;
    }
    case 'latency':
      if (input === 'a') {
        ui.requested = null;
        effects.push({ type: 'selectUffd', id: null });
      }
      break;
    case 'timeline':
      if (key.upArrow || input === 'k') ui.laneScroll = Math.max(0, ui.laneScroll - 1);
      else if (key.downArrow || input === 'j') ui.laneScroll = Math.min(maxLaneScroll(d.lanes, d.bodyHeight), ui.laneScroll + 1);
      break;
    case 'events': {
      const page = eventsPageSize(d.bodyHeight);
      const ev = d.events;
      if (key.upArrow || input === 'k') ui.anchor = scrollAnchor(ev, ui.anchor, -1, page);
      else if (key.downArrow || input === 'j') ui.anchor = scrollAnchor(ev, ui.anchor, 1, page);
      else if (key.pageUp) ui.anchor = scrollAnchor(ev, ui.anchor, -page, page);
      else if (key.pageDown) ui.anchor = scrollAnchor(ev, ui.anchor, page, page);
      else if (key.home) ui.anchor = scrollAnchor(ev, ui.anchor, -ev.length, page);
      else if (key.end) ui.anchor = null;
      break;
    }
  }
  return done();
}

function applyFilter(ui: UiState, effects: Effect[], f: string): void {
  const v = f.trim();
  ui.filter = v;
  ui.anchor = null;
  ui.laneScroll = 0;
  effects.push({ type: 'setFilter', filter: v });
}
