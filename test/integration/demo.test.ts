// The shipped development setup (config/gateway.yaml, config/routes.yaml, demo/backend.ts) as a
// user runs it: the demo's credential check is not reachable through any route (it would be a
// password oracle beside the rate-limited sign-in), and the demo backend verifies the internal
// token as an upstream should: signature, issuer, audience and typ.
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCredentialCheck, listenOn, startDemoBackend } from '../../demo/backend.js';
import { startGateway, type Gateway } from '../../src/main.js';
import { freePort, startRedis, type RedisServer } from '../support/redis.js';

let dir: string;
let redis: RedisServer;
let demo: { server: Server; url: string };
let verify: { server: Server; url: string };
let checks = 0;
let gw: Gateway;
const ORIGIN = 'http://localhost:8080';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gw-demo-'));
  await mkdir(join(dir, 'config'));
  for (const f of ['gateway.yaml', 'routes.yaml']) await copyFile(join('config', f), join(dir, 'config', f));
  redis = await startRedis();
  verify = await listenOn(createCredentialCheck(), 0);
  verify.server.on('request', () => checks++);
  // The demo needs the gateway's JWKS URL and the gateway the demo's: the demo starts on a port
  // chosen first, after the gateway (which does not call it before a request).
  const demoPort = await freePort();
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  gw = await startGateway({
    configPath: join(dir, 'config', 'gateway.yaml'),
    env: { REDIS_URL: redis.url, DEMO_UPSTREAM: `http://127.0.0.1:${demoPort}`, LOGIN_VERIFY_URL: `${verify.url}/internal/verify-credentials` },
    listenPort: 0,
    adminPort: 0,
    watchRoutes: false,
    logDestination: sink,
  });
  demo = await startDemoBackend(demoPort, '127.0.0.1', { jwksUrl: `${gw.adminUrl}/.well-known/jwks.json`, issuer: 'https://gateway.internal' });
});
afterAll(async () => {
  await gw?.shutdown();
  await Promise.all([demo, verify].map((s) => new Promise((r) => s?.server.close(r))));
  await redis?.dispose();
  await rm(dir, { recursive: true, force: true });
});

async function json(path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  const res = await request(`${gw.url}${path}`, { method: (init.method ?? 'GET') as 'GET', headers: init.headers, body: init.body });
  return { status: res.statusCode, headers: res.headers, body: (await res.body.json()) as Record<string, unknown> };
}

async function signIn(username: string, password: string): Promise<string> {
  const res = await json('/auth/login', { method: 'POST', headers: { 'content-type': 'application/json', origin: ORIGIN }, body: JSON.stringify({ username, password }) });
  expect(res.status).toBe(200);
  return /^(gw-session=[^;]+)/.exec(String(res.headers['set-cookie']))?.[1] as string;
}

describe('the shipped demo', () => {
  it('never exposes the credential check through a route', async () => {
    const before = checks;
    for (const path of ['/demo/internal/verify-credentials', '/app/internal/verify-credentials', '/api/internal/verify-credentials']) {
      const res = await json(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: 'alice-password' }) });
      expect(res.body.sub).toBeUndefined();
    }
    expect(checks).toBe(before);
  });

  it('signs in through the credential check, and the backend verifies each route\'s token', async () => {
    const cookie = await signIn('admin', 'admin-password');
    for (const [path, aud] of [['/app/hello', 'demo'], ['/admin-area/x', 'demo-admin'], ['/api/orders', 'demo-api']]) {
      const res = await json(path as string, { headers: { cookie } });
      expect(res.status).toBe(200);
      expect(res.body.token).toMatchObject({ verified: true, header: { typ: 'gateway-internal+jwt' }, claims: { aud, sub: 'user-admin' } });
    }
  });

  it('describes a real application: public assets and webhook, an admin area by policy, an API that never redirects, a header-only part', async () => {
    expect((await json('/app/assets/site.css')).status).toBe(200);
    expect((await json('/app/page')).status).toBe(401);
    expect((await json('/app/hook', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(200);
    const alice = await signIn('alice', 'alice-password');
    const refused = await json('/admin-area/x', { headers: { cookie: alice } });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ error: 'forbidden', reason: 'role' });
    const browser = await request(`${gw.url}/api/orders`, { headers: { accept: 'text/html' } });
    await browser.body.dump();
    expect(browser.statusCode).toBe(401);
    const reports = await json('/reports/q1', { headers: { cookie: alice, 'remote-user': 'user-admin' } });
    const seen = (reports.body.received as { headers: Record<string, string> }).headers;
    expect(seen['remote-user']).toBe('user-alice');
    expect(seen['x-forwarded-groups']).toBe('user');
    expect(seen.authorization).toBeUndefined();
  });

  it('refuses an internal token for another audience, and a gateway access token (typ at+jwt)', async () => {
    const cookie = await signIn('admin', 'admin-password');
    const adminArea = await json('/admin-area/x', { headers: { cookie } });
    const internal = ((adminArea.body.received as { headers: Record<string, string> }).headers.authorization as string).slice(7);
    const tokens = await json('/auth/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: 'alice-password' }) });
    const accessToken = tokens.body.access_token as string;
    const strict = await startDemoBackend(0, '127.0.0.1', { jwksUrl: `${gw.adminUrl}/.well-known/jwks.json`, issuer: 'https://gateway.internal', audiences: ['demo', 'gateway'] });
    try {
      const ask = async (token: string) => {
        const res = await request(strict.url, { headers: { authorization: `Bearer ${token}` } });
        return ((await res.body.json()) as { token: { verified: boolean; error?: string } }).token;
      };
      expect(await ask(internal)).toMatchObject({ verified: false, error: expect.stringContaining('aud') });
      expect(await ask(accessToken)).toMatchObject({ verified: false, error: expect.stringContaining('typ') });
    } finally {
      await new Promise((r) => strict.server.close(r));
    }
  });
});
