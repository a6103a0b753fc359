// Forward-auth end to end: a real nginx (auth_request) and a real Caddy (forward_auth), each run
// with the snippet docs/forward-auth.md shows, in front of a real upstream, asking the gateway's
// /auth/decide. Signed-in requests reach the upstream with the internal token and without the
// session cookie; what proxy mode refuses is refused here too (not signed in, not allowed, CSRF,
// identity and override headers, underscore spellings, replayed internal tokens, ambiguous
// paths); Redis down is never an allow; only trusted peers get decisions.
import { decodeJwt } from 'jose';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCaddy, startNginx, type Edge } from '../support/edge.js';
import { route, startTestGateway, type TestGateway } from '../support/gateway.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { COOKIE, startVerifier } from '../support/session-gateway.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

let redis: RedisServer;
let verifier: Upstream;
let up: Upstream;

/** One gateway per edge kind (forwardAuth.edge), on the same Redis. */
const gws: Record<string, TestGateway> = {};
const edges: Record<string, Edge> = {};

beforeAll(async () => {
  redis = await startRedis();
  verifier = await startVerifier();
  up = await startUpstream();
  const backend = new URL(up.url).host;
  for (const [name, startEdge] of [
    ['nginx', startNginx],
    ['caddy', startCaddy],
  ] as const) {
    const gw = await startTestGateway({
      routes: [
        { ...route('app', '/app', up.url), auth: 'session', identityHeaders: { 'X-Forwarded-User': 'sub' }, token: { audience: 'app', claims: ['email'] } },
        { ...route('admin', '/admin', up.url), auth: 'session', require: { roles: ['admin'] } },
        route('pub', '/pub', up.url),
      ],
      gateway: {
        forwardAuth: { enabled: true, edge: name },
        trustedProxies: ['127.0.0.1/32'],
        redis: { url: redis.url, commandTimeout: '300ms', connectTimeout: '1s' },
        session: { store: 'redis', cookie: { name: COOKIE, secure: false } },
        login: { verifyUrl: `${verifier.url}/verify` },
      },
    });
    gws[name] = gw;
    edges[name] = await startEdge(new URL(gw.url).host, backend);
  }
}, 60_000);

afterAll(async () => {
  for (const e of Object.values(edges)) await e.stop();
  for (const g of Object.values(gws)) await g.stop();
  await Promise.all([verifier?.close(), up?.close()]);
  await redis?.dispose();
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

async function call(edge: Edge, path: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<Answer> {
  const res = await request(`${edge.url}${path}`, { method: method as 'GET', headers, body });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

/** Sign in through the edge (the gateway's /auth/ is proxied by it): the session cookie. */
async function signIn(edge: Edge, username = 'alice'): Promise<string> {
  const res = await call(edge, '/auth/login', { 'content-type': 'application/json', origin: edge.url }, 'POST', JSON.stringify({ username, password: `pw-${username}` }));
  expect(res.status, res.body).toBe(200);
  return `${COOKIE}=${/^gw-session=([^;]+)/.exec(String(res.headers['set-cookie']))?.[1] as string}`;
}

/** A GET sent as written (undici and URL would resolve `%2e%2e` first): the status and the whole answer. */
function rawRequest(edge: Edge, path: string, extra = ''): Promise<{ status: number; text: string }> {
  const { port } = new URL(edge.url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), '127.0.0.1', () => s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${extra}Connection: close\r\n\r\n`));
    let got = '';
    s.on('data', (c: Buffer) => (got += c.toString()));
    s.on('error', reject);
    s.on('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? 0), text: got }));
  });
}

async function rawGet(edge: Edge, path: string): Promise<number> {
  return (await rawRequest(edge, path)).status;
}

/** What the upstream received last for `path`, or undefined when it got nothing. */
function received(path: string) {
  return up.received.filter((r) => r.url === path).at(-1);
}

describe.each(['nginx', 'caddy'])('forward-auth behind %s', (name) => {
  const edge = () => edges[name] as Edge;

  it('lets a signed-in request through with the internal token and identity headers, never the session cookie', async () => {
    const cookie = await signIn(edge());
    const path = `/app/${name}/ok?x=1`;
    const res = await call(edge(), path, { cookie: `${cookie}; theme=dark`, authorization: 'Bearer client-token' });
    expect(res.status, edge().output()).toBe(200);
    const seen = received(path);
    expect(seen).toBeDefined();
    const token = String(seen?.headers.authorization).replace(/^Bearer /, '');
    expect(decodeJwt(token)).toMatchObject({ sub: 'u-alice', aud: 'app', email: 'alice@example.com' });
    expect(seen?.headers['x-forwarded-user']).toBe('u-alice');
    expect(seen?.headers.cookie).toBe('theme=dark');
  });

  it('sends a browser that is not signed in to sign in, and answers other clients 401', async () => {
    const browser = await call(edge(), `/app/${name}/page`, { accept: 'text/html' });
    expect(browser.status).toBe(302);
    expect(browser.headers.location).toBe(`${edge().url}/auth/login?return=${encodeURIComponent(`/app/${name}/page`)}`);
    const api = await call(edge(), `/app/${name}/api`, { accept: 'application/json' });
    expect(api.status).toBe(401);
    expect(received(`/app/${name}/api`)).toBeUndefined();
  });

  it('refuses what proxy mode refuses: a missing role, a cross-site POST, identity and override headers, underscore spellings, internal tokens, ambiguous paths', async () => {
    const cookie = await signIn(edge());
    const before = up.received.length;
    expect((await call(edge(), `/admin/${name}`, { cookie })).status).toBe(403);
    expect((await call(edge(), `/app/${name}/form`, { cookie, origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' }, 'POST', 'a=1')).status).toBe(403);
    expect((await call(edge(), `/app/${name}/x`, { cookie, 'x-user': 'root' })).status).toBe(403);
    expect((await call(edge(), `/pub/${name}/x`, { 'remote-user': 'root' })).status).toBe(403);
    expect((await call(edge(), `/pub/${name}/x`, { 'x-http-method-override': 'DELETE' })).status).toBe(403);
    // nginx drops names with underscores itself; Caddy passes them, and the decision refuses them.
    expect((await call(edge(), `/pub/${name}/under`, { x_user: 'root' })).status).toBe(name === 'nginx' ? 200 : 403);
    const underscore = received(`/pub/${name}/under`);
    expect(underscore?.headers.x_user).toBeUndefined();
    const internal = `Bearer ${Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'gateway-internal+jwt' })).toString('base64url')}.e30.sig`;
    expect((await call(edge(), `/pub/${name}/x`, { authorization: internal })).status).toBe(403);
    // A path the gateway cannot normalize safely is refused (nginx turns the 400 into 500).
    const traversal = await call(edge(), `/pub/..%2f${name}`, {});
    expect([400, 403, 404, 500]).toContain(traversal.status);
    expect(up.received.length - before).toBe(name === 'nginx' ? 1 : 0);
  });

  it('believes only its own edge\'s description of the request: another edge\'s headers are refused, not read', async () => {
    // Through nginx, a client's X-Forwarded-Uri must not make /admin look like /pub; through Caddy,
    // a client's X-Original-URL neither (Caddy overwrites X-Forwarded-Uri itself).
    const spoof: Record<string, string> = name === 'nginx' ? { 'x-forwarded-uri': '/pub/anything', 'x-forwarded-method': 'GET' } : { 'x-original-url': 'http://x/pub/anything' };
    expect((await call(edge(), `/admin/${name}/secret`, spoof)).status).toBe(403);
    expect((await call(edge(), `/pub/${name}/p`, { 'x-forwarded-prefix': '/admin', forwarded: 'host=evil.example' })).status).toBe(403);
    expect(received(`/admin/${name}/secret`)).toBeUndefined();
    expect(received(`/pub/${name}/p`)).toBeUndefined();
  });

  it('refuses an original path that is not in normalized form: the upstream would get it as written', async () => {
    for (const path of [`/admin/%2e%2e/pub/${name}`, `/admin/%2E%2E/pub/${name}2`]) {
      const res = await rawGet(edge(), path);
      expect(res, path).not.toBe(200);
    }
    expect(up.received.some((r) => r.url.startsWith('/admin/'))).toBe(false);
  });

  it('answers /auth/decide from outside with 404, however it is spelt: its answers carry internal tokens', async () => {
    const cookie = await signIn(edge());
    const res = await call(edge(), '/auth/decide', { cookie, 'x-forwarded-uri': '/app/x', 'x-original-url': 'http://x/app/x' });
    expect(res.status).toBe(404);
    expect(res.headers.authorization).toBeUndefined();
    // Spellings that only normalize to /auth/decide (nginx's location does not read `\` as `/`).
    for (const path of ['/auth/x\\..\\decide', '/auth/x/..\\decide', '/auth//decide', '/auth/./decide']) {
      const raw = await rawRequest(edge(), path, `Cookie: ${cookie}\r\nX-Original-URL: http://127.0.0.1/app/x\r\nX-Forwarded-Uri: /app/x\r\n`);
      expect(raw.status, path).not.toBe(200);
      expect(raw.text, path).not.toMatch(/authorization: Bearer/i);
    }
  });

  it('keeps the headers its decision requests use away from the upstream', async () => {
    const cookie = await signIn(edge());
    const path = `/app/${name}/hdrs`;
    // The edge's own description headers, sent by the client: overwritten for the decision, removed
    // from the upstream request (another edge's are refused: the test above).
    const own: Record<string, string> = name === 'nginx' ? { 'x-original-method': 'DELETE' } : { 'x-forwarded-uri': '/admin/x', 'x-forwarded-method': 'DELETE' };
    expect((await call(edge(), path, { cookie, ...own })).status).toBe(200);
    const seen = received(path)?.headers ?? {};
    for (const h of Object.keys(own)) expect(seen[h], h).toBeUndefined();
  });

  it('never lets the edge invent an identity header: a route without one answers it empty', async () => {
    const res = await call(edge(), `/pub/${name}/anon`, { 'x-forwarded-user': 'root' });
    expect(res.status).toBe(403);
    expect((await call(edge(), `/pub/${name}/anon2`, {})).status).toBe(200);
    const seen = received(`/pub/${name}/anon2`)?.headers ?? {};
    expect(seen['x-forwarded-user'] ?? '').toBe('');
  });

  it('never passes the client\'s X-Original-URL to the upstream, and refuses other routing overrides', async () => {
    // nginx overwrites it on the decision request (so it is read there as its own) and the snippet
    // removes the client's from the upstream request; through Caddy it is another edge's: refused.
    const res = await call(edge(), `/pub/${name}/route`, { 'x-original-url': '/admin/secret' });
    expect(res.status).toBe(name === 'nginx' ? 200 : 403);
    expect(received(`/pub/${name}/route`)?.headers['x-original-url']).toBeUndefined();
    expect((await call(edge(), `/pub/${name}/rewrite`, { 'x-rewrite-url': '/admin/secret' })).status).toBe(403);
    expect(received(`/pub/${name}/rewrite`)).toBeUndefined();
  });
});

describe('the decision endpoint itself', () => {
  it('answers trusted peers only', async () => {
    // From 127.0.0.2: a loopback address outside trustedProxies.
    const answer = await new Promise<{ status: number; code: unknown }>((resolve, reject) => {
      const { port } = new URL((gws.caddy as TestGateway).url);
      httpRequest({ host: '127.0.0.1', port, path: '/auth/decide', localAddress: '127.0.0.2', headers: { 'x-forwarded-uri': '/pub/x', 'x-forwarded-host': 'app.example' } }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, code: res.headers['x-gateway-error'] }));
      })
        .on('error', reject)
        .end();
    });
    expect(answer).toEqual({ status: 403, code: 'decide_refused' });
  });

  it('takes Envoy\'s form (the original path after /auth/decide) when the edge is envoy', async () => {
    const envoy = await startTestGateway({ routes: [route('pub', '/pub', up.url)], gateway: { forwardAuth: { enabled: true, edge: 'envoy' }, trustedProxies: ['127.0.0.1/32'] } });
    try {
      const ok = await request(`${envoy.url}/auth/decide/pub/envoy?q=1`, { headers: { 'x-forwarded-proto': 'https' } });
      expect(ok.statusCode).toBe(200);
      await ok.body.dump();
      const spoof = await request(`${envoy.url}/auth/decide/pub/envoy`, { headers: { 'x-forwarded-uri': '/elsewhere' } });
      expect([spoof.statusCode, spoof.headers['x-gateway-error']]).toEqual([403, 'header_refused']);
      await spoof.body.dump();
    } finally {
      await envoy.stop();
    }
  });

  it('is the decision endpoint only as written: a path that merely normalizes to it is not (defence beside the snippets\' rule)', async () => {
    const gw = gws.nginx as TestGateway;
    const { port } = new URL(gw.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const s = connect(Number(port), '127.0.0.1', () => s.write('GET /auth/x\\..\\decide HTTP/1.1\r\nHost: x\r\nX-Original-URL: http://x/pub/a\r\nConnection: close\r\n\r\n'));
      let got = '';
      s.on('data', (c: Buffer) => (got += c.toString()));
      s.on('error', reject);
      s.on('close', () => resolve(got));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 404 /);
  });

  it('refuses a decision request without the original URI its edge sends', async () => {
    const none = await request(`${(gws.caddy as TestGateway).url}/auth/decide`);
    expect([none.statusCode, none.headers['x-gateway-error']]).toEqual([400, 'bad_request']);
    await none.body.dump();
  });

  it('with Redis stopped, never allows: 503 (nginx and Caddy refuse the request)', async () => {
    const cookie = await signIn(edges.nginx as Edge);
    await redis.stop();
    try {
      const direct = await request(`${(gws.caddy as TestGateway).url}/auth/decide`, { headers: { cookie, 'x-forwarded-uri': '/app/down', 'x-forwarded-host': 'app.example' } });
      expect(direct.statusCode).toBe(503);
      await direct.body.dump();
      for (const e of Object.values(edges)) expect((await call(e, '/app/down', { cookie })).status).toBeGreaterThanOrEqual(500);
      expect(received('/app/down')).toBeUndefined();
    } finally {
      await redis.start();
    }
  });
});
