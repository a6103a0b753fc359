// Browser sessions against a real redis-server: sign in, the token exchange, policy, CSRF, sign out.
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_AUTH } from '../support/gateway.js';
import { COOKIE, startSessionEnv, type SessionEnv } from '../support/session-gateway.js';

let env: SessionEnv;
beforeAll(async () => {
  env = await startSessionEnv();
});
afterAll(async () => env.close());

const lastUp = () => env.up.received[env.up.received.length - 1];

async function jwks() {
  const res = await request(`${env.gw.url}/.well-known/jwks.json`);
  return createLocalJWKSet((await res.body.json()) as { keys: [] });
}

async function commandCount(cmd: string): Promise<number> {
  const c = env.redis.client();
  try {
    const info = await c.info('commandstats');
    return Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
  } finally {
    c.disconnect();
  }
}

describe('signing in', () => {
  it('sets an HttpOnly, SameSite session cookie holding 32 random bytes', async () => {
    const res = await env.send('POST', '/auth/login', undefined, { 'content-type': 'application/json', origin: env.origin }, JSON.stringify({ username: 'alice', password: 'pw-alice' }));
    expect(res.status).toBe(200);
    const cookie = res.headers['set-cookie'] as string;
    expect(cookie).toMatch(/^gw-session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax$/);
    expect(JSON.parse(res.body)).toMatchObject({ sub: 'u-alice', redirect: '/' });
  });

  it('accepts a form post and redirects to a safe target only', async () => {
    const form = (redirect: string) =>
      env.send('POST', '/auth/login', undefined, { 'content-type': 'application/x-www-form-urlencoded', origin: env.origin }, new URLSearchParams({ username: 'alice', password: 'pw-alice', redirect }).toString());
    expect((await form('/app/orders?x=1')).headers.location).toBe('/app/orders?x=1');
    expect((await form('http://app.example/x')).headers.location).toBe('http://app.example/x');
    for (const bad of ['//evil.example/x', 'https://evil.example/', '/\\evil.example', 'javascript:alert(1)']) {
      const res = await form(bad);
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/');
    }
  });

  it('refuses wrong credentials with 401 invalid_credentials and stores nothing', async () => {
    const c = env.redis.client();
    const before = (await c.keys('gw:s:*')).length;
    const res = await env.send('POST', '/auth/login', undefined, { 'content-type': 'application/json', origin: env.origin }, JSON.stringify({ username: 'alice', password: 'nope' }));
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'invalid_credentials' });
    expect(res.headers['set-cookie']).toBeUndefined();
    expect((await c.keys('gw:s:*')).length).toBe(before);
    c.disconnect();
  });

  it('refuses malformed bodies with stable 4xx codes', async () => {
    const post = (type: string, body: string) => env.send('POST', '/auth/login', undefined, { 'content-type': type, origin: env.origin }, body);
    expect(JSON.parse((await post('application/json', '{"username":')).body).error).toBe('invalid_body');
    expect(JSON.parse((await post('application/json', '[1,2]')).body).error).toBe('invalid_body');
    expect(JSON.parse((await post('application/json', '{"username":"alice"}')).body).error).toBe('invalid_body');
    expect(JSON.parse((await post('text/plain', 'x')).body).error).toBe('unsupported_media_type');
    expect((await post('application/json', JSON.stringify({ username: 'a', password: 'x'.repeat(20_000) }))).status).toBe(413);
  });

  it('destroys the session the request already had (no fixation)', async () => {
    const first = await env.login('alice');
    const second = await env.login('alice', undefined, { cookie: `${COOKIE}=${first}` });
    expect(second).not.toBe(first);
    expect((await env.get('/app/x', first)).status).toBe(401);
    expect((await env.get('/app/x', second)).status).toBe(200);
  });

  it('keeps only a hash of the session id in Redis', async () => {
    const id = await env.login('alice');
    const c = env.redis.client();
    const keys = await c.keys('*');
    const values = await Promise.all(keys.filter((k) => k.startsWith('gw:s:')).map((k) => c.get(k)));
    c.disconnect();
    expect(keys.join(' ')).not.toContain(id);
    expect(values.join(' ')).not.toContain(id);
  });

  it('rate-limits failed sign-ins per username with 429 and Retry-After, in Redis', async () => {
    const attempt = () => env.send('POST', '/auth/login', undefined, { 'content-type': 'application/json', origin: env.origin, 'x-forwarded-for': '1.2.3.4' }, JSON.stringify({ username: 'root', password: 'wrong' }));
    for (let i = 0; i < 5; i++) expect((await attempt()).status).toBe(401);
    const limited = await attempt();
    expect(limited.status).toBe(429);
    expect(JSON.parse(limited.body)).toMatchObject({ error: 'rate_limited' });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Even the right password is refused while limited, and the credential check is not called.
    const calls = env.verifier.received.length;
    const right = await env.send('POST', '/auth/login', undefined, { 'content-type': 'application/json', origin: env.origin }, JSON.stringify({ username: 'root', password: 'pw-root' }));
    expect(right.status).toBe(429);
    expect(env.verifier.received.length).toBe(calls);
    const c = env.redis.client();
    expect((await c.keys('gw:rl:user:*')).length).toBeGreaterThan(0);
    await c.flushall();
    c.disconnect();
  });
});

describe('rate limits per client address', () => {
  it('refuses further sign-ins from an address after too many failures, whatever the username', async () => {
    const gw2 = await startSessionEnv({ gateway: { login: { rateLimit: { perAddress: { max: 3, window: '1m' }, perUsername: { max: 100, window: '1m' } } } } });
    try {
      const attempt = (username: string) =>
        gw2.send('POST', '/auth/login', undefined, { 'content-type': 'application/json', origin: gw2.origin }, JSON.stringify({ username, password: 'wrong' }));
      for (const u of ['a', 'b', 'c']) expect((await attempt(u)).status).toBe(401);
      const limited = await attempt('d');
      expect(limited.status).toBe(429);
      expect(await gw2.gw.registry.getSingleMetricAsString('gateway_rate_limit_refusals_total')).toContain('limit="address"} 1');
    } finally {
      await gw2.close();
    }
  });
});

describe('the token exchange', () => {
  it('forwards with a signed internal JWT instead of the cookie', async () => {
    const id = await env.login('alice');
    const res = await env.get('/app/orders', id, { authorization: 'Bearer client-forged', cookie: `other=1; ${COOKIE}=${id}; theme=dark` });
    expect(res.status).toBe(200);
    const h = lastUp()?.headers ?? {};
    expect(h.cookie).toBe('other=1; theme=dark');
    const token = (h.authorization as string).replace(/^Bearer /, '');
    expect(token).not.toBe('client-forged');
    const header = decodeProtectedHeader(token);
    expect(header).toMatchObject({ alg: 'ES256', typ: 'gateway-internal+jwt' });
    expect(header.kid).toBeTruthy();
    const { payload } = await jwtVerify(token, await jwks(), { issuer: 'https://gateway.internal', audience: 'orders' });
    expect(payload).toMatchObject({ sub: 'u-alice', email: 'alice@example.com', roles: ['user'] });
    expect(payload.secret).toBeUndefined();
    expect((payload.exp as number) - (payload.iat as number)).toBe(60);
    expect(payload.nbf).toBe(payload.iat);
    expect(payload.jti).toBeTruthy();
    expect(payload.sid).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(JSON.stringify(payload)).not.toContain(id);
  });

  it('uses the route audience and header, and strips the client value of that header', async () => {
    const id = await env.login('alice');
    await env.get('/custom/x', id, { 'x-internal-token': 'forged' });
    const h = lastUp()?.headers ?? {};
    const token = h['x-internal-token'] as string;
    expect(token.split('.')).toHaveLength(3);
    await jwtVerify(token, await jwks(), { audience: 'c' });
    expect(h.authorization).toBeUndefined();
  });

  it('reuses a minted token for the same session and audience', async () => {
    const id = await env.login('alice');
    await env.get('/app/1', id);
    const a = lastUp()?.headers.authorization;
    await env.get('/app/2', id);
    expect(lastUp()?.headers.authorization).toBe(a);
    const other = await env.login('alice');
    await env.get('/app/3', other);
    expect(lastUp()?.headers.authorization).not.toBe(a);
  });

  it('drops an upstream Set-Cookie for the session cookie and keeps the others', async () => {
    const id = await env.login('alice');
    const res = await env.get('/app/set-cookies', id);
    expect([res.headers['set-cookie']].flat()).toEqual(['app=1; Path=/']);
  });

  it('never lets a client replay an internal token, on public routes too', async () => {
    const id = await env.login('alice');
    await env.get('/app/x', id);
    const internal = lastUp()?.headers.authorization as string;
    await env.get('/public/replay', undefined, { authorization: internal, 'x-internal-token': 'replayed' });
    const h = lastUp()?.headers ?? {};
    expect(h.authorization).toBeUndefined();
    expect(h['x-internal-token']).toBeUndefined();
    // A client's own credentials for a public upstream still pass.
    await env.get('/public/basic', undefined, { authorization: 'Basic YTpi' });
    expect(lastUp()?.headers.authorization).toBe('Basic YTpi');
  });

  it('strips the session cookie on public routes too', async () => {
    const id = await env.login('alice');
    await env.get('/public/x', id);
    expect(lastUp()?.headers.cookie).toBeUndefined();
  });
});

describe('policy and answers', () => {
  it('401 with WWW-Authenticate for API clients without a session', async () => {
    const before = env.up.received.length;
    const res = await env.get('/app/x');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toContain('realm="gateway"');
    expect(JSON.parse(res.body)).toMatchObject({ error: 'unauthenticated' });
    expect(env.up.received.length).toBe(before);
  });

  it('302 to the login page for a browser asking for HTML, keeping only the path', async () => {
    const res = await env.get('/app/orders?page=2', undefined, { accept: 'text/html,application/xhtml+xml' });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/auth/login?return=%2Fapp%2Forders%3Fpage%3D2');
    const page = await env.get('/auth/login?return=%2Fapp%2Forders', undefined, { accept: 'text/html' });
    expect(page.status).toBe(200);
    expect(page.body).toContain('name="redirect" value="/app/orders"');
  });

  it('refuses a malformed cookie with 401 before any Redis call, and clears it', async () => {
    const gets = await commandCount('get');
    const res = await env.get('/app/x', 'not-a-session-id');
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'session_invalid' });
    expect(res.headers['set-cookie']).toMatch(/^gw-session=; .*Max-Age=0/);
    expect(await commandCount('get')).toBe(gets);
  });

  it('refuses an unknown well-formed cookie with 401 session_invalid', async () => {
    const res = await env.get('/app/x', 'A'.repeat(43));
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'session_invalid' });
  });

  it('403 when signed in without a required role; the role holder passes', async () => {
    const alice = await env.login('alice');
    const before = env.up.received.length;
    const res = await env.get('/admin/x', alice);
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'forbidden' });
    expect(env.up.received.length).toBe(before);
    expect((await env.get('/admin/x', await env.login('root'))).status).toBe(200);
  });
});

describe('CSRF', () => {
  it('refuses cross-site unsafe requests by Sec-Fetch-Site and by Origin, never forwarding them', async () => {
    const id = await env.login('alice');
    const before = env.up.received.length;
    for (const headers of <Record<string, string>[]>[
      { 'sec-fetch-site': 'cross-site', origin: env.origin },
      { origin: 'https://evil.example' },
      { origin: 'null' },
      { referer: 'https://evil.example/page' },
    ]) {
      const res = await env.send('POST', '/app/orders', id, headers, '{}');
      expect(res.status).toBe(403);
      expect(JSON.parse(res.body)).toMatchObject({ error: 'csrf_failed' });
    }
    expect(env.up.received.length).toBe(before);
  });

  it('lets same-origin unsafe requests and safe cross-site ones through', async () => {
    const id = await env.login('alice');
    expect((await env.send('POST', '/app/orders', id, { origin: env.origin, 'sec-fetch-site': 'same-origin' }, '{}')).status).toBe(200);
    expect((await env.send('GET', '/app/orders', id, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' })).status).toBe(200);
    expect((await env.send('POST', '/nocsrf/x', id, { origin: 'https://evil.example' }, '{}')).status).toBe(200);
  });

  it('requires the per-session token on csrf: token routes', async () => {
    const id = await env.login('alice');
    const { csrfToken } = JSON.parse((await env.get('/auth/csrf', id)).body) as { csrfToken: string };
    expect((await env.send('POST', '/strict/x', id, { origin: env.origin }, '{}')).status).toBe(403);
    expect((await env.send('POST', '/strict/x', id, { origin: env.origin, 'x-csrf-token': 'wrong' }, '{}')).status).toBe(403);
    expect((await env.send('POST', '/strict/x', id, { origin: env.origin, 'x-csrf-token': csrfToken }, '{}')).status).toBe(200);
  });

  it('refuses a cross-site sign-in (login CSRF)', async () => {
    const res = await env.send('POST', '/auth/login', undefined, { 'content-type': 'application/json', origin: 'https://evil.example' }, JSON.stringify({ username: 'alice', password: 'pw-alice' }));
    expect(res.status).toBe(403);
  });
});

describe('signing out', () => {
  it('logout ends this session at once and clears the cookie', async () => {
    const id = await env.login('alice');
    expect((await env.get('/app/x', id)).status).toBe(200);
    const res = await env.send('POST', '/auth/logout', id, { origin: env.origin });
    expect(res.status).toBe(204);
    expect(res.headers['set-cookie']).toMatch(/Max-Age=0/);
    expect((await env.get('/app/x', id)).status).toBe(401);
  });

  it('lists the user\'s sessions, marks the current one, deletes another by handle', async () => {
    const c = env.redis.client();
    await c.flushall();
    c.disconnect();
    const a = await env.login('alice', undefined, { 'user-agent': 'laptop' });
    const b = await env.login('alice', undefined, { 'user-agent': 'phone' });
    const list = JSON.parse((await env.get('/auth/sessions', a)).body) as { sessions: { handle: string; current: boolean; userAgent: string; clientIp: string; createdAt: string; lastSeenAt: string }[] };
    expect(list.sessions).toHaveLength(2);
    const current = list.sessions.find((s) => s.current);
    const phone = list.sessions.find((s) => !s.current);
    expect(current?.userAgent).toBe('laptop');
    expect(phone?.userAgent).toBe('phone');
    expect(current?.clientIp).toBe('127.0.0.1');
    expect(JSON.stringify(list)).not.toContain(a);
    expect((await env.send('DELETE', `/auth/sessions/${phone?.handle}`, a, { origin: env.origin })).status).toBe(204);
    expect((await env.get('/app/x', b)).status).toBe(401);
    expect((await env.get('/app/x', a)).status).toBe(200);
    expect((await env.send('DELETE', `/auth/sessions/${'x'.repeat(22)}`, a, { origin: env.origin })).status).toBe(404);
  });

  it('logout-all ends every session of the user and no one else\'s', async () => {
    const a = await env.login('alice');
    const b = await env.login('alice');
    const r = await env.login('root');
    const res = await env.send('POST', '/auth/logout-all', a, { origin: env.origin });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).revoked).toBeGreaterThanOrEqual(2);
    expect((await env.get('/app/x', a)).status).toBe(401);
    expect((await env.get('/app/x', b)).status).toBe(401);
    expect((await env.get('/app/x', r)).status).toBe(200);
  });

  it('admin revocation on the admin listener ends every session of a user', async () => {
    const a = await env.login('alice');
    const res = await request(`${env.gw.adminUrl}/admin/users/u-alice/revoke`, { method: 'POST', headers: ADMIN_AUTH });
    expect(res.statusCode).toBe(200);
    expect(((await res.body.json()) as { revoked: number }).revoked).toBeGreaterThanOrEqual(1);
    expect((await env.get('/app/x', a)).status).toBe(401);
    const publicSide = await env.send('POST', '/admin/users/u-alice/revoke');
    expect(publicSide.headers['x-gateway-error']).not.toBe(undefined);
  });
});
