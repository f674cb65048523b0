// FrameSampler: the UI's clock, on GENERATED fixture snapshots.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fx from '../fixtures/tui/fixtures.js';
import { FrameSampler } from '../../tui/frameSampler.js';
import { StaticSnapshotSource } from '../../tui/snapshotSource.js';

test('publishes at most once per tick, only on change; freeze keeps the drawn frame', () => {
  const src = new StaticSnapshotSource(fx.snapshot());
  const s = new FrameSampler(src, 1000);
  let published = 0;
  s.subscribe(() => published++);
  s.start();
  try {
    const first = s.getFrame();
    s.tick();
    assert.equal(published, 0, 'nothing changed');
    for (let i = 0; i < 50; i++) src.set(fx.snapshot()); // a burst of updates
    assert.equal(published, 0, 'notifications alone do not redraw');
    s.tick();
    assert.equal(published, 1, 'one frame for the whole burst');
    assert.notEqual(s.getFrame(), first);
    s.setFrozen(true);
    const frozen = s.getFrame();
    const next = fx.snapshot();
    src.set(next);
    s.tick();
    assert.equal(s.getFrame(), frozen);
    assert.equal(s.getLatest(), next, 'sampling continues while frozen');
    s.setFrozen(false);
    assert.equal(s.getFrame().snapshot, next);
    // a source that edits its snapshot in place and notifies still redraws
    const n = published;
    src.notify();
    s.tick();
    assert.equal(published, n + 1);
  } finally {
    s.stop();
  }
  assert.equal(src.subscriberCount, 0);
});
