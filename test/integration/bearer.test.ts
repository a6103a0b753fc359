// Bearer JWTs from another issuer, verified against its cached JWKS, served by a real JWKS server
// on loopback that the tests slow down, break, redirect, bloat, rotate and flood.
import { createHmac, KeyObject, sign } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { route, startTestGateway, type TestGateway } from '../support/gateway.js';
import { startIssuer, type TestIssuer } from '../support/issuer.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

let idp: TestIssuer;
let up: Upstream;
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length) await stops.pop()?.();
});

beforeAll(async () => {
  idp = await startIssuer();
  up = await startUpstream();
});
afterAll(async () => {
  await idp.close();
  await up.close();
});

/** A fresh gateway (fresh JWKS cache) trusting the test issuer. */
async function gateway(jwks: Record<string, unknown> = {}, clock?: { now(): number }, issuerExtra: Record<string, unknown> = {}): Promise<TestGateway> {
  const gw = await startTestGateway({
    clock,
    routes: [
      { ...route('api', '/api', up.url), auth: 'bearer', token: { audience: 'orders', claims: ['roles', 'email'] } },
      { ...route('both', '/both', up.url), auth: 'session_or_bearer' },
    ],
    gateway: {
      publicOrigins: ['http://app.example'],
      issuers: [
        {
          issuer: idp.issuer,
          jwksUrl: idp.jwksUrl,
          audiences: ['gateway'],
          algorithms: ['RS256'],
          claims: { sub: 'sub', roles: 'realm_access.roles', email: 'email' },
          clockTolerance: '30s',
          jwks: { cooldown: '30s', minTtl: '1m', staleFor: '10m', ...jwks },
          ...issuerExtra,
        },
      ],
    },
  });
  stops.push(() => gw.stop());
  return gw;
}

async function call(gw: TestGateway, token: string, path = '/api/x', init: { method?: string; headers?: Record<string, string> } = {}) {
  const res = await request(`${gw.url}${path}`, { method: (init.method ?? 'GET') as 'GET', headers: { authorization: `Bearer ${token}`, ...init.headers } });
  const body = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body };
}

const lastUp = () => up.received[up.received.length - 1];
const claims = { sub: 'api-user', email: 'api@example.com', realm_access: { roles: ['reader'] } };

describe('verification', () => {
  it('accepts a valid token and forwards the internal token, never the client\'s', async () => {
    const gw = await gateway();
    const token = await idp.sign(claims);
    const res = await call(gw, token);
    expect(res.status).toBe(200);
    const forwarded = lastUp()?.headers.authorization as string;
    expect(forwarded).not.toContain(token);
    const internal = decodeJwt(forwarded.slice(7));
    expect(decodeProtectedHeader(forwarded.slice(7)).typ).toBe('gateway-internal+jwt');
    // The subject is scoped to its issuer, which travels as src_iss.
    expect(internal).toMatchObject({ sub: `${idp.issuer}#api-user`, src_iss: idp.issuer, aud: 'orders', roles: ['reader'], email: 'api@example.com' });
  });

  it('never lets an external token speak for the local user with the same sub; subject: as_is maps it unchanged', async () => {
    const scoped = await gateway();
    expect((await call(scoped, await idp.sign({ ...claims, sub: 'u-alice' }))).status).toBe(200);
    expect(decodeJwt((lastUp()?.headers.authorization as string).slice(7)).sub).toBe(`${idp.issuer}#u-alice`);
    const asIs = await gateway({}, undefined, { subject: 'as_is' });
    expect((await call(asIs, await idp.sign({ ...claims, sub: 'u-alice' }))).status).toBe(200);
    expect(decodeJwt((lastUp()?.headers.authorization as string).slice(7))).toMatchObject({ sub: 'u-alice', src_iss: idp.issuer });
  });

  it.each<[string, () => Promise<string>]>([
    ['alg none', async () => {
      const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
      return `${enc({ alg: 'none', kid: 'k1' })}.${enc({ ...claims, iss: idp.issuer, aud: 'gateway', exp: Math.floor(Date.now() / 1000) + 60 })}.`;
    }],
    ['HS256 signed with the RSA public key (alg confusion)', async () => {
      const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const head = `${enc({ alg: 'HS256', kid: 'k1' })}.${enc({ ...claims, iss: idp.issuer, aud: 'gateway', exp: Math.floor(Date.now() / 1000) + 60 })}`;
      const secret = JSON.stringify(idp.keys[0]?.publicJwk);
      return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
    }],
    ['an algorithm the issuer is not pinned to (ES256)', async () => idp.sign(claims, { key: await idp.newKey('ES256', 'es-key') })],
    ['wrong issuer', async () => idp.sign(claims, { iss: 'https://evil.example' })],
    ['wrong audience', async () => idp.sign(claims, { aud: 'someone-else' })],
    ['no exp', async () => idp.sign(claims, { exp: null })],
    ['expired beyond the tolerance', async () => idp.sign(claims, { exp: Math.floor(Date.now() / 1000) - 120 })],
    ['not yet valid beyond the tolerance', async () => idp.sign({ ...claims, nbf: Math.floor(Date.now() / 1000) + 600 })],
    ['issued in the future beyond the tolerance (iat)', async () => idp.sign(claims, { iat: Math.floor(Date.now() / 1000) + 600 })],
    ['an unknown crit header', async () => {
      // jose will not sign with an unknown crit, so sign by hand (RS256 = RSASSA-PKCS1-v1_5, SHA-256).
      const key = idp.keys[0] as (typeof idp.keys)[number];
      const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const input = `${enc({ alg: 'RS256', kid: key.kid, crit: ['x-unknown'], 'x-unknown': 1 })}.${enc({ ...claims, iss: idp.issuer, aud: 'gateway', exp: Math.floor(Date.now() / 1000) + 60 })}`;
      return `${input}.${sign('sha256', Buffer.from(input), KeyObject.from(key.privateKey)).toString('base64url')}`;
    }],
    ['a forged signature', async () => {
      const t = await idp.sign(claims);
      return t.slice(0, -4) + (t.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    }],
    ['a key embedded in the jwk header', async () => {
      const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
      const jwk: JWK = await exportJWK(publicKey);
      return new SignJWT({ ...claims }).setProtectedHeader({ alg: 'RS256', jwk }).setIssuer(idp.issuer).setAudience('gateway').setExpirationTime('5m').sign(privateKey);
    }],
    ['a kid no JWKS holds, with a jku pointing at the attacker', async () => {
      const { privateKey } = await generateKeyPair('RS256', { extractable: true });
      return new SignJWT({ ...claims }).setProtectedHeader({ alg: 'RS256', kid: 'attacker', jku: 'http://127.0.0.1:1/jwks', x5u: 'http://127.0.0.1:1/x5u' }).setIssuer(idp.issuer).setAudience('gateway').setExpirationTime('5m').sign(privateKey);
    }],
    ['not a JWT at all', async () => 'opaque-token-value'],
  ])('refuses %s with 401 invalid_token, forwarding nothing', async (_name, make) => {
    const gw = await gateway();
    const before = up.received.length;
    const res = await call(gw, await make());
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'invalid_token' });
    expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
    expect(up.received.length).toBe(before);
  });

  it('accepts exp and nbf within the clock tolerance', async () => {
    const gw = await gateway();
    expect((await call(gw, await idp.sign(claims, { exp: Math.floor(Date.now() / 1000) - 10 }))).status).toBe(200);
    expect((await call(gw, await idp.sign({ ...claims, nbf: Math.floor(Date.now() / 1000) + 10 }))).status).toBe(200);
  });

  it('ignores JWKS keys whose use or type do not fit', async () => {
    const gw = await gateway();
    const encKey = await idp.newKey('RS256', 'enc-key');
    encKey.publicJwk = { ...encKey.publicJwk, use: 'enc' };
    try {
      expect((await call(gw, await idp.sign(claims, { key: encKey }))).status).toBe(401);
    } finally {
      idp.keys = idp.keys.filter((k) => k !== encKey);
    }
  });

  it('refuses the gateway\'s own internal token presented as a bearer token', async () => {
    const gw = await gateway();
    await call(gw, await idp.sign(claims));
    const internal = (lastUp()?.headers.authorization as string).slice(7);
    const res = await call(gw, internal);
    expect(res.status).toBe(401);
  });

  it('caches verified tokens: the second request costs no signature check', async () => {
    const gw = await gateway();
    const token = await idp.sign(claims);
    await call(gw, token);
    await call(gw, token);
    await call(gw, token);
    const m = await gw.registry.getSingleMetricAsString('gateway_bearer_cache_total');
    expect(m).toContain('result="hit"} 2');
    expect(m).toContain('result="miss"} 1');
    expect(await gw.registry.getSingleMetricAsString('gateway_bearer_verifications_total')).toContain(`issuer="${idp.issuer}",result="verified",reason="ok"} 1`);
  });
});

describe('the JWKS cache', () => {
  it('fetches once for many tokens and honours Cache-Control within bounds', async () => {
    const gw = await gateway();
    idp.fetches = 0;
    for (let i = 0; i < 5; i++) expect((await call(gw, await idp.sign({ ...claims, n: i }))).status).toBe(200);
    expect(idp.fetches).toBe(1);
  });

  it('single flight: concurrent first requests share one fetch', async () => {
    idp.mode = 'slow';
    try {
      const gw = await gateway();
      idp.fetches = 0;
      const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => idp.sign({ ...claims, n: i })));
      const results = await Promise.all(tokens.map((t) => call(gw, t)));
      expect(results.every((r) => r.status === 200)).toBe(true);
      expect(idp.fetches).toBe(1);
    } finally {
      idp.mode = 'ok';
    }
  });

  it('serves a stale key set while one background refresh runs: no request waits for a slow issuer', async () => {
    let now = Date.now();
    const clock = { now: () => now };
    const gw = await gateway({ minTtl: '1m', maxTtl: '1m', staleFor: '5m' }, clock);
    idp.cacheControl = 'max-age=60';
    expect((await call(gw, await idp.sign({ ...claims, n: 1 }))).status).toBe(200);
    idp.mode = 'slow'; // 300 ms per JWKS answer
    try {
      now += 2 * 60_000;
      idp.fetches = 0;
      const started = Date.now();
      const results = await Promise.all(Array.from({ length: 5 }, async (_, i) => call(gw, await idp.sign({ ...claims, n: 10 + i }))));
      expect(results.every((r) => r.status === 200)).toBe(true);
      expect(Date.now() - started).toBeLessThan(250);
      // One refresh, in the background.
      await expect.poll(() => idp.fetches, { timeout: 2_000 }).toBe(1);
    } finally {
      idp.mode = 'ok';
      idp.cacheControl = 'max-age=300';
    }
  });

  it('a flood of unknown kids causes at most one refetch per cooldown', async () => {
    const gw = await gateway();
    await call(gw, await idp.sign(claims));
    idp.fetches = 0;
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await Promise.all(
      Array.from({ length: 50 }, (_, i) => new SignJWT({ ...claims }).setProtectedHeader({ alg: 'RS256', kid: `random-${i}` }).setIssuer(idp.issuer).setAudience('gateway').setExpirationTime('5m').sign(privateKey)),
    );
    const results = await Promise.all(forged.map((t) => call(gw, t)));
    expect(results.every((r) => r.status === 401)).toBe(true);
    expect(idp.fetches).toBeLessThanOrEqual(1);
  });

  it('picks up a rotated key through a refetch for its unknown kid', async () => {
    const gw = await gateway({ cooldown: '0s' });
    await call(gw, await idp.sign(claims));
    const rotated = await idp.newKey('RS256', 'rotated');
    expect((await call(gw, await idp.sign(claims, { key: rotated }))).status).toBe(200);
  });

  it('never lets a published set without signing keys wipe a good one it holds', async () => {
    let now = Date.now();
    const clock = { now: () => now };
    const gw = await gateway({ minTtl: '1m', maxTtl: '1m', staleFor: '5m', cooldown: '10s' }, clock);
    idp.cacheControl = 'max-age=60';
    expect((await call(gw, await idp.sign({ ...claims, n: 1 }))).status).toBe(200);
    const saved = idp.keys.map((k) => k.publicJwk.use);
    for (const k of idp.keys) k.publicJwk.use = 'enc';
    try {
      now += 2 * 60_000;
      expect((await call(gw, await idp.sign({ ...claims, n: 2 }))).status).toBe(200);
      expect(await gw.registry.getSingleMetricAsString('gateway_jwks_fetches_total')).toContain('result="malformed"} 1');
    } finally {
      idp.keys.forEach((k, i) => (k.publicJwk.use = saved[i]));
      idp.cacheControl = 'max-age=300';
    }
  });

  it('keeps serving the last good keys while the issuer is down, for staleFor, then fails closed', async () => {
    let now = Date.now();
    const clock = { now: () => now };
    const gw = await gateway({ minTtl: '1m', maxTtl: '1m', staleFor: '5m', cooldown: '10s' }, clock);
    idp.cacheControl = 'max-age=60';
    expect((await call(gw, await idp.sign({ ...claims, n: 1 }))).status).toBe(200);
    idp.mode = 'error';
    try {
      now += 2 * 60_000; // stale, issuer down: last good set serves
      expect((await call(gw, await idp.sign({ ...claims, n: 2 }))).status).toBe(200);
      expect(await gw.registry.getSingleMetricAsString('gateway_jwks_stale_served_total')).toMatch(/ [1-9]/);
      now += 10 * 60_000; // past staleFor: fail closed
      const res = await call(gw, await idp.sign({ ...claims, n: 3 }));
      expect(res.status).toBe(503);
      expect(JSON.parse(res.body)).toMatchObject({ error: 'issuer_unavailable' });
    } finally {
      idp.mode = 'ok';
      idp.cacheControl = 'max-age=300';
    }
  });

  it.each<['redirect' | 'huge' | 'malformed' | 'error', string]>([
    ['redirect', 'http_error'],
    ['huge', 'too_large'],
    ['malformed', 'malformed'],
    ['error', 'http_error'],
  ])('refuses a JWKS answer that is a %s (fail closed without a last good set)', async (mode, result) => {
    idp.mode = mode;
    try {
      const gw = await gateway({ maxBytes: '64KiB' });
      const res = await call(gw, await idp.sign(claims));
      expect(res.status).toBe(503);
      expect(await gw.registry.getSingleMetricAsString('gateway_jwks_fetches_total')).toContain(`result="${result}"} 1`);
    } finally {
      idp.mode = 'ok';
    }
  });
});

describe('an issuer whose key set has no key for signatures', () => {
  it('answers 401 invalid_token (the issuer answered), not 503', async () => {
    const saved = idp.keys.map((k) => k.publicJwk.use);
    for (const k of idp.keys) k.publicJwk.use = 'enc';
    try {
      const gw = await gateway();
      const res = await call(gw, await idp.sign(claims));
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body)).toMatchObject({ error: 'invalid_token' });
      // One fetch, and one more for the kid it could not find (at most once per cooldown).
      expect(await gw.registry.getSingleMetricAsString('gateway_jwks_fetches_total')).toMatch(/result="no_signing_keys"\} [12]$/m);
    } finally {
      idp.keys.forEach((k, i) => (k.publicJwk.use = saved[i]));
    }
  });
});

describe('session_or_bearer', () => {
  it('refuses an invalid bearer token even with a cookie present (never downgrades)', async () => {
    const gw = await gateway();
    const res = await call(gw, 'not.a.validtoken', '/both/x', { headers: { cookie: 'gw-session=whatever' } });
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'invalid_token' });
  });

  it('skips CSRF checks for bearer-authenticated requests', async () => {
    const gw = await gateway();
    const res = await call(gw, await idp.sign(claims), '/both/x', { method: 'POST', headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } });
    expect(res.status).toBe(200);
  });
});
