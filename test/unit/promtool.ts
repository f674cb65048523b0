// promtool (Debian's prometheus package; scripts/setup.sh installs it) for the
// tests that validate the metrics and the rules: missing, those tests skip
// locally and fail under CI.
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export function requirePromtool(t: TestContext): string | null {
  for (const d of (process.env.PATH ?? '').split(':').concat(['/usr/bin', '/usr/local/bin'])) {
    const p = join(d, 'promtool');
    if (d !== '' && existsSync(p)) return p;
  }
  if (process.env.CI) assert.fail('promtool not installed (scripts/setup.sh installs it: apt-get install prometheus)');
  t.skip('promtool not installed (apt-get install prometheus)');
  return null;
}
