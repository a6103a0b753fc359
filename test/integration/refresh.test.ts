// The gateway's own access tokens and rotating refresh tokens, on a real redis-server: rotation,
// reuse detection that revokes the whole family, the atomic race of concurrent refreshes, the grace
// retry, lifetimes, where refresh tokens are accepted, and revocation reaching every instance.
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_AUTH, route, startTestGateway, type TestGateway } from '../support/gateway.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { startVerifier } from '../support/session-gateway.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

let redis: RedisServer;
let verifier: Upstream;
let up: Upstream;
let gw: TestGateway;
let other: TestGateway;

function config(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    redis: { url: redis.url },
    publicOrigins: ['http://app.example'],
    login: { verifyUrl: `${verifier.url}/verify` },
    session: { store: 'redis', cookie: { name: 'gw-session', secure: false } },
    tokens: { keys: './shared-keys', generateDevKey: false },
    bearer: { revocationSync: '300ms' },
    accessTokens: { ttl: '10m', refresh: { graceWindow: '2s', idleTimeout: '1h', absoluteTimeout: '2h' } },
    ...extra,
  };
}

const routes = () => [{ ...route('api', '/api', up.url), auth: 'bearer' }];

async function sharedKeys(dir: string): Promise<void> {
  const { mkdir, writeFile } = await import('node:fs/promises');
  const { exportJWK, generateKeyPair } = await import('jose');
  const { join } = await import('node:path');
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  await mkdir(join(dir, 'shared-keys'), { recursive: true });
  await writeFile(join(dir, 'shared-keys', 'k.private.jwk.json'), JSON.stringify({ ...(await exportJWK(privateKey)), kid: 'shared', alg: 'ES256' }));
}

beforeAll(async () => {
  redis = await startRedis();
  verifier = await startVerifier();
  up = await startUpstream();
  // Two instances that share Redis and a signing key, as a deployment would.
  const { mkdtemp } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const keysHome = await mkdtemp(join(tmpdir(), 'gw-shared-'));
  await sharedKeys(keysHome);
  const cfg = config({ tokens: { keys: join(keysHome, 'shared-keys'), generateDevKey: false } });
  gw = await startTestGateway({ routes: routes(), gateway: cfg });
  other = await startTestGateway({ routes: routes(), gateway: cfg });
});
afterAll(async () => {
  await gw.stop();
  await other.stop();
  await Promise.all([verifier.close(), up.close()]);
  await redis.dispose();
});

interface Pair {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
}

async function post(base: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await request(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, json: (text ? JSON.parse(text) : {}) as Pair & { error?: string } };
}

const tokenFor = (username = 'alice', password = 'pw-alice') => post(gw.url, '/auth/token', { username, password });
const refresh = (token: string, base = gw.url) => post(base, '/auth/refresh', { refresh_token: token });

async function api(base: string, access: string): Promise<number> {
  const res = await request(`${base}/api/x`, { headers: { authorization: `Bearer ${access}` } });
  await res.body.dump();
  return res.statusCode;
}

describe('issuing', () => {
  it('answers a credential check with an access JWT and an opaque 256-bit refresh token, stored only as a hash', async () => {
    const { status, json } = await tokenFor();
    expect(status).toBe(200);
    expect(json.token_type).toBe('Bearer');
    expect(json.expires_in).toBe(600);
    expect(decodeProtectedHeader(json.access_token).typ).toBe('at+jwt');
    expect(decodeJwt(json.access_token)).toMatchObject({ sub: 'u-alice', aud: 'gateway' });
    expect(json.refresh_token).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
    expect(await api(gw.url, json.access_token)).toBe(200);
    const c = redis.client();
    const keys = await c.keys('*');
    const values = await Promise.all(keys.filter((k) => k.includes(':rt:')).map((k) => c.get(k)));
    c.disconnect();
    const secret = json.refresh_token.split('.')[1] as string;
    expect(keys.join(' ')).not.toContain(secret);
    expect(values.join(' ')).not.toContain(secret);
  });

  it('verifies access tokens without a Redis call per request', async () => {
    const { json } = await tokenFor();
    const stats = async () => {
      const c = redis.client();
      const info = await c.info('commandstats');
      c.disconnect();
      // Everything but the periodic not-before sync and this probe's own connection.
      const periodic = ['zremrangebyscore', 'xrange', 'xrevrange', 'zscan', 'hgetall', 'info', 'hello', 'client', 'select'];
      return Object.fromEntries([...info.matchAll(/cmdstat_(\w+):calls=(\d+)/g)].filter((m) => !periodic.includes(m[1] as string)).map((m) => [m[1], Number(m[2])]));
    };
    const before = await stats();
    for (let i = 0; i < 20; i++) expect(await api(gw.url, json.access_token)).toBe(200);
    expect(await stats()).toEqual(before);
  });

  it('refuses wrong credentials', async () => {
    expect((await tokenFor('alice', 'nope')).status).toBe(401);
  });
});

describe('rotation', () => {
  it('rotates on every use; a rotated token used again revokes the whole family, the current token too', async () => {
    const first = (await tokenFor()).json;
    const second = (await refresh(first.refresh_token)).json;
    expect(second.refresh_token).not.toBe(first.refresh_token);
    const third = (await refresh(second.refresh_token)).json;
    expect(third.refresh_token).toBeTruthy();
    // The first token again: its successor was already used, so this is theft.
    const reuse = await refresh(first.refresh_token);
    expect(reuse.status).toBe(400);
    expect(reuse.json.error).toBe('invalid_grant');
    expect((await refresh(third.refresh_token)).status).toBe(400);
    expect(await gw.registry.getSingleMetricAsString('gateway_refresh_reuse_detected_total')).toMatch(/ [1-9]/);
  });

  it('concurrent refreshes with one token produce exactly one new token', async () => {
    const start = (await tokenFor()).json;
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => refresh(start.refresh_token, i % 2 ? other.url : gw.url)));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(new Set(answers.map((a) => a.json.refresh_token)).size).toBe(1);
    expect(new Set(answers.map((a) => a.json.access_token)).size).toBe(1);
    // And that one new token rotates normally.
    expect((await refresh(answers[0]?.json.refresh_token as string)).status).toBe(200);
  });

  it('a client that lost the answer retries within the grace window and gets the same pair, while the successor is unused', async () => {
    const start = (await tokenFor()).json;
    const a = (await refresh(start.refresh_token)).json;
    const retry = await refresh(start.refresh_token);
    expect(retry.status).toBe(200);
    expect(retry.json).toEqual(a);
    // Once the successor is used, the predecessor is no longer a retry but a reuse.
    await refresh(a.refresh_token);
    expect((await refresh(start.refresh_token)).status).toBe(400);
  });
});

describe('where tokens are accepted', () => {
  it('refuses a refresh token in the query string, an access token at the refresh endpoint, and a refresh token as a bearer token', async () => {
    const pair = (await tokenFor()).json;
    const q = await request(`${gw.url}/auth/refresh?refresh_token=${pair.refresh_token}`, { method: 'POST' });
    expect(q.statusCode).toBe(400);
    expect(((await q.body.json()) as { error: string }).error).toBe('invalid_grant');
    expect((await refresh(pair.access_token)).status).toBe(400);
    expect(await api(gw.url, pair.refresh_token)).toBe(401);
    // The refresh token was not consumed by those refusals.
    expect((await refresh(pair.refresh_token)).status).toBe(200);
  });

  it('accepts the refresh token from an HttpOnly cookie scoped to the refresh path', async () => {
    const res = await post(gw.url, '/auth/token', { username: 'alice', password: 'pw-alice', refresh_cookie: 'true' });
    const cookie = res.headers['set-cookie'] as string;
    expect(cookie).toMatch(/^__Secure-refresh=[^;]+; Path=\/auth\/refresh; HttpOnly; SameSite=Strict/);
    const value = /^__Secure-refresh=([^;]+)/.exec(cookie)?.[1] as string;
    const viaCookie = await request(`${gw.url}/auth/refresh`, { method: 'POST', headers: { cookie: `__Secure-refresh=${value}`, origin: 'http://app.example' } });
    expect(viaCookie.statusCode).toBe(200);
    await viaCookie.body.dump();
  });

  it('refuses a cross-site page asking POST /auth/token for the refresh cookie, before the credential check', async () => {
    const checks = verifier.received.length;
    for (const headers of [{ origin: 'https://evil.example' }, { 'sec-fetch-site': 'cross-site' }, { origin: 'null' }] as Record<string, string>[]) {
      const res = await post(gw.url, '/auth/token', { username: 'alice', password: 'pw-alice', refresh_cookie: 'true' }, headers);
      expect(res.status).toBe(403);
      expect(res.json.error).toBe('csrf_failed');
      expect(res.headers['set-cookie']).toBeUndefined();
    }
    expect(verifier.received.length).toBe(checks);
    const own = await post(gw.url, '/auth/token', { username: 'alice', password: 'pw-alice', refresh_cookie: 'true' }, { origin: 'http://app.example' });
    expect(own.status).toBe(200);
  });
});

describe('revocation', () => {
  it('logout everywhere through one instance ends refresh families and access tokens on the other at once', async () => {
    const pair = (await tokenFor('root', 'pw-root')).json;
    expect(await api(other.url, pair.access_token)).toBe(200); // cached as verified on the other instance
    const res = await request(`${gw.adminUrl}/admin/users/u-root/revoke`, { method: 'POST', headers: ADMIN_AUTH });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    let status = 200;
    for (let i = 0; i < 20 && status === 200; i++) {
      status = await api(other.url, pair.access_token);
      if (status === 200) await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe(401);
    expect(await api(gw.url, pair.access_token)).toBe(401);
    expect((await refresh(pair.refresh_token)).status).toBe(400);
    // Signing in again right away works: new tokens are not caught by the revocation.
    const fresh = (await tokenFor('root', 'pw-root')).json;
    expect(await api(other.url, fresh.access_token)).toBe(200);
  });

  it('reaches an instance whose pub/sub is down within one sync interval', async () => {
    const pair = (await tokenFor('alice')).json;
    expect(await api(other.url, pair.access_token)).toBe(200);
    const admin = redis.client();
    await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    admin.disconnect();
    const res = await request(`${gw.adminUrl}/admin/users/u-alice/revoke`, { method: 'POST', headers: ADMIN_AUTH });
    await res.body.dump();
    const started = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - started < 3000) {
      status = await api(other.url, pair.access_token);
      if (status === 200) await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe(401);
  });
});

const reuses = async (g: TestGateway) => Number(/ (\d+)$/.exec(await g.registry.getSingleMetricAsString('gateway_refresh_reuse_detected_total'))?.[1]);

describe('family lifetimes', () => {
  // On the gateway's clock, moved by the test: the memory store decides by the time the gateway
  // gives it, so every boundary is exact and nothing waits. The Redis store decides the same rules
  // by Redis's own clock (test/contract/refresh-store.test.ts runs both stores through them).
  it('a family unused for its idle timeout ends; one used all along ends at its absolute end; a retry after the grace window is reuse', async () => {
    let now = Date.now();
    const mem = await startTestGateway({
      clock: { now: () => now },
      routes: routes(),
      gateway: {
        publicOrigins: ['http://app.example'],
        login: { verifyUrl: `${verifier.url}/verify` },
        accessTokens: { ttl: '10m', refresh: { idleTimeout: '10m', absoluteTimeout: '1h', graceWindow: '30s' } },
      },
    });
    try {
      const issue = async () => (await post(mem.url, '/auth/token', { username: 'alice', password: 'pw-alice' })).json;
      const refreshed = async (token: string) => {
        const r = await refresh(token, mem.url);
        expect(r.status).toBe(200);
        return r.json;
      };

      const issuedAt = now;
      const idle = await issue();
      let current = (await issue()).refresh_token;
      now += 10 * 60_000 - 1;
      current = (await refreshed(current)).refresh_token;
      now += 1;
      expect((await refresh(idle.refresh_token, mem.url)).status).toBe(400);
      // Used every 9 minutes, the other one outlives the idle timeout many times over, up to its absolute end.
      while (now + 9 * 60_000 < issuedAt + 3_600_000) {
        now += 9 * 60_000;
        current = (await refreshed(current)).refresh_token;
      }
      now = issuedAt + 3_600_000 - 1;
      current = (await refreshed(current)).refresh_token;
      now += 1;
      expect((await refresh(current, mem.url)).status).toBe(400);
      expect(await reuses(mem)).toBe(0);

      const start = await issue();
      const answer = await refreshed(start.refresh_token);
      now += 30_000;
      expect(await refreshed(start.refresh_token)).toEqual(answer);
      now += 1;
      expect((await refresh(start.refresh_token, mem.url)).status).toBe(400);
      expect(await reuses(mem)).toBe(1);
      expect((await refresh(answer.refresh_token, mem.url)).status).toBe(400);
    } finally {
      await mem.stop();
    }
  });

  // On Redis's clock (TIME), which no test can move: short windows and a real wait of about half a
  // second, so that the gateway's settings are seen to reach the Redis script.
  it('on Redis, a retry after the grace window is reuse, and a family unused for its idle timeout ends', async () => {
    const short = await startTestGateway({
      routes: routes(),
      gateway: config({ tokens: { keys: './keys', generateDevKey: true }, accessTokens: { refresh: { idleTimeout: '500ms', absoluteTimeout: '1h', graceWindow: '100ms' } } }),
    });
    const waitUntil = async (t: number) => {
      while (Date.now() < t) await new Promise((r) => setTimeout(r, t - Date.now()));
    };
    try {
      const issue = async () => (await post(short.url, '/auth/token', { username: 'alice', password: 'pw-alice' })).json;
      const idle = await issue();
      const idleSince = Date.now();
      const start = await issue();
      const next = await refresh(start.refresh_token, short.url);
      expect(next.status).toBe(200);
      const usedAt = Date.now();
      await waitUntil(usedAt + 150);
      // Past the grace window, within the idle timeout: reuse, and the family ends.
      expect((await refresh(start.refresh_token, short.url)).status).toBe(400);
      expect(await reuses(short)).toBe(1);
      expect((await refresh(next.json.refresh_token, short.url)).status).toBe(400);
      await waitUntil(idleSince + 550);
      expect((await refresh(idle.refresh_token, short.url)).status).toBe(400);
      expect(await reuses(short)).toBe(1);
    } finally {
      await short.stop();
    }
  });
});
