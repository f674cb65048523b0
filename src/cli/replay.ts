// `uffdscope replay FILE [--speed X]`: the top UI driven by a recording.
import { ReplayDriver, replayHeader, replayPublisher } from '../view/replayDriver.js';
import type { Uapi } from '../events/uapi.js';
import { recordingInputError } from '../source/recordingSource.js';
import { warnRecording } from './recordingWarning.js';

export interface ReplayOptions {
  speed: number;
  interval?: number;
  uapi: Uapi;
}

export async function runReplay(file: string, o: ReplayOptions): Promise<void> {
  let driver: ReplayDriver;
  try {
    driver = new ReplayDriver(
      file,
      o.uapi,
      replayHeader,
      o.speed,
    );
  } catch (e) {
    throw recordingInputError(file, e);
  }
  const status = driver.rec.status();
  warnRecording(file, status);
  const frameMs = 100;
  const pub = replayPublisher(driver, driver.lost, frameMs);
  let damaged: Error | null = null;
  const closeUi = new AbortController();
  const clock = setInterval(() => {
    try {
      driver.tick(frameMs);
    } catch (e) {
      // Damaged records mid-file: stop playing and close the view, report it as bad input.
      damaged = recordingInputError(file, e);
      clearInterval(clock);
      closeUi.abort();
    }
  }, frameMs);
  pub.start();
  try {
    if (process.stdout.isTTY && process.stdin.isTTY) {
      // Ink draws only a final frame when CI is set (is-in-ci, read once at
      // import): an interactive terminal is not CI, whatever the environment.
      if (process.stdout.isTTY && process.stdin.isTTY) {
        delete process.env.CI;
        delete process.env.CONTINUOUS_INTEGRATION;
      }
      const { runTui } = await import('../../tui/run.js');
      await runTui(pub, { signal: closeUi.signal });
      // the UI has drawn over the warning: say it again where it stays
      warnRecording(file, status);
    } else {
      // Not a terminal: play to the end as fast as it reads, then one table.
      try {
        driver.seek(driver.durationS + 1);
      } catch (e) {
        throw recordingInputError(file, e);
      }
      pub.refresh();
      const { renderPlain } = await import('../../tui/plainTable.js');
      process.stdout.write(renderPlain(pub.current()) + '\n');
    }
  } finally {
    clearInterval(clock);
    pub.stop();
  }
  if (damaged) throw damaged;
}
