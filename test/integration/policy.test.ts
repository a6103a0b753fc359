// Route policies end to end: a signed-in user refused by a policy gets 403 `forbidden` with a reason
// word (never the policy text) and the upstream sees nothing; bearer tokens are judged by scope and
// issuer; the refusal is counted by reason.
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { route, startTestGateway, type TestGateway } from '../support/gateway.js';
import { startIssuer, type TestIssuer } from '../support/issuer.js';
import { startSessionEnv, type SessionEnv } from '../support/session-gateway.js';

let env: SessionEnv;
let idp: TestIssuer;
let api: TestGateway;
beforeAll(async () => {
  env = await startSessionEnv({
    routes: (up) => [
      { ...route('ops', '/ops', up), auth: 'session', require: { roles: ['admin'], claims: { email: { endsWith: '@example.com' } } } },
      { ...route('staff', '/staff', up), auth: 'session', require: { any: [{ roles: ['admin'] }, { claims: { email: 'alice@example.com' } }] } },
    ],
  });
  idp = await startIssuer();
  api = await startTestGateway({
    routes: [{ ...route('orders', '/orders', env.up.url), auth: 'bearer', require: { scopes: ['orders:read'], issuers: [idp.issuer] } }],
    gateway: {
      issuers: [{ issuer: idp.issuer, jwksUrl: idp.jwksUrl, audiences: ['gateway'], algorithms: ['RS256'], claims: { sub: 'sub', scope: 'scope' } }],
    },
  });
});
afterAll(async () => {
  await api?.stop();
  await idp?.close();
  await env?.close();
});

describe('route policy', () => {
  it('refuses a signed-in user the policy does not admit with 403 and a reason, and passes one it does', async () => {
    const before = env.up.received.length;
    const alice = await env.login('alice');
    const refused = await env.get('/ops/x', alice);
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body)).toMatchObject({ error: 'forbidden', reason: 'role' });
    expect(refused.body).not.toContain('admin');
    expect(env.up.received.length).toBe(before);
    expect((await env.get('/ops/x', await env.login('root'))).status).toBe(200);
    expect((await env.get('/staff/x', alice)).status).toBe(200);
    expect(await env.gw.registry.getSingleMetricAsString('gateway_auth_outcomes_total')).toMatch(/route="ops",result="forbidden",reason="role"\} 1/);
  });

  it('judges bearer tokens by scope and issuer', async () => {
    const call = async (scope?: string) => {
      const token = await idp.sign({ sub: 'svc', aud: 'gateway', ...(scope ? { scope } : {}) });
      const res = await request(`${api.url}/orders/1`, { headers: { authorization: `Bearer ${token}` } });
      return { status: res.statusCode, body: await res.body.text() };
    };
    expect((await call('orders:read orders:write')).status).toBe(200);
    const noScope = await call('orders:write');
    expect(noScope.status).toBe(403);
    expect(JSON.parse(noScope.body)).toMatchObject({ error: 'forbidden', reason: 'scope' });
    expect((await call()).status).toBe(403);
  });
});
