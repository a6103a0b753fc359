// One account cannot fill Redis: beyond session.maxPerUser, a new sign-in ends the user's oldest
// session (on every instance, like any revocation); beyond accessTokens.refresh.maxFamiliesPerUser,
// a new token pair revokes the oldest refresh family. Other users are untouched.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSessionEnv, type SessionEnv } from '../support/session-gateway.js';

let env: SessionEnv;
beforeAll(async () => {
  env = await startSessionEnv({ gateway: { session: { maxPerUser: 2 }, accessTokens: { refresh: { maxFamiliesPerUser: 2 } } } });
});
afterAll(async () => env.close());

describe('sessions per user', () => {
  it('end the oldest when a sign-in would exceed session.maxPerUser', async () => {
    const root = await env.login('root');
    const first = await env.login('alice');
    const second = await env.login('alice');
    expect((await env.get('/app/x', first)).status).toBe(200);
    const third = await env.login('alice');
    expect((await env.get('/app/x', first)).status).toBe(401);
    expect((await env.get('/app/x', second)).status).toBe(200);
    expect((await env.get('/app/x', third)).status).toBe(200);
    expect((await env.get('/app/x', root)).status).toBe(200);
    const c = env.redis.client();
    const index = await c.keys('gw:u:*');
    const sizes = await Promise.all(index.map((k) => c.scard(k)));
    c.disconnect();
    expect(Math.max(...sizes)).toBeLessThanOrEqual(2);
    expect(await env.gw.registry.getSingleMetricAsString('gateway_sessions_revoked_total')).toContain('reason="session_cap"} 1');
  });
});

describe('refresh families per user', () => {
  const issue = async (username: string, password: string) => {
    const res = await env.send('POST', '/auth/token', undefined, { 'content-type': 'application/json' }, JSON.stringify({ username, password }));
    expect(res.status).toBe(200);
    return (JSON.parse(res.body) as { refresh_token: string }).refresh_token;
  };
  const refresh = (token: string) => env.send('POST', '/auth/refresh', undefined, { 'content-type': 'application/json' }, JSON.stringify({ refresh_token: token }));

  it('revoke the oldest when a new pair would exceed accessTokens.refresh.maxFamiliesPerUser', async () => {
    const rootFamily = await issue('root', 'pw-root');
    const first = await issue('alice', 'pw-alice');
    const second = await issue('alice', 'pw-alice');
    const third = await issue('alice', 'pw-alice');
    expect((await refresh(first)).status).toBe(400);
    expect((await refresh(second)).status).toBe(200);
    expect((await refresh(third)).status).toBe(200);
    expect((await refresh(rootFamily)).status).toBe(200);
    const c = env.redis.client();
    const index = await c.smembers('gw:ru:u-alice');
    c.disconnect();
    expect(index).toHaveLength(2);
    expect(await env.gw.registry.getSingleMetricAsString('gateway_refresh_families_revoked_total')).toContain('reason="family_cap"} 1');
  });
});

describe('sessions per user, under a race', () => {
  it('two sign-ins at once against maxPerUser: 1 leave exactly one live session, never none', async () => {
    const solo = await startSessionEnv({ gateway: { session: { maxPerUser: 1 } } });
    try {
      for (let round = 0; round < 5; round++) {
        const ids = await Promise.all([solo.login('alice'), solo.login('alice')]);
        const live = (await Promise.all(ids.map((id) => solo.get('/app/x', id)))).filter((r) => r.status === 200);
        expect(live).toHaveLength(1);
      }
    } finally {
      await solo.close();
    }
  });
});
