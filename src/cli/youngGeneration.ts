// top and serve, counting in the kernel, run for hours and move little data
// through JavaScript, yet V8 grows its young generation on
// the survivors of each interval's map read: to 32 MB (Node 20, 22) or 128 MB
// (Node 24) of resident memory on a busy host. Held at its initial 1 MB it
// costs them more, smaller scavenges (bench/README.md: busy host, peak RSS).
// Not stat: its table of every uffd each interval is a burst that a 1 MB
// young generation promotes, and its RSS grew by ~5 MB an interval.
import { setFlagsFromString } from 'node:v8';

/** Keeps V8's young generation at its initial size from now on. */
export function keepYoungGenerationSmall(): void {
  // read by V8 at each growth of the young generation, so it applies at run time
  setFlagsFromString('--semi-space-growth-factor=1');
}
