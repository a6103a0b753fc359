// Request shapes an upstream could read differently from the gateway: header names with `_`,
// routing and method-override headers, identity headers by prefix, duplicates the specs forbid,
// too many headers, a method the longest route refuses, and paths that change route when case is
// ignored. Each is refused (or stripped) before anything reaches an upstream. The same classes are
// shown against real legacy backends in legacy-differentials.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTING_HEADERS } from '../../src/config/header-names.js';
import { route, startTestGateway, type TestGateway } from '../support/gateway.js';
import { rawGet, rawRequest } from '../support/raw.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

let up: Upstream;
let admin: Upstream;
let gw: TestGateway;

beforeAll(async () => {
  up = await startUpstream();
  admin = await startUpstream();
  gw = await startTestGateway({
    routes: [
      route('site', '/', up.url),
      route('legacy', '/legacy', up.url, { keepUnderscoreHeaders: true }),
      { ...route('admin', '/admin', admin.url, { match: { methods: ['GET'] } }), auth: 'session' },
      route('iis', '/Reports', admin.url, { match: { caseInsensitive: true } }),
      route('iis-app', '/app', `${admin.url}/public-app`, { match: { caseInsensitive: true }, upstream: { stripPrefix: true } }),
    ],
    gateway: { identityHeaders: ['x-tenant-*'], trustedProxies: ['10.0.0.0/8'], trustedProxyHeaders: ['X-Forwarded-Prefix'] },
  });
});
afterAll(async () => {
  await gw.stop();
  await Promise.all([up.close(), admin.close()]);
});

const last = (u: Upstream) => u.received[u.received.length - 1];
const counts = () => [up.received.length, admin.received.length];

describe('header names with underscores (CGI reads X_User as X-User)', () => {
  it.each(['X.User', 'X~User', 'X!User', "X'User", 'X*User', 'X+User', 'X^User', 'X|User', 'X#User', 'X$User', 'X%User', 'X&User', 'X`User'])(
    'drops %s too (lighttpd and Apache 2.2 fold every such character into "_")',
    async (name) => {
      await rawGet(gw.url, '/page', { [name]: 'admin' });
      expect(Object.keys(last(up)?.headers ?? {}).filter((n) => /[^a-z0-9-]/.test(n))).toEqual([]);
    },
  );

  it('drops every client header whose name holds "_" by default', async () => {
    const res = await rawGet(gw.url, '/page', { X_User: 'admin', X_Forwarded_For: '6.6.6.6', X_Request_Id: 'forged', Custom_Header: 'x', 'X-Kept': 'yes' });
    expect(res.status).toBe(200);
    const names = Object.keys(last(up)?.headers ?? {});
    expect(names.filter((n) => n.includes('_'))).toEqual([]);
    expect(last(up)?.headers['x-kept']).toBe('yes');
  });

  it('keeps them on a keepUnderscoreHeaders route, except where their "-" spelling is stripped', async () => {
    await rawGet(gw.url, '/legacy/page', {
      X_User: 'admin',
      X_Forwarded_For: '6.6.6.6',
      X_Original_URL: '/admin',
      X_Request_Id: 'forged',
      X_Auth_Request_Email: 'a@b',
      'X.User': 'admin',
      'Client~IP': '10.0.0.1',
      Custom_Header: 'kept',
      'Custom.Dotted': 'kept',
    });
    const h = last(up)?.headers ?? {};
    expect(Object.keys(h).filter((n) => /[^a-z0-9-]/.test(n)).sort()).toEqual(['custom.dotted', 'custom_header']);
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
  });
});

describe('routing and method-override headers', () => {
  it('strips every one of them from clients', async () => {
    const headers = Object.fromEntries(ROUTING_HEADERS.map((h) => [h, h.includes('method') ? 'DELETE' : '/admin/secret']));
    await rawGet(gw.url, '/page', headers);
    const h = last(up)?.headers ?? {};
    expect(ROUTING_HEADERS.filter((name) => h[name] !== undefined)).toEqual([]);
  });

  it('keeps the ones named in trustedProxyHeaders only from a trusted proxy', async () => {
    const g = await startTestGateway({
      routes: [route('site', '/', up.url)],
      gateway: { trustedProxies: ['127.0.0.0/8'], trustedProxyHeaders: ['x-forwarded-prefix'] },
    });
    try {
      await rawGet(g.url, '/p', { 'X-Forwarded-Prefix': '/shop', 'X-Original-URL': '/admin', X_Forwarded_Prefix: '/x' });
      const h = last(up)?.headers ?? {};
      expect(h['x-forwarded-prefix']).toBe('/shop');
      expect(h['x-original-url']).toBeUndefined();
      expect(h.x_forwarded_prefix).toBeUndefined();
    } finally {
      await g.stop();
    }
    // gw trusts 10.0.0.0/8 only: from 127.0.0.1 the same header is dropped.
    await rawGet(gw.url, '/p', { 'X-Forwarded-Prefix': '/shop' });
    expect(last(up)?.headers['x-forwarded-prefix']).toBeUndefined();
  });
});

describe('identity and client-address headers', () => {
  it.each([
    'X-Client-IP',
    'Client-IP',
    'True-Client-IP',
    'CF-Connecting-IP',
    'Fastly-Client-IP',
    'X-Cluster-Client-IP',
    'X-Originating-IP',
    'X-Forwarded',
    'X-Email',
    'X-Roles',
    'Impersonate-User',
    'Remote-User-Name',
    'X-User-Roles',
    'X-Userinfo',
    'Remote-User',
    'Remote-Groups',
    'X-Remote-Group',
    'X-Auth-Request-Preferred-Username',
    'X-Authenticated-Userid',
    'X-Consumer-Username',
    'Cf-Access-Authenticated-User-Email',
    'X-Amzn-Oidc-Identity',
    'X-Ms-Client-Principal-Name',
    'X-Goog-Authenticated-User-Email',
    'X-Forwarded-Client-Cert',
    'X-Ssl-Client-S-Dn',
    'X-Gateway-Anything',
    'X-Tenant-Id',
  ])('strips %s (built-in list and identityHeaders prefixes)', async (name) => {
    await rawGet(gw.url, '/page', { [name]: 'admin' });
    expect(last(up)?.headers[name.toLowerCase()]).toBeUndefined();
  });
});

describe('duplicates and counts', () => {
  async function raw(lines: string[]): Promise<{ status: number; code: string | undefined }> {
    const res = await rawRequest(gw.url, `GET /page HTTP/1.1\r\n${lines.join('\r\n')}\r\nConnection: close\r\n\r\n`);
    return { status: res.status, code: res.headers['x-gateway-error'] };
  }

  it.each([
    ['two Host lines (RFC 9112 §3.2)', ['Host: a.example', 'Host: b.example'], 'duplicate_header'],
    ['two Host lines, same value', ['Host: a.example', 'host: a.example'], 'duplicate_header'],
    ['two Authorization lines', ['Host: x', 'Authorization: Bearer a', 'Authorization: Bearer b'], 'duplicate_header'],
    ['two session cookies with different values (cookie tossing)', ['Host: x', 'Cookie: gw-session=victim; gw-session=attacker'], 'cookie_conflict'],
    ['two Cookie lines with different session cookies', ['Host: x', 'Cookie: gw-session=victim', 'Cookie: theme=1; gw-session=attacker'], 'cookie_conflict'],
    ['two refresh cookies with different values', ['Host: x', 'Cookie: __Secure-refresh=a; __Secure-refresh=b'], 'cookie_conflict'],
  ])('refuses %s with 400 and forwards nothing', async (_what, lines, code) => {
    const before = counts();
    const res = await raw(lines);
    expect(res).toEqual({ status: 400, code });
    expect(counts()).toEqual(before);
  });

  it('lets the same session cookie sent twice through (and strips both)', async () => {
    const res = await raw(['Host: x', 'Cookie: gw-session=same; theme=1; gw-session=same']);
    expect(res.status).toBe(200);
    expect(last(up)?.headers.cookie).toBe('theme=1');
  });

  it('answers 431 too_many_headers past limits.maxHeaderCount, where Node would silently drop the rest', async () => {
    const lines = ['Host: x', ...Array.from({ length: 100 }, (_, i) => `X-H${i}: v`)];
    const before = counts();
    expect(await raw(lines)).toEqual({ status: 431, code: 'too_many_headers' });
    expect(counts()).toEqual(before);
    expect((await raw(lines.slice(0, 98))).status).toBe(200);
  });

  it('sees a second Host at the end of a header list just under the limit', async () => {
    const lines = ['Host: x', ...Array.from({ length: 97 }, (_, i) => `X-H${i}: v`), 'Host: evil.example'];
    const before = counts();
    expect((await raw(lines)).status).toBe(400);
    expect(counts()).toEqual(before);
  });
});

describe('routes and methods', () => {
  it('answers 405 with Allow when the longest route refuses the method, never the shorter public route', async () => {
    const before = counts();
    const res = await rawRequest(gw.url, 'DELETE /admin/users/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD');
    expect(counts()).toEqual(before);
  });

  it.each(['/ADMIN/users', '/Admin', '/admin./users', '/admin%20/users', '/%EF%BD%81dmin/users', '/adm%C4%B0n'])(
    '%s: 400 ambiguous_path, since a case-insensitive backend would read the protected route',
    async (target) => {
      const before = counts();
      const res = await rawGet(gw.url, target);
      expect(res.status).toBe(400);
      expect(res.headers['x-gateway-error']).toBe('ambiguous_path');
      expect(counts()).toEqual(before);
    },
  );

  it.each([
    ['/app../admin', '/public-app/admin'],
    ['/APP/x', '/public-app/x'],
    ['/%EF%BD%81pp/x', '/public-app/x'],
    ['/App.%20/x', '/public-app/x'],
    ['/app.', '/public-app/'],
  ])('stripPrefix on a caseInsensitive route strips segments, never characters: %s → %s', async (target, expected) => {
    const res = await rawGet(gw.url, target);
    expect(res.status).toBe(200);
    expect(last(admin)?.url).toBe(expected);
  });

  it('matches a caseInsensitive route in any case and sends the path as received', async () => {
    for (const target of ['/reports/q1', '/REPORTS/q1', '/Reports./q1']) {
      const res = await rawGet(gw.url, target);
      expect(res.status).toBe(200);
      expect(last(admin)?.url).toBe(target);
    }
  });
});
