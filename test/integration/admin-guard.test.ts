// The admin listener refuses browser pages and DNS rebinding, and its mutating endpoints need the
// admin credential: a page open in the operator's browser can neither revoke sessions nor read
// metrics, whatever host name it reaches the listener under.
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_AUTH, ADMIN_TOKEN, route, startTestGateway, type TestGateway } from '../support/gateway.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

let up: Upstream;
let gw: TestGateway;

beforeAll(async () => {
  up = await startUpstream();
  gw = await startTestGateway({ routes: [route('catchall', '/', up.url)], gateway: { admin: { allowedHosts: ['gateway-admin.internal'] } } });
});
afterAll(async () => {
  await gw.stop();
  await up.close();
});

const revokePath = '/admin/users/u-alice/revoke';

async function admin(path: string, method: 'GET' | 'POST', headers: Record<string, string> = {}) {
  const res = await request(`${gw.adminUrl}${path}`, { method, headers });
  const body = await res.body.text();
  return { status: res.statusCode, code: res.headers['x-gateway-error'], headers: res.headers, body };
}

describe('admin listener: who may call it', () => {
  it.each([
    ['an Origin header (a page sending fetch or a form)', { origin: 'https://evil.example' }],
    ['an Origin of the admin listener itself', { origin: 'http://127.0.0.1:9090' }],
    ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
    ['Sec-Fetch-Site: same-site', { 'sec-fetch-site': 'same-site' }],
    ['a DNS-rebinding host name', { host: 'attacker.example:9090' }],
    ['a malformed Host', { host: 'a b' }],
  ])('refuses %s on reads and writes', async (_what, headers) => {
    for (const [path, method] of [['/metrics', 'GET'], ['/readyz', 'GET'], [revokePath, 'POST']] as const) {
      const res = await admin(path, method, { ...ADMIN_AUTH, ...headers });
      expect(res.status).toBe(403);
      expect(res.code).toBe('origin_not_allowed');
      expect(res.body).not.toContain('gateway_requests_total');
    }
  });

  it.each([['127.0.0.1:9090'], ['[::1]:9090'], ['10.1.2.3'], ['localhost:9090'], ['metrics.localhost'], ['GATEWAY-ADMIN.internal:9090']])(
    'answers Host %s (IP addresses, localhost, admin.allowedHosts)',
    async (host) => {
      expect((await admin('/healthz', 'GET', { host })).status).toBe(200);
    },
  );

  it('answers a direct navigation (Sec-Fetch-Site: none) to a read endpoint', async () => {
    expect((await admin('/healthz', 'GET', { 'sec-fetch-site': 'none' })).status).toBe(200);
  });

  it('refuses revocation without the credential or with a wrong one, and ends nothing', async () => {
    const sessionsBefore = (await gw.auth.sessions.list('u-alice')).length;
    await gw.auth.sessions.create({ sub: 'u-alice', claims: {}, clientIp: '127.0.0.1', userAgent: 'test' });
    for (const headers of [{} as Record<string, string>, { authorization: 'Bearer wrong-credential-0123456789abcdef0123' }, { authorization: ADMIN_TOKEN }, { authorization: `Basic ${ADMIN_TOKEN}` }]) {
      const res = await admin(revokePath, 'POST', headers);
      expect(res.status).toBe(401);
      expect(res.code).toBe('admin_unauthorized');
      expect(res.headers['www-authenticate']).toBe('Bearer realm="gateway-admin"');
      expect(res.body).not.toContain(ADMIN_TOKEN);
    }
    expect((await gw.auth.sessions.list('u-alice')).length).toBe(sessionsBefore + 1);
    const ok = await admin(revokePath, 'POST', ADMIN_AUTH);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ sub: 'u-alice', revoked: sessionsBefore + 1 });
    expect(await gw.auth.sessions.list('u-alice')).toEqual([]);
  });

  it('never logs the credential', async () => {
    await admin(revokePath, 'POST', { authorization: 'Bearer not-the-credential-but-secret-looking' });
    await admin(revokePath, 'POST', ADMIN_AUTH);
    const text = JSON.stringify(gw.logs);
    expect(text).not.toContain(ADMIN_TOKEN);
    expect(text).not.toContain('not-the-credential-but-secret-looking');
  });
});

describe('admin listener without a configured credential', () => {
  it('refuses every mutating request and says so at start', async () => {
    const bare = await startTestGateway({ routes: [route('catchall', '/', up.url)], gateway: { admin: { credentialFile: undefined } } });
    try {
      const res = await request(`${bare.adminUrl}${revokePath}`, { method: 'POST', headers: ADMIN_AUTH });
      expect(res.statusCode).toBe(401);
      expect(res.headers['x-gateway-error']).toBe('admin_unauthorized');
      await res.body.dump();
      expect(bare.logs.some((l) => String(l.msg).includes('mutating admin endpoints refuse every request'))).toBe(true);
    } finally {
      await bare.stop();
    }
  });

  it('refuses to start with a credential shorter than 32 characters', async () => {
    await expect(startTestGateway({ routes: [], gateway: { admin: { credentialFile: undefined, credentialEnv: 'GW_ADMIN' } }, env: { GW_ADMIN: 'short' } })).rejects.toThrow(
      /admin\.credentialEnv: the credential must be at least 32 characters/,
    );
  });
});
