// Periodic output on the launch grid: the first tick comes at the next
// multiple of the period since the process started, the next a period apart.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { everyPeriodSinceLaunch, msToNextTick } from '../../src/capture/tickGrid.js';

test('msToNextTick: to the next multiple of the period since launch, never 0', () => {
  assert.equal(msToNextTick(1000, 950), 50);
  assert.equal(msToNextTick(1000, 1300), 700);
  assert.equal(msToNextTick(1000, 0), 1000);
  assert.equal(msToNextTick(500, 2000), 500);
});

test('everyPeriodSinceLaunch: attached 300 ms after launch, ticks at 700, 1700, 2700 ms; none after stop', () => {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  try {
    const at: number[] = [];
    let now = 0;
    const step = (ms: number) => {
      now += ms;
      mock.timers.tick(ms);
    };
    const stop = everyPeriodSinceLaunch(1000, () => at.push(now), 300);
    step(699);
    assert.deepEqual(at, []);
    step(1);
    assert.deepEqual(at, [700]);
    step(1000);
    step(1000);
    assert.deepEqual(at, [700, 1700, 2700]);
    stop();
    step(5000);
    assert.deepEqual(at, [700, 1700, 2700]);
  } finally {
    mock.timers.reset();
  }
});
