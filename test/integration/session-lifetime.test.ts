// Idle and absolute expiry, the touch interval, and the Redis TTL, against a real redis-server with
// short (real-time) lifetimes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSessionEnv, type SessionEnv } from '../support/session-gateway.js';

let env: SessionEnv;
beforeAll(async () => {
  env = await startSessionEnv({
    gateway: { session: { idleTimeout: '1200ms', absoluteTimeout: '3s', touchInterval: '300ms', cacheTtl: '0' } },
  });
});
afterAll(async () => env.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function setCalls(): Promise<number> {
  const c = env.redis.client();
  const info = await c.info('commandstats');
  c.disconnect();
  return Number(/cmdstat_set:calls=(\d+)/.exec(info)?.[1] ?? 0);
}

describe('session lifetime', () => {
  it('ends an idle session after idleTimeout', async () => {
    const id = await env.login('alice');
    expect((await env.get('/app/x', id)).status).toBe(200);
    await sleep(1500);
    const res = await env.get('/app/x', id);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'session_invalid' });
  });

  it('slides while used, but never past absoluteTimeout; the Redis TTL never outlives it', async () => {
    const id = await env.login('alice');
    const started = Date.now();
    const c = env.redis.client();
    let maxTtlOverrun = -Infinity;
    while (Date.now() - started < 2700) {
      expect((await env.get('/app/x', id)).status).toBe(200);
      for (const k of await c.keys('gw:s:*')) {
        const ttl = await c.pttl(k);
        maxTtlOverrun = Math.max(maxTtlOverrun, Date.now() + ttl - (started + 3000));
      }
      await sleep(250);
    }
    await sleep(3200 - (Date.now() - started));
    expect((await env.get('/app/x', id)).status).toBe(401);
    c.disconnect();
    // Allow for the time between login and `started`.
    expect(maxTtlOverrun).toBeLessThan(200);
  });

  it('pushes the TTL forward at most once per touch interval, not on every request', async () => {
    const id = await env.login('alice');
    await sleep(350);
    const before = await setCalls();
    for (let i = 0; i < 20; i++) expect((await env.get('/app/x', id)).status).toBe(200);
    const touches = (await setCalls()) - before;
    expect(touches).toBeGreaterThanOrEqual(1);
    expect(touches).toBeLessThanOrEqual(2);
  });
});
