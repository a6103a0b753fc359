// Revocation is immediate on every instance: two gateway processes share one redis-server; each may
// cache sessions, and a revocation through one is applied by the other before its next request.
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_AUTH, route, startTestGateway, writeConfigDir, type TestGateway } from '../support/gateway.js';
import { spawnGateway, type GatewayProcess } from '../support/process.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { COOKIE, startVerifier } from '../support/session-gateway.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

let redis: RedisServer;
let verifier: Upstream;
let up: Upstream;
let dir: string;
let a: GatewayProcess;
let b: GatewayProcess;

const ORIGIN = 'http://app.example';

function gatewayConfig(redisUrl: string, cacheTtl: string): Record<string, unknown> {
  return {
    redis: { url: redisUrl },
    publicOrigins: [ORIGIN],
    login: { verifyUrl: `${verifier.url}/verify` },
    session: { store: 'redis', cookie: { name: COOKIE, secure: false }, cacheTtl },
    tokens: { keys: './keys', generateDevKey: true },
  };
}

async function login(base: string, username = 'alice', password = 'pw-alice'): Promise<string> {
  const res = await request(`${base}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: ORIGIN },
    body: JSON.stringify({ username, password }),
  });
  await res.body.dump();
  return /gw-session=([^;]+)/.exec(res.headers['set-cookie'] as string)?.[1] as string;
}

async function status(base: string, path: string, id: string): Promise<number> {
  const res = await request(`${base}${path}`, { headers: { cookie: `${COOKIE}=${id}` } });
  await res.body.dump();
  return res.statusCode;
}

async function post(base: string, path: string, id: string): Promise<number> {
  const res = await request(`${base}${path}`, { method: 'POST', headers: { cookie: `${COOKIE}=${id}`, origin: ORIGIN } });
  await res.body.dump();
  return res.statusCode;
}

beforeAll(async () => {
  redis = await startRedis();
  verifier = await startVerifier();
  up = await startUpstream();
  // A long cache TTL: only invalidation (not expiry) can make the other instance refuse.
  dir = await writeConfigDir([{ ...route('app', '/app', up.url), auth: 'session' }], gatewayConfig(redis.url, '60s'));
  [a, b] = await Promise.all([spawnGateway(join(dir, 'gateway.yaml')), spawnGateway(join(dir, 'gateway.yaml'))]);
}, 30_000);

afterAll(async () => {
  await Promise.all([a?.kill(), b?.kill()]);
  await Promise.all([verifier.close(), up.close()]);
  await redis.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe('revocation across instances', () => {
  it('logout through one instance: the other refuses the cookie on the very next request', async () => {
    const id = await login(a.url);
    expect(await status(b.url, '/app/x', id)).toBe(200);
    expect(await status(b.url, '/app/x', id)).toBe(200); // now served from B's cache
    expect(await post(a.url, '/auth/logout', id)).toBe(204);
    expect(await status(b.url, '/app/x', id)).toBe(401);
  });

  it('logout-all through one instance ends the user\'s sessions cached by the other', async () => {
    const id1 = await login(a.url);
    const id2 = await login(b.url);
    expect(await status(b.url, '/app/x', id1)).toBe(200);
    expect(await status(a.url, '/app/x', id2)).toBe(200);
    expect(await post(a.url, '/auth/logout-all', id1)).toBe(200);
    expect(await status(b.url, '/app/x', id1)).toBe(401);
    expect(await status(a.url, '/app/x', id2)).toBe(401);
    expect(await status(b.url, '/app/x', id2)).toBe(401);
  });

  it('admin revocation on one instance reaches the other at once', async () => {
    const id = await login(a.url);
    expect(await status(b.url, '/app/x', id)).toBe(200);
    const res = await request(`${a.adminUrl}/admin/users/u-alice/revoke`, { method: 'POST', headers: ADMIN_AUTH });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(await status(b.url, '/app/x', id)).toBe(401);
  });

  it('gateway sessions revoke --user does the same from the command line', async () => {
    const id = await login(a.url);
    expect(await status(b.url, '/app/x', id)).toBe(200);
    const { stdout } = await promisify(execFile)(process.execPath, [
      '--import',
      'tsx',
      join(import.meta.dirname, '../../src/cli.ts'),
      'sessions',
      'revoke',
      '--user',
      'u-alice',
      '--config',
      join(dir, 'gateway.yaml'),
    ]);
    expect(stdout).toContain('revoked 1 session(s) of u-alice');
    expect(await status(a.url, '/app/x', id)).toBe(401);
    expect(await status(b.url, '/app/x', id)).toBe(401);
  });
});

describe('while the invalidation channel is down', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ routes: [{ ...route('app', '/app', up.url), auth: 'session' }], gateway: gatewayConfig(redis.url, '60s') });
  });
  afterAll(async () => gw.stop());

  it('serves nothing from cache, and drops the cache when the subscription is back', async () => {
    const id = await login(gw.url);
    expect(await status(gw.url, '/app/x', id)).toBe(200);
    expect(await status(gw.url, '/app/x', id)).toBe(200); // cached
    const admin = redis.client();
    // Kill the subscriber connection, then end the session behind the gateway's back: no message.
    await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    for (const k of await admin.keys('gw:s:*')) await admin.del(k);
    admin.disconnect();
    expect(await status(gw.url, '/app/x', id)).toBe(401);
    const hits = await gw.registry.getSingleMetricAsString('gateway_session_cache_total');
    expect(hits).toMatch(/result="(bypass|miss)"/);
  });
});
