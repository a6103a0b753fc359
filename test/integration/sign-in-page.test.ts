// The sign-in page served by a whole gateway: its headers (strict CSP, no framing, no caching), the
// theme from gateway.yaml, messages only by fixed word, and a browser's form post that fails (wrong
// password, too many attempts, the credential check down) sent back to the page with the reason while
// JSON clients keep their error answers.
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { route, startTestGateway, type TestGateway } from '../support/gateway.js';
import { startSessionEnv, type SessionEnv } from '../support/session-gateway.js';

let env: SessionEnv;
let themed: TestGateway;
let down: TestGateway;
beforeAll(async () => {
  env = await startSessionEnv({ gateway: { login: { rateLimit: { perAddress: { max: 50, window: '1m' }, perUsername: { max: 2, window: '1m' } } } } });
  themed = await startTestGateway({
    routes: [route('public', '/public', 'http://127.0.0.1:9')],
    gateway: { pages: { productName: 'Acme <Portal>', logoUrl: '/static/logo.svg', colors: { primary: '#0a7d32', background: '#101418', text: '#eeeeee' } }, login: { password: false } },
  });
  // A credential check that refuses connections: sign-in is unavailable.
  down = await startTestGateway({ routes: [], gateway: { publicOrigins: ['http://app.example'], login: { verifyUrl: 'http://127.0.0.1:9/verify' } } });
});
afterAll(async () => {
  await env.close();
  await themed.stop();
  await down.stop();
});

const form = (gw: string, fields: Record<string, string>) =>
  request(`${gw}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://app.example' },
    body: new URLSearchParams(fields).toString(),
  });
const json = (gw: string, fields: Record<string, string>) =>
  request(`${gw}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'http://app.example' }, body: JSON.stringify(fields) });

describe('GET /auth/login', () => {
  it('answers HTML under a strict CSP that lets the form end at the public origins only', async () => {
    const res = await env.get('/auth/login?return=%2Fapp%2Forders', undefined, { accept: 'text/html' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['referrer-policy']).toBe('same-origin');
    expect(res.headers['content-security-policy']).toBe(
      "default-src 'none'; style-src 'self'; img-src 'self' https:; form-action 'self' http://app.example; frame-ancestors 'none'; base-uri 'none'",
    );
    expect(res.body).toContain('<form method="post" action="/auth/login">');
    expect(res.body).toContain('name="redirect" value="/app/orders"');
    expect(res.body).not.toContain('<script');
  });

  it('writes only a safe return path into the page', async () => {
    for (const ret of ['%2F%2Fevil.example', 'https%3A%2F%2Fevil.example%2F', 'javascript%3Aalert(1)']) {
      const res = await env.get(`/auth/login?return=${ret}`);
      expect(res.body).toContain('name="redirect" value="/"');
      expect(res.body).not.toContain('evil');
    }
  });

  it('shows a message chosen by a fixed word, never text from the URL', async () => {
    expect((await env.get('/auth/login?error=rate_limited')).body).toContain('role="alert">Too many sign-in attempts.');
    expect((await env.get('/auth/login?failed=1')).body).toContain('role="alert">Those credentials were not accepted.');
    expect((await env.get('/auth/login?error=signed_out')).body).toContain('role="status">You have signed out.</p>');
    const free = await env.get('/auth/login?error=Call+0800+to+unlock+your+account');
    expect(free.body).not.toContain('role="alert"');
    expect(free.body).not.toContain('0800');
  });

  it('is themed from gateway.yaml pages, and without login.password has no password form', async () => {
    const res = await request(`${themed.url}/auth/login`);
    const body = await res.body.text();
    expect(body).toContain('<span class="product-name">Acme &#60;Portal&#62;</span>');
    expect(body).toContain('<img class="logo" src="/static/logo.svg" alt="">');
    expect(body).not.toContain('<form');
    expect(body).toContain('No way to sign in is configured');
    const sheet = /href="([^"]+\.css)"/.exec(body)?.[1] as string;
    const css = await (await request(`${themed.url}${sheet}`)).body.text();
    expect(css).toContain('background:#101418;color:#eeeeee');
    expect(css).toContain('background:#0a7d32');
  });
});

describe('login.password: false', () => {
  it('turns password sign-in off everywhere, not only the form: POST /auth/login and /auth/token reach no credential check', async () => {
    const gw = await startTestGateway({ routes: [], gateway: { login: { verifyUrl: `${env.verifier.url}/verify`, password: false } } });
    try {
      const before = env.verifier.received.length;
      const json = JSON.stringify({ username: 'alice', password: 'pw-alice' });
      const login = await request(`${gw.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', origin: gw.url }, body: json });
      expect([login.statusCode, login.headers['set-cookie']]).toEqual([405, undefined]);
      await login.body.dump();
      const token = await request(`${gw.url}/auth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: json });
      expect(token.statusCode).toBe(404);
      await token.body.dump();
      expect(env.verifier.received.length).toBe(before);
    } finally {
      await gw.stop();
    }
  });
});

describe('a failed sign-in form', () => {
  it('goes back to the page with invalid_credentials, keeping the return path', async () => {
    const res = await form(env.gw.url, { username: 'alice', password: 'wrong', redirect: '/app/x' });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/auth/login?error=invalid_credentials&return=%2Fapp%2Fx');
  });

  it('goes back with rate_limited when there were too many attempts; JSON clients still get 429', async () => {
    for (let i = 0; i < 2; i++) await form(env.gw.url, { username: 'root', password: `guess-${i}` });
    const res = await form(env.gw.url, { username: 'root', password: 'guess-3', redirect: '/app' });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/auth/login?error=rate_limited&return=%2Fapp');
    const api = await json(env.gw.url, { username: 'root', password: 'guess-4' });
    expect(api.statusCode).toBe(429);
    expect(api.headers['retry-after']).toBeDefined();
    expect(await api.body.json()).toMatchObject({ error: 'rate_limited' });
  });

  it('goes back with unavailable when the credential check is down; JSON clients still get 502', async () => {
    const res = await form(down.url, { username: 'alice', password: 'pw-alice' });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/auth/login?error=unavailable&return=%2F');
    const api = await json(down.url, { username: 'alice', password: 'pw-alice' });
    expect(api.statusCode).toBe(502);
    expect(await api.body.json()).toMatchObject({ error: 'login_unavailable' });
  });
});
