// OpenMetrics 1.0 text rendering of a prom-client registry, read-only.
// prom-client's own OpenMetrics rendering (Registry.metrics() on an OpenMetrics
// registry) strips `_total` from each counter object's name in place, so a
// counter shared with a Prometheus-format registry is renamed there too after
// one OpenMetrics scrape. This renders from the registry's JSON instead.
import { Registry, type MetricValue } from 'prom-client';

/** The OpenMetrics content type this renders. */
export const OPENMETRICS_CONTENT_TYPE = Registry.OPENMETRICS_CONTENT_TYPE;

// OpenMetrics escapes backslash, newline and double quote in HELP and label values.
function escape(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function number(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** Every family of `registry` (collect() runs as for any scrape) in the OpenMetrics text format, `# EOF` last. */
export async function renderOpenMetrics(registry: Registry): Promise<string> {
  const out: string[] = [];
  for (const family of await registry.getMetricsAsJSON()) {
    // the typings say an enum; prom-client's objects carry the type's name
    const type = family.type as unknown as string;
    const counter = type === 'counter';
    const name = counter ? family.name.replace(/_total$/, '') : family.name;
    out.push(`# HELP ${name} ${escape(family.help)}`, `# TYPE ${name} ${type}`);
    for (const v of family.values as Array<MetricValue<string> & { metricName?: string }>) {
      const sample = counter ? `${name}_total` : (v.metricName ?? name);
      const labels = Object.entries(v.labels).map(([k, lv]) => `${k}="${escape(typeof lv === 'number' ? number(lv) : String(lv))}"`);
      out.push(`${sample}${labels.length > 0 ? `{${labels.join(',')}}` : ''} ${number(v.value)}`);
    }
  }
  out.push('# EOF');
  return `${out.join('\n')}\n`;
}
