// report --hist on the mixed-workload recording: every histogram's bucket
// counts equal floor(log2) of the fault records' own stage values, counted
// here without the statistics or the printer; the JSON carries the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../src/paths.js';
import { analyzeRecording } from '../../src/pipeline/recordingPipeline.js';
import { STAGES, type Stage } from '../../src/stats/stats.js';
import { RecordingWriter, openRecording } from '../../src/recording/index.js';
import type { FaultRecord } from '../../src/model/faultLifecycle.js';

const REC = 'test/fixtures/recordings/mixed.uscope';

function cli(args: string[]): string {
  const r = spawnSync(process.execPath, [join(projectRoot, 'bin', 'uffdscope'), ...args], { cwd: projectRoot, encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `uffdscope ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  assert.equal(r.stderr, '');
  return r.stdout;
}

/** The power of two a value falls in, as a bucket's lower bound (0 for 0). */
function log2Lo(v: number): number {
  return v === 0 ? 0 : 2 ** (v.toString(2).length - 1);
}

/** title -> (bucket lo -> count), as the report should draw them. */
function expected(): Map<string, Map<number, number>> {
  const records: FaultRecord[] = [];
  analyzeRecording(join(projectRoot, REC), null, (r) => records.push(r));
  const out = new Map<string, Map<number, number>>();
  const add = (title: string, v: number | undefined) => {
    if (v === undefined) return;
    const m = out.get(title) ?? out.set(title, new Map()).get(title)!;
    m.set(log2Lo(v), (m.get(log2Lo(v)) ?? 0) + 1);
  };
  const stageTitle: Record<Stage, string> = {
    total: 'total latency (ns): fault to back on a CPU',
    queue: 'queue (ns): fault to its message read',
    service: 'service (ns): message read to the wake-up by the resolving ioctl',
    wake: 'wake (ns): that wake-up to back on a CPU',
  };
  const uf = records.filter((r) => r.userfault);
  for (const st of STAGES) for (const r of uf) add(stageTitle[st], r.stages[st]);
  for (const kind of ['missing', 'wp', 'minor', 'rwp', 'async', 'unknown']) for (const r of uf.filter((x) => x.kind === kind)) add(`${kind} faults: total latency (ns)`, r.stages.total);
  const comm = new Map<number, string>();
  for (const r of records) if (r.comm) comm.set(r.pid, r.comm);
  for (const r of uf) add(`pid ${r.pid} ${comm.get(r.pid)}: total latency (ns)`, r.stages.total);
  return out;
}

/** The histograms after the table: title -> (bucket lo -> count), in order. */
function parse(text: string): Map<string, Map<number, number>> {
  const units: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };
  const out = new Map<string, Map<number, number>>();
  for (const block of text.trimEnd().split('\n\n')) {
    const [title, ...rows] = block.split('\n');
    const m = new Map<number, number>();
    for (const row of rows) {
      const g = /^\[(\d+)([KMG]?), \d+[KMG]?\)\s+(\d+) \|@*\s*\|$/.exec(row);
      assert.ok(g, `not a histogram row: ${JSON.stringify(row)}`);
      if (Number(g[3]) > 0) m.set(Number(g[1]) * units[g[2]], Number(g[3]));
    }
    out.set(title, m);
  }
  return out;
}

test('report --hist: the plain report, then every stage, each fault kind and each process, with exact log2 bucket counts', () => {
  const plain = cli(['report', REC]);
  const withHist = cli(['report', REC, '--hist']);
  assert.ok(withHist.startsWith(plain), 'the table is unchanged');
  const heading = "Latency histograms (log2 buckets; each bar scaled to its histogram's largest count)\n\n";
  assert.ok(withHist.slice(plain.length).startsWith(heading));
  const drawn = parse(withHist.slice(plain.length + heading.length));
  const want = expected();
  // the mixed workload times three kinds (async faults never wait) in one process
  assert.deepEqual([...drawn.keys()], [
    'total latency (ns): fault to back on a CPU',
    'queue (ns): fault to its message read',
    'service (ns): message read to the wake-up by the resolving ioctl',
    'wake (ns): that wake-up to back on a CPU',
    'missing faults: total latency (ns)',
    'wp faults: total latency (ns)',
    'minor faults: total latency (ns)',
    'pid 2974 uffd-vcpu0: total latency (ns)',
  ]);
  assert.deepEqual(drawn, want);
  const sum = (m: Map<number, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  assert.equal(sum(drawn.get('total latency (ns): fault to back on a CPU')!), 383);
  assert.equal(sum(drawn.get('missing faults: total latency (ns)')!), 128);
});

test('report --hist --json: the summary JSON plus latency_hist_log2_ns, the buckets the text draws; --json-out writes the same', () => {
  const plain = JSON.parse(cli(['report', REC, '--json'])) as Record<string, unknown>;
  const text = cli(['report', REC, '--json', '--hist']);
  const j = JSON.parse(text) as Record<string, unknown> & { latency_hist_log2_ns: Array<{ stage: string; kind?: string; pid?: number; comm?: string; buckets: Array<{ lo: number; hi: number; count: number }> }> };
  const { latency_hist_log2_ns: hists, ...rest } = j;
  assert.deepEqual(rest, plain);
  assert.equal('latency_hist_log2_ns' in plain, false);
  assert.deepEqual(hists.map((h) => [h.stage, h.kind ?? null, h.pid ?? null, h.comm ?? null]), [
    ['total', null, null, null],
    ['queue', null, null, null],
    ['service', null, null, null],
    ['wake', null, null, null],
    ['total', 'missing', null, null],
    ['total', 'wp', null, null],
    ['total', 'minor', null, null],
    ['total', null, 2974, 'uffd-vcpu0'],
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'uffdscope-report-hist-'));
  try {
    cli(['report', REC, '--hist', '--json-out', join(dir, 'r.json')]);
    assert.equal(readFileSync(join(dir, 'r.json'), 'utf8'), text);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const want = [...expected().values()];
  hists.forEach((h, i) => {
    for (const b of h.buckets) assert.equal(b.hi, b.lo === 0 ? 1 : 2 * b.lo);
    assert.deepEqual(new Map(h.buckets.filter((b) => b.count > 0).map((b) => [b.lo, b.count])), want[i]);
  });
});

test('report --hist on a recording without faults: the total-latency histogram says it has no samples, nothing else is drawn', () => {
  const dir = mkdtempSync(join(tmpdir(), 'uffdscope-report-hist-'));
  try {
    const empty = join(dir, 'empty.uscope');
    const src = openRecording(join(projectRoot, REC));
    RecordingWriter.create(empty, src.header).close({ endedAtBootNs: src.header.clock.startedAtBootNs + 1e9, reason: 'completed' });
    const out = cli(['report', empty, '--hist']);
    assert.ok(out.endsWith("Latency histograms (log2 buckets; each bar scaled to its histogram's largest count)\n\ntotal latency (ns): fault to back on a CPU\n  (no samples)\n"), out);
    const j = JSON.parse(cli(['report', empty, '--hist', '--json'])) as { latency_hist_log2_ns: unknown };
    assert.deepEqual(j.latency_hist_log2_ns, [{ stage: 'total', buckets: [] }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
