// Metrics kept as plain numbers (hot.ts, request-metrics.ts) must expose exactly what prom-client's own Counter,
// Histogram and Gauge would have exposed for the same updates; the dropped-log-lines counter follows the log stream.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { HotCounter, HotHistogram } from '../../src/metrics/hot.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { DURATION_BUCKETS, RequestMetrics } from '../../src/metrics/request-metrics.js';

type Req = [route: string, method: string, status: number, seconds: number, upstream: number | undefined, protocol: string];

const requests: Req[] = [
  ['app', 'GET', 200, 0.0004, 0.0003, 'HTTP/1.1'],
  ['app', 'GET', 200, 0.001, 0.001, 'HTTP/2'], // on a bucket's bound: counted in that bucket (le is inclusive)
  ['app', 'POST', 403, 0.0123, undefined, 'HTTP/1.1'],
  ['public', 'GET', 200, 0.7, 0.69, 'HTTP/2'],
  ['public', 'GET', 502, 31, 31, 'HTTP/1.1'], // beyond the last bound: only +Inf
  ['gateway:/auth/login', 'OTHER', 499, 2.5, undefined, 'HTTP/1.0'],
];

/** The same requests through prom-client's own metrics, as the gateway recorded them before. */
async function reference(inFlight: number): Promise<string> {
  const registry = new Registry();
  const registers = [registry];
  const counter = new Counter({ name: 'gateway_requests_total', help: 'Requests answered, by route, method and status code.', labelNames: ['route', 'method', 'status'], registers });
  const duration = new Histogram({ name: 'gateway_request_duration_seconds', help: 'Time from request received to response finished, by route.', labelNames: ['route'], buckets: [...DURATION_BUCKETS], registers });
  const upstream = new Histogram({ name: 'gateway_upstream_headers_duration_seconds', help: 'Time from request received to the upstream response headers, by route.', labelNames: ['route'], buckets: [...DURATION_BUCKETS], registers });
  const protocols = new Counter({ name: 'gateway_requests_by_protocol_total', help: 'Requests answered, by protocol (HTTP/1.1, HTTP/2, HTTP/1.0).', labelNames: ['protocol'], registers });
  const gauge = new Gauge({ name: 'gateway_requests_in_flight', help: 'Requests being handled now.', registers });
  for (const [route, method, status, seconds, up, protocol] of requests) {
    protocols.labels(protocol).inc();
    counter.labels(route, method, String(status)).inc();
    duration.labels(route).observe(seconds);
    if (up !== undefined) upstream.labels(route).observe(up);
  }
  gauge.set(inFlight);
  return registry.metrics();
}

function sorted(text: string): string[] {
  return text.split('\n').filter(Boolean).sort();
}

describe('request metrics', () => {
  it('exposes the same series and values as prom-client metrics fed the same requests', async () => {
    const registry = new Registry();
    const m = new RequestMetrics(registry);
    for (const [route, method, status, seconds, up, protocol] of requests) m.record(route, method, status, seconds, up, protocol);
    m.inFlight = 3;
    expect(sorted(await registry.metrics())).toEqual(sorted(await reference(3)));
  });

  it('reports running totals across scrapes', async () => {
    const registry = new Registry();
    const m = new RequestMetrics(registry);
    m.record('app', 'GET', 200, 0.002, 0.001, 'HTTP/1.1');
    await registry.metrics();
    m.record('app', 'GET', 200, 0.003, 0.001, 'HTTP/1.1');
    const text = await registry.metrics();
    expect(text).toContain('gateway_requests_total{route="app",method="GET",status="200"} 2');
    expect(text).toContain('gateway_request_duration_seconds_count{route="app"} 2');
    expect(text).toContain('gateway_request_duration_seconds_bucket{le="0.0025",route="app"} 1');
  });

});

describe('hot metrics', () => {
  it('match prom-client for several labels and values outside every bucket', async () => {
    const buckets = [0.001, 0.1, 0.5];
    const observations: [string, string, number][] = [['get', 'ok', 0.0001], ['get', 'ok', 0.5], ['set', 'error', 7], ['get', 'ok', 0.2]];
    const mine = new Registry();
    const counter = new HotCounter(mine, { name: 'c_total', help: 'c', labelNames: ['op', 'result'] });
    const histogram = new HotHistogram(mine, { name: 'h_seconds', help: 'h', labelNames: ['op', 'result'], buckets });
    const theirs = new Registry();
    const refCounter = new Counter({ name: 'c_total', help: 'c', labelNames: ['op', 'result'], registers: [theirs] });
    const refHistogram = new Histogram({ name: 'h_seconds', help: 'h', labelNames: ['op', 'result'], buckets, registers: [theirs] });
    for (const [op, result, v] of observations) {
      counter.labels(op, result).inc();
      histogram.labels(op, result).observe(v);
      refCounter.labels(op, result).inc();
      refHistogram.labels(op, result).observe(v);
    }
    counter.labels('set', 'error').inc(4);
    refCounter.labels('set', 'error').inc(4);
    expect(sorted(await mine.metrics())).toEqual(sorted(await theirs.metrics()));
  });

  it('refuses the wrong number of label values', () => {
    const counter = new HotCounter(new Registry(), { name: 'c_total', help: 'c', labelNames: ['op', 'result'] });
    expect(() => counter.labels('get')).toThrow(/label values/);
  });
});

describe('log lines dropped', () => {
  it('reports the log stream running total at each scrape', async () => {
    let dropped = 0;
    const registry = new Registry();
    createMetrics(registry, { defaultMetrics: false, logLinesDropped: () => dropped });
    expect(await registry.getSingleMetricAsString('gateway_log_lines_dropped_total')).toContain('gateway_log_lines_dropped_total 0');
    dropped = 7;
    expect(await registry.getSingleMetricAsString('gateway_log_lines_dropped_total')).toContain('gateway_log_lines_dropped_total 7');
    dropped = 9;
    expect(await registry.getSingleMetricAsString('gateway_log_lines_dropped_total')).toContain('gateway_log_lines_dropped_total 9');
  });
});
