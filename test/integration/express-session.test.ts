// express-session compatibility: a real Express app with express-session and connect-redis signs a
// user in; the gateway serves that browser's cookie; the moment the Express app logs the user out
// (req.session.destroy()), the gateway stops serving it.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RedisStore } from 'connect-redis';
import express from 'express';
import session from 'express-session';
import { decodeJwt } from 'jose';
import { createClient } from 'redis';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { route, startTestGateway, type TestGateway } from '../support/gateway.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { echo, startUpstream, type Upstream } from '../support/upstream.js';

let redis: RedisServer;
let nodeRedis: ReturnType<typeof createClient>;
let app: Server;
let appUrl: string;
let up: Upstream;
let gw: TestGateway;

declare module 'express-session' {
  interface SessionData {
    user: { id: string; email: string; roles: string[] };
  }
}

beforeAll(async () => {
  redis = await startRedis();
  nodeRedis = createClient({ url: redis.url });
  await nodeRedis.connect();
  const ex = express();
  ex.use(
    session({
      store: new RedisStore({ client: nodeRedis }),
      // The app rotated its secret: new cookies use the first, old ones still verify with the second.
      secret: ['current-secret', 'old-secret'],
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: 60_000 },
    }),
  );
  ex.post('/login', (req, res) => {
    req.session.user = { id: 'legacy-42', email: 'legacy@example.com', roles: ['user'] };
    res.json({ ok: true });
  });
  ex.post('/logout', (req, res) => {
    req.session.destroy(() => res.json({ ok: true }));
  });
  app = ex.listen(0, '127.0.0.1');
  await new Promise((r) => app.once('listening', r));
  appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  up = await startUpstream((req, res, rec) => {
    if (req.url?.endsWith('/set-cookies')) {
      req.resume();
      res.writeHead(200, { 'set-cookie': ['connect.sid=planted; Path=/', 'gw-session=planted; Path=/', '__Secure-refresh=planted; Path=/', 'app=1; Path=/'] }).end('ok');
      return;
    }
    echo(req, res, rec);
  });
  gw = await startTestGateway({
    routes: [
      { ...route('api', '/api', up.url), auth: 'session', token: { audience: 'api', claims: ['email', 'roles'] } },
      { ...route('strict', '/strict', up.url), auth: 'session', csrf: 'token' },
      route('open', '/open', up.url),
    ],
    gateway: {
      redis: { url: redis.url },
      session: {
        store: 'redis',
        format: 'express-session',
        cacheTtl: '30s',
        expressSession: { secrets: ['current-secret', 'old-secret'], subject: 'user.id', claims: { email: 'user.email', roles: 'user.roles' } },
      },
    },
  });
});

afterAll(async () => {
  await gw.stop();
  await up.close();
  app.closeAllConnections();
  await new Promise((r) => app.close(r));
  await nodeRedis.quit();
  await redis.dispose();
});

async function expressLogin(): Promise<string> {
  const res = await request(`${appUrl}/login`, { method: 'POST' });
  await res.body.dump();
  return /^(connect\.sid=[^;]+)/.exec([res.headers['set-cookie']].flat()[0] as string)?.[1] as string;
}

async function viaGateway(cookie: string): Promise<number> {
  const res = await request(`${gw.url}/api/x`, { headers: { cookie } });
  await res.body.dump();
  return res.statusCode;
}

describe('express-session mode', () => {
  it('serves the Express app\'s session and stops the moment the app logs the user out', async () => {
    const cookie = await expressLogin();
    expect(await viaGateway(cookie)).toBe(200);
    const h = up.received[up.received.length - 1]?.headers ?? {};
    expect(h.cookie).toBeUndefined();
    const claims = decodeJwt((h.authorization as string).slice(7));
    expect(claims).toMatchObject({ sub: 'legacy-42', email: 'legacy@example.com', roles: ['user'], aud: 'api' });
    expect(await viaGateway(cookie)).toBe(200);

    const out = await request(`${appUrl}/logout`, { method: 'POST', headers: { cookie } });
    await out.body.dump();
    expect(await viaGateway(cookie)).toBe(401);
  });

  it('accepts a cookie signed with any listed secret (rotation) and refuses a forged signature', async () => {
    const cookie = await expressLogin();
    const value = decodeURIComponent(cookie.slice('connect.sid='.length));
    const id = value.slice(2, value.lastIndexOf('.'));
    const { createHmac } = await import('node:crypto');
    const signWith = (secret: string) =>
      `connect.sid=${encodeURIComponent(`s:${id}.${createHmac('sha256', secret).update(id).digest('base64').replace(/=+$/, '')}`)}`;
    expect(await viaGateway(signWith('old-secret'))).toBe(200);
    expect(await viaGateway(signWith('attacker-secret'))).toBe(401);
    expect(await viaGateway(`connect.sid=${encodeURIComponent(`s:${id}`)}`)).toBe(401);
    expect(await viaGateway(`connect.sid=${id}`)).toBe(401);
  });

  it('refuses a session whose cookie.expires has passed', async () => {
    const cookie = await expressLogin();
    const value = decodeURIComponent(cookie.slice('connect.sid='.length));
    const id = value.slice(2, value.lastIndexOf('.'));
    const c = redis.client();
    const record = JSON.parse((await c.get(`sess:${id}`)) as string) as { cookie: { expires: string } };
    record.cookie.expires = new Date(Date.now() - 1000).toISOString();
    await c.set(`sess:${id}`, JSON.stringify(record));
    c.disconnect();
    expect(await viaGateway(cookie)).toBe(401);
  });

  it('never forwards a changed record with its old claims (the minted-token cache is keyed by what the record says)', async () => {
    const cookie = await expressLogin();
    expect(await viaGateway(cookie)).toBe(200);
    const claimsOf = () => decodeJwt((up.received[up.received.length - 1]?.headers.authorization as string).slice(7));
    expect(claimsOf()).toMatchObject({ roles: ['user'] });
    const value = decodeURIComponent(cookie.slice('connect.sid='.length));
    const id = value.slice(2, value.lastIndexOf('.'));
    const c = redis.client();
    const record = JSON.parse((await c.get(`sess:${id}`)) as string) as { user: { roles: string[] } };
    record.user.roles = ['admin'];
    await c.set(`sess:${id}`, JSON.stringify(record));
    c.disconnect();
    expect(await viaGateway(cookie)).toBe(200);
    expect(claimsOf()).toMatchObject({ roles: ['admin'] });
  });

  it('answers 401, not 503, when the record under sess:<id> is of another Redis type', async () => {
    const cookie = await expressLogin();
    const value = decodeURIComponent(cookie.slice('connect.sid='.length));
    const id = value.slice(2, value.lastIndexOf('.'));
    const c = redis.client();
    await c.del(`sess:${id}`);
    await c.hset(`sess:${id}`, 'user', 'x');
    c.disconnect();
    expect(await viaGateway(cookie)).toBe(401);
  });

  it('keeps the Express cookie, the gateway\'s own session cookie and the refresh cookie from upstreams, both ways', async () => {
    const cookie = await expressLogin();
    const res = await request(`${gw.url}/api/set-cookies`, { headers: { cookie: `${cookie}; gw-session=native; __Secure-refresh=r; theme=dark` } });
    expect(res.statusCode).toBe(200);
    expect([res.headers['set-cookie']].flat()).toEqual(['app=1; Path=/']);
    await res.body.dump();
    expect(up.received[up.received.length - 1]?.headers.cookie).toBe('theme=dark');
    const open = await request(`${gw.url}/open/x`, { headers: { cookie: `${cookie}; gw-session=native; __Secure-refresh=r; theme=dark` } });
    await open.body.dump();
    expect(up.received[up.received.length - 1]?.headers.cookie).toBe('theme=dark');
  });

  it('refuses a csrf: token route for a principal that has no CSRF token, even when both sides are empty', async () => {
    const cookie = await expressLogin();
    const before = up.received.length;
    for (const headers of [{ cookie }, { cookie, 'x-csrf-token': '' }, { cookie, 'x-csrf-token': 'anything' }]) {
      const res = await request(`${gw.url}/strict/x`, { method: 'POST', headers });
      expect(res.statusCode).toBe(403);
      expect(res.headers['x-gateway-error']).toBe('csrf_failed');
      await res.body.dump();
    }
    expect(up.received.length).toBe(before);
  });
});
