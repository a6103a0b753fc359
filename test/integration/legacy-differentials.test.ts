// The differential suite: real legacy backends behind the gateway, each with the quirk that makes a
// gateway's check and the upstream's action disagree (test/unit/legacy-upstreams.test.ts shows the
// quirks directly). For each bypass class: the protected resource is not reached, the gateway's
// refusal (where it refuses) carries its stable code, and the upstream logged nothing for it (or,
// where the gateway strips rather than refuses, logged the request without the attacker's part).
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { route } from '../support/gateway.js';
import { startExpressUpstream, type ExpressUpstream } from '../support/legacy/express-app.js';
import { startOriginalUrlUpstream, type OriginalUrlUpstream } from '../support/legacy/original-url-server.js';
import { startWsgiUpstream, type WsgiUpstream } from '../support/legacy/wsgi.js';
import { rawGet, rawRequest } from '../support/raw.js';
import { COOKIE, startSessionEnv, type SessionEnv } from '../support/session-gateway.js';

let wsgi: WsgiUpstream;
let express: ExpressUpstream;
let rewriter: OriginalUrlUpstream;
let env: SessionEnv;

beforeAll(async () => {
  [wsgi, express, rewriter] = await Promise.all([startWsgiUpstream(), startExpressUpstream(), startOriginalUrlUpstream()]);
  env = await startSessionEnv({
    routes: () => [
      // A header-trusting WSGI app: its /admin believes HTTP_X_USER.
      route('wsgi', '/wsgi', wsgi.url, { upstream: { stripPrefix: true } }),
      // An Express app (case-insensitive router, method-override) with a public site and a protected area.
      route('express-site', '/', express.url),
      { ...route('express-admin', '/admin', express.url, { match: { methods: ['GET'] } }), auth: 'session', require: { roles: ['admin'] } },
      route('items-read', '/items', express.url, { match: { methods: ['GET', 'POST'] } }),
      { ...route('items-delete', '/items', express.url, { match: { methods: ['DELETE'] } }), auth: 'session', require: { roles: ['admin'] } },
      // A server that obeys X-Original-URL, like IIS URL Rewrite or Symfony.
      route('rewriter-site', '/site', rewriter.url),
      { ...route('rewriter-admin', '/site/admin', rewriter.url), auth: 'session', require: { roles: ['admin'] } },
    ],
  });
});
afterAll(async () => {
  await env?.close();
  await Promise.all([wsgi?.close(), express?.close(), rewriter?.close()]);
});

async function raw(method: string, target: string, lines: string[] = []) {
  const res = await rawRequest(env.gw.url, `${method} ${target} HTTP/1.1\r\nHost: gw.test\r\n${lines.map((l) => `${l}\r\n`).join('')}Connection: close\r\n\r\n`);
  return { status: res.status, code: res.headers['x-gateway-error'], body: res.body, headers: res.headers };
}

describe('WSGI: header names with underscores', () => {
  it('X_User never becomes HTTP_X_USER: the header-trusting /admin stays closed', async () => {
    const before = wsgi.received.length;
    const res = await raw('GET', '/wsgi/admin/panel', ['X_User: admin']);
    await wsgi.settle();
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toEqual({ error: 'not admin' });
    expect(wsgi.received.slice(before).map((r) => r.remote_user)).toEqual([null]);
  });

  it.each([
    ['X_Forwarded_For', 'HTTP_X_FORWARDED_FOR', '127.0.0.1'],
    ['X_Real_IP', 'HTTP_X_REAL_IP', undefined],
    ['X_Request_Id', 'HTTP_X_REQUEST_ID', 'gateway-generated'],
    ['X_Original_URL', 'HTTP_X_ORIGINAL_URL', undefined],
    ['X_HTTP_Method_Override', 'HTTP_X_HTTP_METHOD_OVERRIDE', undefined],
    ['X_Forwarded_User', 'HTTP_X_FORWARDED_USER', undefined],
  ])('%s never reaches the app as %s', async (header, cgi, expected) => {
    const before = wsgi.received.length;
    await raw('GET', '/wsgi/page', [`${header}: 6.6.6.6-spoofed`]);
    await wsgi.settle();
    const seen = wsgi.received.slice(before)[0]?.env[cgi];
    if (expected === 'gateway-generated') expect(seen).toMatch(/^[0-9a-f-]{36}$/);
    else expect(seen).toBe(expected);
    expect(JSON.stringify(wsgi.received.slice(before))).not.toContain('spoofed');
  });
});

describe('WSGI: paths it would decode differently', () => {
  it.each([
    ['/wsgi/%EF%BC%8Fadmin', 'bad_path'],
    ['/wsgi/public/%EF%BC%8E%EF%BC%8E/admin', 'bad_path'],
    ['/wsgi/adm%C0%AFin', 'bad_path'],
    ['/wsgi/admin%FF', 'bad_path'],
    ['/wsgi/%252e%252e/admin', 'bad_path'],
  ])('%s: 400 %s, and the app (which decodes PATH_INFO as Latin-1) logs nothing', async (target, code) => {
    const before = wsgi.received.length;
    const res = await rawGet(env.gw.url, target);
    await wsgi.settle();
    expect(res.status).toBe(400);
    expect(res.headers['x-gateway-error']).toBe(code);
    expect(wsgi.received.length).toBe(before);
  });
});

describe('Express: a case-insensitive router', () => {
  it.each(['/ADMIN/secret', '/Admin/secret', '/aDmIn', '/ADM%C4%B0N/secret', '/%EF%BC%A1dmin/secret'])('%s: 400 ambiguous_path; the admin handler is never reached', async (target) => {
    const before = express.received.length;
    const res = await raw('GET', target);
    expect(res.status).toBe(400);
    expect(res.code).toBe('ambiguous_path');
    expect(express.received.length).toBe(before);
  });

  it('the same path in its exact case still needs a session (401), and the admin sees it (200)', async () => {
    expect((await raw('GET', '/admin/secret')).code).toBe('unauthenticated');
    const id = await env.login('root');
    const res = await env.get('/admin/secret', id);
    expect(res.status).toBe(200);
    expect(express.received.at(-1)?.handler).toBe('admin');
  });
});

describe('Express: method override', () => {
  it.each(['X-HTTP-Method-Override', 'X-HTTP-Method', 'X-Method-Override'])(
    'POST with %s: DELETE is a POST to the app: the public route never becomes the protected DELETE',
    async (header) => {
      const before = express.received.length;
      const res = await raw('POST', '/items/7', [`${header}: DELETE`, 'Content-Length: 0']);
      expect(res.status).toBe(200);
      expect(res.body).toBe('posted 7');
      const seen = express.received.slice(before);
      expect(seen.map((r) => [r.originalMethod, r.method, r.handler])).toEqual([['POST', 'POST', 'post-item']]);
      expect(seen[0]?.headers[header.toLowerCase()]).toBeUndefined();
    },
  );

  it.each([
    '_method=DELETE',
    '%5Fmethod=DELETE',
    '_METHOD=delete',
    '.method=DELETE',
    'x=1&_method=DELETE',
    'x=1;_method=DELETE',
    '_method%00=DELETE',
    '_method%00junk=DELETE',
    '+_method=DELETE',
    'X-HTTP-Method-Override=DELETE',
    'X_HTTP_METHOD_OVERRIDE=DELETE',
  ])(
    'POST /items/7?%s: 400 method_override_refused (the app reads _method from the query), nothing reaches the app',
    async (query) => {
      const before = express.received.length;
      const res = await raw('POST', `/items/7?${query}`, ['Content-Length: 0']);
      expect(res.status).toBe(400);
      expect(res.code).toBe('method_override_refused');
      expect(express.received.length).toBe(before);
    },
  );

  it('a GET with _method in its query is no override (frameworks apply it to POST only) and passes', async () => {
    const res = await raw('GET', '/items/7?_method=DELETE');
    expect(res.status).toBe(200);
    expect(express.received.at(-1)?.handler).toBe('get-item');
  });

  it('a real DELETE meets the protected route: 401 unauthenticated, nothing reaches the app', async () => {
    const before = express.received.length;
    const res = await raw('DELETE', '/items/7');
    expect(res.status).toBe(401);
    expect(res.code).toBe('unauthenticated');
    expect(express.received.length).toBe(before);
  });
});

describe('Express: method fallback', () => {
  it('DELETE /admin/x: 405 with Allow (the longest route takes GET only), never the public site route', async () => {
    const before = express.received.length;
    const res = await raw('DELETE', '/admin/users/1');
    expect(res.status).toBe(405);
    expect(res.code).toBe('method_not_allowed');
    expect(res.headers.allow).toBe('GET, HEAD');
    expect(express.received.length).toBe(before);
  });
});

describe('A server that obeys X-Original-URL (IIS URL Rewrite, Symfony)', () => {
  it.each([['X-Original-URL'], ['X-Rewrite-URL'], ['x-original-url']])(
    'GET /site/page with %s: /site/admin is acted on as /site/page: the admin handler is never reached',
    async (header) => {
      const before = rewriter.received.length;
      const res = await raw('GET', '/site/page', [`${header}: /admin/secret`]);
      expect(res.status).toBe(200);
      const seen = rewriter.received.slice(before);
      expect(seen.map((r) => [r.effectivePath, r.handler])).toEqual([['/site/page', 'other']]);
    },
  );
});

describe('Duplicates and limits against a real upstream', () => {
  it.each([
    ['two Host lines', 'duplicate_header', 400, ['Host: evil.example']],
    ['two Authorization lines', 'duplicate_header', 400, ['Authorization: Basic YTpi', 'Authorization: Bearer x']],
    ['two session cookies', 'cookie_conflict', 400, [`Cookie: ${COOKIE}=one; ${COOKIE}=two`]],
    ['150 header lines', 'too_many_headers', 431, Array.from({ length: 150 }, (_, i) => `X-Pad-${i}: v`)],
  ] as const)('%s: %s (%i), the WSGI app logs nothing', async (_what, code, status, lines) => {
    const before = wsgi.received.length;
    const res = await raw('GET', '/wsgi/page', [...lines]);
    await wsgi.settle();
    expect(res.status).toBe(status);
    expect(res.code).toBe(code);
    expect(wsgi.received.length).toBe(before);
  });

  it('a request with none of these reaches it (the suite is not vacuous)', async () => {
    const res = await request(`${env.gw.url}/wsgi/page`);
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    await wsgi.settle();
    expect(wsgi.received.at(-1)?.path).toBe('/page');
  });
});
