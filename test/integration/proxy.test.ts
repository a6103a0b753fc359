// The proxy path end to end: real upstreams on port 0, a real gateway, real sockets.
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { route, startTestGateway, type TestGateway } from '../support/gateway.js';
import { rawGet } from '../support/raw.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

let orders: Upstream;
let admin: Upstream;
let root: Upstream;
let redirector: Upstream;
let gw: TestGateway;

beforeAll(async () => {
  orders = await startUpstream();
  admin = await startUpstream();
  root = await startUpstream();
  redirector = await startUpstream((req, res) => {
    req.resume();
    res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere', 'set-cookie': ['a=1; Path=/', 'b=2; Path=/'] });
    res.end();
  });
  gw = await startTestGateway({
    routes: [
      route('root', '/', root.url),
      route('orders', '/api/orders', orders.url, { match: { methods: ['GET', 'POST'] } }),
      route('admin', '/admin', admin.url),
      route('stripped', '/svc', orders.url + '/base', { upstream: { stripPrefix: true } }),
      route('redirect', '/redirect', redirector.url),
      route('hosted', '/', admin.url, { match: { host: 'admin.example.com' } }),
    ],
    gateway: { trustedProxies: ['10.0.0.0/8'], identityHeaders: ['X-Tenant-Admin'] },
  });
});

afterAll(async () => {
  await gw.stop();
  await Promise.all([orders, admin, root, redirector].map((u) => u.close()));
});

const last = (u: Upstream) => u.received[u.received.length - 1];

describe('routing', () => {
  it('forwards a matched request and returns the upstream answer with a request id', async () => {
    const res = await request(`${gw.url}/api/orders/1?x=1`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-upstream']).toBe('yes');
    const id = res.headers['x-request-id'] as string;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const body = (await res.body.json()) as { url: string; headers: Record<string, string> };
    expect(body.url).toBe('/api/orders/1?x=1');
    expect(body.headers['x-request-id']).toBe(id);
  });

  it('answers 404 with the JSON error body when nothing matches', async () => {
    const gw2 = await startTestGateway({ routes: [route('only', '/only', orders.url)] });
    try {
      const res = await request(`${gw2.url}/other`);
      expect(res.statusCode).toBe(404);
      expect(res.headers['x-gateway-error']).toBe('route_not_found');
      const body = (await res.body.json()) as Record<string, string>;
      expect(body).toEqual({ error: 'route_not_found', message: expect.any(String), requestId: res.headers['x-request-id'] });
    } finally {
      await gw2.stop();
    }
  });

  it('matches path prefixes on segment boundaries only', async () => {
    const before = orders.received.length;
    const res = await request(`${gw.url}/api/ordersX`);
    await res.body.dump();
    expect(orders.received.length).toBe(before);
    expect(last(root)?.url).toBe('/api/ordersX');
  });

  it('answers 405 with Allow when the route refuses the method and no other route takes it', async () => {
    const gw2 = await startTestGateway({ routes: [route('ro', '/ro', orders.url, { match: { methods: ['GET'] } })] });
    try {
      const res = await request(`${gw2.url}/ro/1`, { method: 'DELETE' });
      expect(res.statusCode).toBe(405);
      expect(res.headers.allow).toBe('GET, HEAD');
      await res.body.dump();
    } finally {
      await gw2.stop();
    }
  });

  it('prefers the most specific host', async () => {
    const res = await request(`${gw.url}/api/orders/1`, { headers: { host: 'ADMIN.example.com:8080' } });
    await res.body.dump();
    expect(last(admin)?.url).toBe('/api/orders/1');
  });

  it('strips the prefix and prepends the upstream base path when asked', async () => {
    const res = await request(`${gw.url}/svc/items/7?q=a`);
    const body = (await res.body.json()) as { url: string };
    expect(body.url).toBe('/base/items/7?q=a');
  });

  it('passes redirects back instead of following them', async () => {
    const res = await request(`${gw.url}/redirect`);
    expect(res.statusCode).toBe(302);
    expect(res.headers.location).toBe('http://127.0.0.1:1/elsewhere');
    expect(res.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    await res.body.dump();
  });
});

describe('path normalization never reaches another route (security)', () => {
  it.each([
    ['/api/orders/../../admin/secret', '/admin/secret'],
    ['/api/orders/%2e%2e/%2e%2e/admin/secret', '/admin/secret'],
    ['/api/orders/..\\..\\admin/secret', '/admin/secret'],
    ['//admin//secret', '/admin/secret'],
  ])('%s goes to the route of %s, which receives that path', async (target, normalized) => {
    const beforeOrders = orders.received.length;
    const res = await rawGet(gw.url, target);
    expect(res.status).toBe(200);
    expect(last(admin)?.url).toBe(normalized);
    expect(orders.received.length).toBe(beforeOrders);
  });

  it.each([
    '/api/orders/..;/admin/secret',
    '/api/orders/%2e%2e%2fadmin',
    '/api/orders/%252e%252e/admin',
    '/api/orders/%00',
    '/api/orders/%c0%ae%c0%ae/admin',
  ])('%s is refused with 400 bad_path and forwarded nowhere', async (target) => {
    const counts = [orders, admin, root].map((u) => u.received.length);
    const res = await rawGet(gw.url, target);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'bad_path' });
    expect([orders, admin, root].map((u) => u.received.length)).toEqual(counts);
  });
});

describe('headers', () => {
  it('strips hop-by-hop, Connection-named and identity headers; sets X-Forwarded-* for an untrusted peer', async () => {
    const res = await rawGet(gw.url, '/api/orders/h', {
      'X-Forwarded-For': '6.6.6.6',
      'X-Forwarded-Proto': 'https',
      'X-Forwarded-Host': 'evil.example',
      Forwarded: 'for=6.6.6.6',
      'X-Real-IP': '6.6.6.6',
      'X-User': 'admin',
      'X-Forwarded-User': 'admin',
      'X-Auth-Request-Email': 'admin@example.com',
      'X-Tenant-Admin': 'yes',
      'Keep-Alive': 'timeout=5',
      'Proxy-Authorization': 'Basic Zm9vOmJhcg==',
      TE: 'trailers',
      'X-Secret-Hop': 'drop me',
      'X-Keep': 'keep me',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      'X-Request-Id': 'client-id-123',
    }).then(async (r) => r);
    expect(res.status).toBe(200);
    const h = last(orders)?.headers ?? {};
    for (const name of [
      'forwarded',
      'x-real-ip',
      'x-user',
      'x-forwarded-user',
      'x-auth-request-email',
      'x-tenant-admin',
      'keep-alive',
      'proxy-authorization',
      'te',
    ]) {
      expect(h[name], name).toBeUndefined();
    }
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-host']).toBe(new URL(gw.url).host);
    expect(h['x-keep']).toBe('keep me');
    expect(h.traceparent).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    expect(h['x-request-id']).toBe('client-id-123');
    expect(res.headers['x-request-id']).toBe('client-id-123');
    expect(h.host).toBe(new URL(orders.url).host);
  });

  it('removes headers the client names in Connection', async () => {
    await rawGet(gw.url, '/api/orders/c', { Connection: 'close, X-Secret-Hop', 'X-Secret-Hop': 'drop me' });
    expect(last(orders)?.headers['x-secret-hop']).toBeUndefined();
  });

  it('replaces a malformed X-Request-Id with a generated one', async () => {
    const res = await rawGet(gw.url, '/api/orders/r', { 'X-Request-Id': 'bad id\twith spaces' });
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(last(orders)?.headers['x-request-id']).toBe(res.headers['x-request-id']);
  });

  it('keeps duplicate request headers apart and in order', async () => {
    await rawGet(gw.url, '/api/orders/d', { 'X-Multi': 'one', 'x-multi': 'two' });
    const raw = last(orders)?.rawHeaders ?? [];
    const values = raw.filter((_, i) => i % 2 === 1 && raw[i - 1]?.toLowerCase() === 'x-multi');
    expect(values).toEqual(['one', 'two']);
  });

  it('removes hop-by-hop and Connection-named headers from responses', async () => {
    const up = await startUpstream((req, res) => {
      req.resume();
      res.writeHead(200, { connection: 'keep-alive, x-hop', 'x-hop': 'secret', 'keep-alive': 'timeout=1', 'x-ok': '1' });
      res.end('ok');
    });
    const g = await startTestGateway({ routes: [route('hop', '/', up.url)] });
    try {
      const res = await rawGet(g.url, '/');
      expect(res.headers['x-hop']).toBeUndefined();
      expect(res.headers['keep-alive']).toBeUndefined();
      expect(res.headers['x-ok']).toBe('1');
    } finally {
      await g.stop();
      await up.close();
    }
  });
});

describe('trusted proxies', () => {
  it('believes X-Forwarded-* only from a trusted peer and finds the client hop', async () => {
    const up = await startUpstream();
    const g = await startTestGateway({ routes: [route('t', '/', up.url)], gateway: { trustedProxies: ['127.0.0.0/8', '10.0.0.0/8'] } });
    try {
      await rawGet(g.url, '/t', { 'X-Forwarded-For': '203.0.113.9, 10.1.2.3', 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'app.example.com' });
      const h = last(up)?.headers ?? {};
      expect(h['x-forwarded-for']).toBe('203.0.113.9, 10.1.2.3, 127.0.0.1');
      expect(h['x-forwarded-proto']).toBe('https');
      expect(h['x-forwarded-host']).toBe('app.example.com');
      const access = g.logs.find((l) => l.msg === 'request');
      expect(access?.client).toBe('203.0.113.9');
    } finally {
      await g.stop();
      await up.close();
    }
  });
});
