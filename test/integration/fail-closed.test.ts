// Redis unreachable: cookie routes answer 503 within the command timeout (never anonymous, never
// 401), public routes keep working, readiness says why, and service resumes by itself.
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSessionEnv, type SessionEnv } from '../support/session-gateway.js';
import { until } from '../support/wait.js';

let env: SessionEnv;
beforeAll(async () => {
  env = await startSessionEnv({ gateway: { session: { cacheTtl: '0' } } });
});
afterAll(async () => {
  env.redis.resume();
  await env.close();
});


describe('fail closed', () => {
  it('503 on session routes while Redis is paused, public routes unaffected, then recovers', async () => {
    const id = await env.login('alice');
    expect((await env.get('/app/x', id)).status).toBe(200);
    env.redis.pause();
    try {
      const before = env.up.received.length;
      const started = Date.now();
      const res = await env.get('/app/x', id);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(res.status).toBe(503);
      expect(JSON.parse(res.body)).toMatchObject({ error: 'session_store_unavailable' });
      expect(res.headers['retry-after']).toBe('1');
      expect(env.up.received.length).toBe(before);
      // Without a cookie the route is still refused as unauthenticated, not served.
      expect((await env.get('/app/x')).status).toBe(401);
      expect((await env.get('/public/x', id)).status).toBe(200);
      const ready = await request(`${env.gw.adminUrl}/readyz`);
      expect(ready.statusCode).toBe(503);
      expect(((await ready.body.json()) as { checks: Record<string, { ok: boolean }> }).checks.redis?.ok).toBe(false);
    } finally {
      env.redis.resume();
    }
    await until(async () => (await env.get('/app/x', id)).status === 200, 10_000);
    await until(async () => (await request(`${env.gw.adminUrl}/readyz`)).statusCode === 200, 10_000);
  });

  it('503 while Redis is stopped, and sessions created after its return work', async () => {
    await env.redis.stop();
    try {
      const res = await env.get('/app/x', 'B'.repeat(43));
      expect(res.status).toBe(503);
      const login = await env.send('POST', '/auth/login', undefined, { 'content-type': 'application/json', origin: env.origin }, JSON.stringify({ username: 'alice', password: 'pw-alice' }));
      expect(login.status).toBe(503);
    } finally {
      await env.redis.start();
    }
    await until(async () => {
      try {
        const id = await env.login('alice');
        return (await env.get('/app/x', id)).status === 200;
      } catch {
        return false;
      }
    }, 10_000);
  });
});
