// The metrics every request updates: requests by route, method and status, the request and
// upstream-header durations by route, and the requests in flight. The series are hot metrics
// (hot.ts): a request costs three Map lookups and a few additions.
import { Gauge, type Registry } from 'prom-client';
import { HotCounter, HotHistogram } from './hot.js';

/** Upper bounds (seconds) of both duration histograms. */
export const DURATION_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class RequestMetrics {
  private readonly requests: HotCounter;
  private readonly duration: HotHistogram;
  private readonly upstream: HotHistogram;
  private readonly protocols: HotCounter;
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
    this.protocols = new HotCounter(registry, {
      name: 'gateway_requests_by_protocol_total',
      help: 'Requests answered, by protocol (HTTP/1.1, HTTP/2, HTTP/1.0).',
      labelNames: ['protocol'],
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

  /**
   * Records one finished request. `route` is a route name, `gateway:<endpoint>` or the no-route
   * label; upstreamSeconds is undefined when no upstream answered.
   */
  record(route: string, method: string, status: number, seconds: number, upstreamSeconds: number | undefined, protocol: string): void {
    this.protocols.labels(protocol).inc();
    this.requests.labels(route, method, String(status)).inc();
    this.duration.labels(route).observe(seconds);
    if (upstreamSeconds !== undefined) this.upstream.labels(route).observe(upstreamSeconds);
  }
}
