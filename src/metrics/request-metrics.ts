// The metrics every proxied request updates: requests by route, method and status, the request and
// upstream-header durations by route, and the requests in flight. On the hot path they are plain
// numbers in per-route cells found once per route; prom-client reads them when /metrics is
// scraped. Through prom-client's own API each request paid five label validations and hashes (a
// counter, two histograms, the in-flight gauge up and down), ≈ 3% of the gateway's CPU per proxied
// request (bench/README.md); here it pays a Map lookup and a few additions.
//
// The counter and the gauge stay prom-client metrics, fed at scrape time by their collect()
// callbacks. prom-client has no way to add bucket counts to a histogram, so the two histograms are
// metric objects of our own in the shape its Registry reads (name, help, type, get, reset); the
// exposition format is still written by prom-client.
import { Counter, Gauge, type Metric, type Registry } from 'prom-client';

/** Upper bounds (seconds) of both duration histograms. */
export const DURATION_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** One histogram series: counts per bucket, sum and count. */
class Buckets {
  /** Per bucket (not cumulative), the last one for +Inf. */
  readonly counts = new Float64Array(DURATION_BUCKETS.length + 1);
  sum = 0;
  count = 0;
  observe(v: number): void {
    if (!Number.isFinite(v)) return;
    let i = 0;
    while (i < DURATION_BUCKETS.length && v > (DURATION_BUCKETS[i] as number)) i++;
    (this.counts[i] as number)++;
    this.sum += v;
    this.count++;
  }
}

/** One route's figures. Found once per request through RequestMetrics.route(). */
export class RouteCell {
  /** Requests by `${method} ${status}`. */
  readonly counts = new Map<string, number>();
  readonly duration = new Buckets();
  readonly upstream = new Buckets();
  constructor(readonly route: string) {}

  /** Records one finished request; upstreamSeconds is undefined when no upstream answered. */
  record(method: string, status: number, seconds: number, upstreamSeconds: number | undefined): void {
    const key = `${method} ${status}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    this.duration.observe(seconds);
    if (upstreamSeconds !== undefined) this.upstream.observe(upstreamSeconds);
  }
}


export class RequestMetrics {
  private readonly cells = new Map<string, RouteCell>();
  /** Requests being handled now. */
  inFlight = 0;

  constructor(registry: Registry) {
    const cells = this.cells;
    new Counter({
      name: 'gateway_requests_total',
      help: 'Requests answered, by route, method and status code.',
      labelNames: ['route', 'method', 'status'] as const,
      registers: [registry],
      // The totals are set afresh on each scrape: nothing to keep in step with prom-client's copy.
      collect() {
        this.reset();
        for (const cell of cells.values()) {
          for (const [key, n] of cell.counts) {
            const space = key.indexOf(' ');
            this.inc({ route: cell.route, method: key.slice(0, space), status: key.slice(space + 1) }, n);
          }
        }
      },
    });
    const inFlight = (): number => this.inFlight;
    new Gauge({
      name: 'gateway_requests_in_flight',
      help: 'Requests being handled now.',
      registers: [registry],
      collect() {
        this.set(inFlight());
      },
    });
    registry.registerMetric(
      histogram('gateway_request_duration_seconds', 'Time from request received to response finished, by route.', cells, (c) => c.duration),
    );
    registry.registerMetric(
      histogram('gateway_upstream_headers_duration_seconds', 'Time from request received to the upstream response headers, by route.', cells, (c) => c.upstream),
    );
  }

  /** The cell of a route label (route name, `gateway:<endpoint>` or the no-route label). */
  route(label: string): RouteCell {
    let cell = this.cells.get(label);
    if (!cell) this.cells.set(label, (cell = new RouteCell(label)));
    return cell;
  }
}

/** A histogram by route in the shape prom-client's Registry reads and formats. */
function histogram(name: string, help: string, cells: Map<string, RouteCell>, pick: (c: RouteCell) => Buckets): Metric {
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get() {
      const values: { value: number; labels: Record<string, string | number>; metricName: string }[] = [];
      for (const cell of cells.values()) {
        const b = pick(cell);
        if (b.count === 0) continue;
        let acc = 0;
        DURATION_BUCKETS.forEach((le, i) => {
          acc += b.counts[i] as number;
          values.push({ value: acc, labels: { le, route: cell.route }, metricName: `${name}_bucket` });
        });
        values.push(
          { value: b.count, labels: { le: '+Inf', route: cell.route }, metricName: `${name}_bucket` },
          { value: b.sum, labels: { route: cell.route }, metricName: `${name}_sum` },
          { value: b.count, labels: { route: cell.route }, metricName: `${name}_count` },
        );
      }
      return Promise.resolve({ name, help, type: 'histogram', values, aggregator: 'sum' });
    },
    // Registry.resetMetrics() calls it; the gateway itself never resets its metrics.
    reset() {
      for (const cell of cells.values()) {
        const b = pick(cell);
        b.counts.fill(0);
        b.sum = 0;
        b.count = 0;
      }
    },
  };
  // The Registry only calls these members; its TypeScript type names prom-client's own classes.
  return metric as unknown as Metric;
}
