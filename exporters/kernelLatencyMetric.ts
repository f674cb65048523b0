// The fault latency histogram when the kernel counts: a prom-client metric
// whose buckets come from the in-kernel statistics' log-linear buckets at
// scrape time (prom-client's own Histogram only counts observations). Each
// kernel bucket lands whole on the side of an `le` bound its middle falls
// on, so a bound is exact to the kernel bucket's width (at most 12.5 %).
import { STAGES, type Stage } from '../src/stats/stats.js';
import type { StageHist } from '../src/stats/kernelStats.js';

/** One sample line of the exposition, as prom-client's registry renders it. */
interface SampleValue {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

export class KernelLatencyMetric {
  readonly type = 'histogram';
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bucketsS: readonly number[],
    private readonly stages: () => Record<Stage, StageHist> | null,
  ) {}

  get(): { name: string; help: string; type: string; aggregator: string; values: SampleValue[] } {
    const values: SampleValue[] = [];
    const st = this.stages();
    for (const stage of STAGES) {
      const h = st?.[stage];
      for (const le of this.bucketsS) {
        values.push({ metricName: `${this.name}_bucket`, labels: { le, stage }, value: h ? h.countAtOrBelow(le * 1e9) : 0 });
      }
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', stage }, value: h ? h.count : 0 });
      values.push({ metricName: `${this.name}_sum`, labels: { stage }, value: h ? h.sumNs / 1e9 : 0 });
      values.push({ metricName: `${this.name}_count`, labels: { stage }, value: h ? h.count : 0 });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {}
}
