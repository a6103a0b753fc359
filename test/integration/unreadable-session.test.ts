// A record under a session's key that is no session (another Redis type, JSON that does not parse,
// missing fields) is an invalid session: 401 with the cookie cleared, a log line and a metric; not
// 503 for that user forever. Other sessions are unaffected, and nothing else is changed.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSessionEnv, type SessionEnv } from '../support/session-gateway.js';

let env: SessionEnv;
beforeAll(async () => {
  // No session cache: every request reads Redis, so each corruption is seen at once.
  env = await startSessionEnv({ gateway: { session: { cacheTtl: 0 } } });
});
afterAll(async () => env.close());

const keyOf = (id: string) => `gw:s:${createHash('sha256').update(id).digest('base64url')}`;

describe('an unreadable session record', () => {
  it.each([
    ['a hash instead of a string', async (c: ReturnType<SessionEnv['redis']['client']>, k: string) => void (await c.del(k), await c.hset(k, 'sub', 'u-alice'))],
    ['JSON that does not parse', async (c: ReturnType<SessionEnv['redis']['client']>, k: string) => void (await c.set(k, '{"sub":'))],
    ['JSON without the session fields', async (c: ReturnType<SessionEnv['redis']['client']>, k: string) => void (await c.set(k, '{"sub":"u-alice"}'))],
    ['a list', async (c: ReturnType<SessionEnv['redis']['client']>, k: string) => void (await c.del(k), await c.rpush(k, 'x'))],
  ])('holding %s is a 401 session_invalid that clears the cookie, never 503', async (_what, corrupt) => {
    const id = await env.login('alice');
    const other = await env.login('root');
    const c = env.redis.client();
    await corrupt(c, keyOf(id));
    const before = Number((await env.gw.registry.getSingleMetricAsString('gateway_sessions_unreadable_total')).match(/_total (\d+)/)?.[1] ?? 0);
    const res = await env.get('/app/x', id);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'session_invalid' });
    expect(String(res.headers['set-cookie'])).toMatch(/^gw-session=; /);
    expect(await env.gw.registry.getSingleMetricAsString('gateway_sessions_unreadable_total')).toContain(`_total ${before + 1}`);
    expect(env.gw.logs.some((l) => String(l.msg).includes('session record in Redis is unreadable'))).toBe(true);
    // The sessions list of that user, and other users, still work.
    expect((await env.get('/app/x', other)).status).toBe(200);
    c.disconnect();
  });
});
