// The admin listener: metrics, health and readiness, apart from the public listener.
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { route, startTestGateway, type TestGateway } from '../support/gateway.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

let up: Upstream;
let gw: TestGateway;

beforeAll(async () => {
  up = await startUpstream();
  // A catch-all route: the public listener must send /metrics upstream, never answer it itself.
  gw = await startTestGateway({ routes: [route('catchall', '/', up.url)] });
});
afterAll(async () => {
  await gw.stop();
  await up.close();
});

describe('admin listener', () => {
  it('serves /healthz and /readyz', async () => {
    const h = await request(`${gw.adminUrl}/healthz`);
    expect(h.statusCode).toBe(200);
    expect(await h.body.json()).toEqual({ status: 'alive' });
    const r = await request(`${gw.adminUrl}/readyz`);
    expect(r.statusCode).toBe(200);
    expect(await r.body.json()).toEqual({ status: 'ready', checks: { config: { ok: true }, lifecycle: { ok: true } } });
  });

  it('serves Prometheus metrics labelled by route name, never by raw path or client value', async () => {
    await (await request(`${gw.url}/users/12345/secret-token-abc?token=xyz`, { headers: { 'x-user': 'mallory' } })).body.dump();
    const res = await request(`${gw.adminUrl}/metrics`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    const text = await res.body.text();
    expect(text).toContain('gateway_requests_total{route="catchall",method="GET",status="200"}');
    expect(text).toMatch(/gateway_request_duration_seconds_bucket\{le="0\.001",route="catchall"\}/);
    expect(text).toContain('process_resident_memory_bytes');
    expect(text).toContain('gateway_routes 1');
    expect(text).toContain('gateway_log_lines_dropped_total 0');
    for (const leaked of ['12345', 'secret-token-abc', 'xyz', 'mallory']) expect(text).not.toContain(leaked);
  });

  it('labels unknown methods OTHER', async () => {
    await (await request(`${gw.url}/x`, { method: 'PROPFIND' })).body.dump();
    const text = await gw.registry.getSingleMetricAsString('gateway_requests_total');
    expect(text).toContain('method="OTHER"');
    expect(text).not.toContain('PROPFIND');
  });

  it('is not reachable through the public listener', async () => {
    const before = up.received.length;
    for (const path of ['/metrics', '/healthz', '/readyz']) {
      const res = await request(`${gw.url}${path}`);
      const body = (await res.body.json()) as { url?: string };
      expect(body.url).toBe(path);
    }
    expect(up.received.length).toBe(before + 3);
  });

  it('answers unknown admin paths with the JSON error body', async () => {
    const res = await request(`${gw.adminUrl}/nope`);
    expect(res.statusCode).toBe(404);
    expect(await res.body.json()).toMatchObject({ error: 'route_not_found' });
  });

  it('writes one access-log line per request with no cookie, token or query in it', async () => {
    gw.logs.length = 0;
    await (
      await request(`${gw.url}/login?access_token=sekrit-qs`, {
        headers: { cookie: 'session=sekrit-cookie', authorization: 'Bearer sekrit-bearer' },
      })
    ).body.dump();
    const lines = gw.logs.filter((l) => l.msg === 'request');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ route: 'catchall', method: 'GET', path: '/login', status: 200, upstream: up.url });
    expect(lines[0]?.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(typeof lines[0]?.durationMs).toBe('number');
    expect(JSON.stringify(gw.logs)).not.toMatch(/sekrit/);
  });
});
