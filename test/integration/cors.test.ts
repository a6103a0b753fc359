// CORS per route, at the protocol level (the browser's view is test/e2e/cors.test.ts): preflights
// answered by the gateway without credentials, refused with a reason for another origin, method or
// header; every answer of the route carries the headers, its own 401 included; the upstream's
// Access-Control-* headers never override the route's.
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { route, startTestGateway, type TestGateway } from '../support/gateway.js';
import { startIssuer, type TestIssuer } from '../support/issuer.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

let up: Upstream;
let idp: TestIssuer;
let gw: TestGateway;
const SPA = 'https://spa.example.com';
beforeAll(async () => {
  up = await startUpstream((req, res) => {
    req.resume();
    // An upstream with its own, wrong idea of CORS.
    res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*', 'access-control-allow-credentials': 'true', vary: 'Accept' });
    res.end(JSON.stringify({ method: req.method }));
  });
  idp = await startIssuer();
  gw = await startTestGateway({
    gateway: { issuers: [{ issuer: idp.issuer, jwksUrl: idp.jwksUrl, audiences: ['gateway'], algorithms: ['RS256'] }] },
    routes: [
      { ...route('api', '/api', up.url), auth: 'bearer', cors: { origins: [SPA, 'https://*.tenant.example.com'], methods: ['GET', 'POST'], exposeHeaders: ['x-request-id'], credentials: true, maxAge: '5m' } },
      route('plain', '/plain', up.url),
    ],
  });
});
afterAll(async () => {
  await gw?.stop();
  await up?.close();
  await idp?.close();
});

async function send(method: string, path: string, headers: Record<string, string>) {
  const res = await request(`${gw.url}${path}`, { method: method as 'GET', headers });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}
const preflight = (origin: string, method = 'GET', headers = 'authorization') =>
  send('OPTIONS', '/api/orders', { origin, 'access-control-request-method': method, 'access-control-request-headers': headers });

describe('CORS', () => {
  it('answers an allowed preflight itself, without credentials and without the upstream', async () => {
    const before = up.received.length;
    const res = await preflight(SPA, 'POST', 'Authorization, Content-Type');
    expect(res.status).toBe(204);
    expect(res.headers).toMatchObject({
      'access-control-allow-origin': SPA,
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'GET, POST',
      'access-control-allow-headers': 'authorization, content-type',
      'access-control-max-age': '300',
    });
    expect(String(res.headers.vary)).toContain('Origin');
    expect(up.received.length).toBe(before);
    expect((await preflight('https://a.tenant.example.com')).status).toBe(204);
  });

  it('refuses a preflight for another origin, method or header, saying which', async () => {
    for (const [origin, method, headers, reason] of [
      ['https://evil.example', 'GET', 'authorization', 'origin'],
      ['https://spa.example.com.evil.example', 'GET', 'authorization', 'origin'],
      ['https://tenant.example.com', 'GET', 'authorization', 'origin'],
      [SPA, 'DELETE', 'authorization', 'method'],
      [SPA, 'GET', 'x-admin', 'header'],
    ] as const) {
      const res = await preflight(origin, method, headers);
      expect(res.status, `${origin} ${method} ${headers}`).toBe(403);
      expect(JSON.parse(res.body)).toMatchObject({ error: 'cors_refused', reason });
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    }
  });

  it('lets the page read the gateway\'s own 401, and the upstream\'s CORS headers never override the route\'s', async () => {
    const unauth = await send('GET', '/api/orders', { origin: SPA });
    expect(unauth.status).toBe(401);
    expect(unauth.headers['access-control-allow-origin']).toBe(SPA);
    const token = await idp.sign({ sub: 'svc', aud: 'gateway' });
    const ok = await send('GET', '/api/orders', { origin: SPA, authorization: `Bearer ${token}` });
    expect(ok.status).toBe(200);
    expect(ok.headers).toMatchObject({ 'access-control-allow-origin': SPA, 'access-control-allow-credentials': 'true', 'access-control-expose-headers': 'x-request-id' });
    expect(ok.headers.vary).toBe('Accept, Origin');
    const other = await send('GET', '/api/orders', { origin: 'https://evil.example', authorization: `Bearer ${token}` });
    expect(other.status).toBe(200);
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    // A public route without cors: the upstream's headers pass as they are.
    const plain = await send('GET', '/plain/x', { origin: 'https://evil.example' });
    expect(plain.headers['access-control-allow-origin']).toBe('*');
  });

  it('refuses credentials with origin * at load', async () => {
    await expect(startTestGateway({ routes: [{ ...route('bad', '/bad', up.url), cors: { origins: ['*'], credentials: true } }] })).rejects.toThrow(/credentials with origin \*/);
  });
});
