// The metrics every request updates: requests by route, method and status, the request and
// upstream-header durations by route, and the requests in flight. The series are hot metrics
// (hot.ts), and each route's are found once per request through one Map lookup.
import { Gauge, type Registry } from 'prom-client';
import type { CounterSeries, HistogramSeries} from './hot.js';
import { HotCounter, HotHistogram } from './hot.js';

/** Upper bounds (seconds) of both duration histograms. */
export const DURATION_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** One route's series. */
export class RouteCell {
  /** Requests by `${method} ${status}`. */
  private readonly byMethodStatus = new Map<string, CounterSeries>();
  constructor(
    private readonly route: string,
    private readonly requests: HotCounter,
    private readonly duration: HistogramSeries,
    private readonly upstream: HistogramSeries,
  ) {}

  /** Records one finished request; upstreamSeconds is undefined when no upstream answered. */
  record(method: string, status: number, seconds: number, upstreamSeconds: number | undefined): void {
    const key = `${method} ${status}`;
    let counter = this.byMethodStatus.get(key);
    if (counter === undefined) this.byMethodStatus.set(key, (counter = this.requests.labels(this.route, method, String(status))));
    counter.value++;
    this.duration.observe(seconds);
    if (upstreamSeconds !== undefined) this.upstream.observe(upstreamSeconds);
  }
}

export class RequestMetrics {
  private readonly cells = new Map<string, RouteCell>();
  private readonly requests: HotCounter;
  private readonly duration: HotHistogram;
  private readonly upstream: HotHistogram;
  /** Requests being handled now. */
  inFlight = 0;

  constructor(registry: Registry) {
    this.requests = new HotCounter(registry, {
      name: 'gateway_requests_total',
      help: 'Requests answered, by route, method and status code.',
      labelNames: ['route', 'method', 'status'],
    });
    this.duration = new HotHistogram(registry, {
      name: 'gateway_request_duration_seconds',
      help: 'Time from request received to response finished, by route.',
      labelNames: ['route'],
      buckets: DURATION_BUCKETS,
    });
    this.upstream = new HotHistogram(registry, {
      name: 'gateway_upstream_headers_duration_seconds',
      help: 'Time from request received to the upstream response headers, by route.',
      labelNames: ['route'],
      buckets: DURATION_BUCKETS,
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
  }

  /** The cell of a route label (route name, `gateway:<endpoint>` or the no-route label). */
  route(label: string): RouteCell {
    let cell = this.cells.get(label);
    if (!cell) this.cells.set(label, (cell = new RouteCell(label, this.requests, this.duration.labels(label), this.upstream.labels(label))));
    return cell;
  }
}
