// One transport measurement on the JavaScript side (run by transport.ts in
// its own process, pinned to the consumer CPU):
//
//   node dist/bench/transport_node.js --mode addon|pipeline --json OUT -- STORM ARGS...
//
// It opens the real capture the way `record`/`stat -- CMD` do (LiveCapture
// with captureOptions(): same ring size, wake-up threshold, poll timeout,
// batch size; the tracepoint backend, like the C baseline), runs the storm
// as the traced command, and consumes the batches:
//   addon     counts records (the native consumer thread -> JavaScript, nothing else)
//   pipeline  the live record decoder (reordering included) + Analysis.push()
//             for every record (what `stat --per-fault` does)
// and writes {delivered, produced, lost, ...} as JSON to OUT.
//
// --profile FILE: a V8 CPU profile of the consuming phase only, started
// after the BPF programs are loaded (node --cpu-prof cannot be used: its
// SIGPROF ticks interrupt the verifier, and BPF_PROG_LOAD then fails with
// EAGAIN on a busy machine).
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { LiveCapture } from '../src/capture/liveCapture.js';
import { captureOptions } from '../src/capture/captureOptions.js';
import { resolveUapi } from '../src/events/uapi.js';
import { LIVE_RECORD_ABI, recordDecoder } from '../src/source/recordDecoder.js';
import { Analysis } from '../src/stats/pipeline.js';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const dd = argv.indexOf('--');
  if (dd < 0) throw new Error('usage: transport_node --mode addon|pipeline --json OUT -- CMD ARGS...');
  const opts = argv.slice(0, dd);
  const command = argv.slice(dd + 1);
  const get = (k: string) => {
    const i = opts.indexOf(k);
    return i >= 0 ? opts[i + 1] : undefined;
  };
  const mode = get('--mode');
  const out = get('--json');
  const profile = get('--profile');
  if ((mode !== 'addon' && mode !== 'pipeline') || !out) throw new Error('--mode addon|pipeline and --json OUT are required');

  const uapi = resolveUapi();
  const cap = LiveCapture.open({
    ...captureOptions({ pid: [], command, uapi }),
    commandStdio: 'ignore',
    backend: 'tracepoint',
  });
  let delivered = 0;
  let batches = 0;
  let decoded = 0;
  const analysis = new Analysis(uapi);
  const decoder = recordDecoder(LIVE_RECORD_ABI, uapi, (e) => {
    analysis.push(e);
    decoded++;
  });
  if (mode === 'addon') {
    cap.onBatch((_batch, count) => {
      delivered += count;
      batches++;
    });
  } else {
    cap.onBatch((batch, count) => {
      decoder.push(batch, count);
      delivered += count;
      batches++;
    });
  }
  const session = profile ? new Session() : null;
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) => session!.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))));
  if (session) {
    session.connect();
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 500 });
    await post('Profiler.start');
  }
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await cap.run();
  decoder.end();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (session) {
    const { profile: p } = (await post('Profiler.stop')) as { profile: unknown };
    writeFileSync(profile!, JSON.stringify(p));
    session.disconnect();
  }
  const c = cap.counters();
  cap.close();
  let summaryMs = 0;
  if (mode === 'pipeline') {
    const s0 = performance.now();
    analysis.finish();
    analysis.summary({ backend: 'tracepoint', lost: c.lostTotal, lostByType: c.lost });
    summaryMs = performance.now() - s0;
  }
  writeFileSync(
    out,
    JSON.stringify({
      mode,
      delivered,
      decoded,
      batches,
      produced: c.producedTotal,
      lost: c.lostTotal,
      addonDelivered: c.delivered,
      discardedAtClose: c.discardedAtClose,
      wallMs,
      consumerCpuS: (cpu.user + cpu.system) / 1e6,
      summaryMs,
      commandExit: cap.childExit,
    }) + '\n',
  );
}

main().catch((e) => {
  process.stderr.write(`transport_node: ${(e as Error)?.stack ?? String(e)}\n`);
  process.exit(1);
});
