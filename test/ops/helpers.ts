import parsePrometheusTextFormat, { type PromFamily, type PromSample } from 'parse-prometheus-text-format';
import { expect } from 'vitest';

/**
 * Parses an exposition with a Prometheus text-format parser (strict about
 * line syntax: it throws on a malformed line) into families by name.
 *
 * That parser folds a histogram's series into one unlabelled sample (its
 * flattenMetrics only handles unlabelled histograms), which loses `route`
 * and the rest. So the text is parsed twice: as is, for the families and
 * their types, and with each histogram declared untyped, which makes the
 * parser keep every `_bucket`, `_sum` and `_count` sample with its labels;
 * `sample()` then reassembles a histogram per label set.
 */
export function parseExposition(text: string): Map<string, PromFamily> {
  const byName = new Map<string, PromFamily>();
  for (const f of parsePrometheusTextFormat(text)) {
    expect(byName.has(f.name), `metric family ${f.name} appears once`).toBe(false);
    byName.set(f.name, f);
  }
  const histograms = [...byName.values()].filter((f) => f.type === 'HISTOGRAM').map((f) => f.name);
  if (histograms.length > 0) {
    const untyped = text.replace(/^# TYPE (\S+) histogram$/gm, '# TYPE $1 untyped');
    // Each label set's `_bucket` lines come back as a family of their own: gather them by name.
    const parts = new Map<string, PromSample[]>();
    for (const f of parsePrometheusTextFormat(untyped)) parts.set(f.name, [...(parts.get(f.name) ?? []), ...f.metrics]);
    for (const name of histograms) {
      byName.set(name, { ...byName.get(name)!, metrics: reassemble(name, parts) });
    }
  }
  return byName;
}

function reassemble(name: string, parts: Map<string, PromSample[]>): PromSample[] {
  const series = new Map<string, PromSample>();
  const keyOf = (labels: Record<string, string> = {}) => {
    const { le: _le, ...rest } = labels;
    return JSON.stringify(Object.entries(rest).sort());
  };
  const entry = (labels: Record<string, string> = {}) => {
    const key = keyOf(labels);
    const { le: _le, ...rest } = labels;
    if (!series.has(key)) series.set(key, { labels: rest, buckets: {} });
    return series.get(key)!;
  };
  for (const s of parts.get(`${name}_bucket`) ?? []) {
    expect(s.labels?.le, `${name}_bucket has an le label`).toBeDefined();
    entry(s.labels).buckets![s.labels!.le!] = s.value!;
  }
  for (const s of parts.get(`${name}_sum`) ?? []) entry(s.labels).sum = s.value!;
  for (const s of parts.get(`${name}_count`) ?? []) entry(s.labels).count = s.value!;
  for (const s of series.values()) {
    expect(s.buckets!['+Inf'], `${name} has a +Inf bucket`).toBe(s.count);
  }
  return [...series.values()];
}

/** The one sample of `name` whose labels include `labels`; fails when there is none or several. */
export function sample(
  families: Map<string, PromFamily>,
  name: string,
  labels: Record<string, string> = {},
): PromSample {
  const family = families.get(name);
  expect(family, `metric ${name} is exposed`).toBeDefined();
  const matches = family!.metrics.filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  expect(matches, `${name}${JSON.stringify(labels)} matches one sample`).toHaveLength(1);
  return matches[0]!;
}

/** A counter's or gauge's value as a number. */
export function value(families: Map<string, PromFamily>, name: string, labels: Record<string, string> = {}): number {
  const v = Number(sample(families, name, labels).value);
  expect(Number.isFinite(v), `${name} has a numeric value`).toBe(true);
  return v;
}

/** Fetches a URL on the ops server. */
export async function get(base: string, path: string): Promise<{ status: number; type: string | null; body: string }> {
  const res = await fetch(`${base}${path}`);
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
}
