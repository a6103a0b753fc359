// Counters and histograms updated on every request, kept as plain numbers and handed to prom-client
// only when /metrics is scraped. Through prom-client's own API, each update validates and hashes
// its labels (and labels() builds a child object): a counter and two histograms per request cost
// ≈ 1.9 µs against ≈ 0.2–0.3 µs here (bench/README.md), and the authenticated paths add two or three
// more such updates per request.
//
// prom-client still writes the exposition. A HotCounter is a prom-client Counter whose collect()
// sets the totals at scrape time. prom-client has no way to add bucket counts to a histogram, so a
// HotHistogram is a metric object of our own in the shape its Registry reads (name, help, type,
// get, reset), with the same series, labels and values a prom-client Histogram would expose. Both
// expose their labelNames, as prom-client's metrics do, on themselves and on the object the Registry
// holds (registry.getSingleMetric(name).labelNames); they are read only at setup and by tests.
import { Counter, type Metric, type Registry } from 'prom-client';

interface Config<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
}

/** One series of a HotCounter. */
export class CounterSeries {
  value = 0;
  constructor(readonly labels: Readonly<Record<string, string>>) {}
  inc(n = 1): void {
    this.value += n;
  }
}

/** One series of a HotHistogram. */
export class HistogramSeries {
  /** Per bucket (not cumulative), the last one for +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }
  observe(v: number): void {
    if (!Number.isFinite(v)) return;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && v > (bounds[i] as number)) i++;
    (this.counts[i] as number)++;
    this.sum += v;
    this.count++;
  }
}

/** Series by label values, created on first use. Label values are few and fixed (never client values). */
class SeriesMap<S> {
  readonly all = new Map<string, S>();
  constructor(
    private readonly labelNames: readonly string[],
    private readonly create: (labels: Record<string, string>) => S,
  ) {}
  get(values: readonly string[]): S {
    const key = values.length === 1 ? (values[0] as string) : values.join('\u0000');
    let s = this.all.get(key);
    if (s === undefined) {
      if (values.length !== this.labelNames.length) throw new Error(`expected ${this.labelNames.length} label values, got ${values.length}`);
      const labels: Record<string, string> = {};
      this.labelNames.forEach((name, i) => (labels[name] = values[i] as string));
      this.all.set(key, (s = this.create(labels)));
    }
    return s;
  }
}

export class HotCounter<L extends string = string> {
  /** The label names, in the order labels() takes their values. */
  readonly labelNames: readonly L[];
  private readonly series: SeriesMap<CounterSeries>;

  constructor(registry: Registry, config: Config<L>) {
    const labelNames = (this.labelNames = Object.freeze([...config.labelNames]));
    const series = (this.series = new SeriesMap(labelNames, (labels) => new CounterSeries(labels)));
    new Counter({
      name: config.name,
      help: config.help,
      labelNames,
      registers: [registry],
      // The totals are set afresh on each scrape: nothing to keep in step with prom-client's copy.
      collect() {
        this.reset();
        for (const s of series.all.values()) if (s.value > 0) this.inc(s.labels as Partial<Record<L, string>>, s.value);
      },
    });
  }

  /** The series for these label values, in labelNames order. */
  labels(...values: string[]): CounterSeries {
    return this.series.get(values);
  }
}

export class HotHistogram<L extends string = string> {
  /** The label names, in the order labels() takes their values. */
  readonly labelNames: readonly L[];
  private readonly series: SeriesMap<HistogramSeries>;

  constructor(registry: Registry, config: Config<L> & { readonly buckets: readonly number[] }) {
    const labelNames = (this.labelNames = Object.freeze([...config.labelNames]));
    const bounds = [...config.buckets].sort((a, b) => a - b);
    const series = (this.series = new SeriesMap(labelNames, (labels) => new HistogramSeries(labels, bounds)));
    registry.registerMetric(histogramMetric(config.name, config.help, labelNames, bounds, series));
  }

  /** The series for these label values, in labelNames order. */
  labels(...values: string[]): HistogramSeries {
    return this.series.get(values);
  }
}

function histogramMetric(name: string, help: string, labelNames: readonly string[], bounds: readonly number[], series: SeriesMap<HistogramSeries>): Metric {
  const metric = {
    name,
    help,
    labelNames,
    type: 'histogram',
    aggregator: 'sum',
    get() {
      const values: { value: number; labels: Record<string, string | number>; metricName: string }[] = [];
      for (const s of series.all.values()) {
        if (s.count === 0) continue;
        let acc = 0;
        bounds.forEach((le, i) => {
          acc += s.counts[i] as number;
          values.push({ value: acc, labels: { le, ...s.labels }, metricName: `${name}_bucket` });
        });
        values.push(
          { value: s.count, labels: { le: '+Inf', ...s.labels }, metricName: `${name}_bucket` },
          { value: s.sum, labels: s.labels, metricName: `${name}_sum` },
          { value: s.count, labels: s.labels, metricName: `${name}_count` },
        );
      }
      return Promise.resolve({ name, help, type: 'histogram', values, aggregator: 'sum' });
    },
    // Registry.resetMetrics() calls it; the gateway itself never resets its metrics.
    reset() {
      for (const s of series.all.values()) {
        s.counts.fill(0);
        s.sum = 0;
        s.count = 0;
      }
    },
  };
  // The Registry only calls these members; its TypeScript type names prom-client's own classes.
  return metric as unknown as Metric;
}
