// One account cannot fill Redis: beyond session.maxPerUser, a new sign-in ends the user's oldest
// session (on every instance, like any revocation); other users are untouched.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSessionEnv, type SessionEnv } from '../support/session-gateway.js';

let env: SessionEnv;
beforeAll(async () => {
  env = await startSessionEnv({ gateway: { session: { maxPerUser: 2 } } });
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
