// Redis absent at start: the development config may fall back to the memory store, loudly; a
// production config never does (protected routes answer 503 and readiness says why).
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { route, startTestGateway } from '../support/gateway.js';
import { freePort } from '../support/redis.js';
import { startUpstream } from '../support/upstream.js';

async function gatewayWithoutRedis(memoryFallback: boolean) {
  const up = await startUpstream();
  const port = await freePort(); // nothing listens there
  const gw = await startTestGateway({
    routes: [{ ...route('app', '/app', up.url), auth: 'session' }],
    gateway: { redis: { url: `redis://127.0.0.1:${port}`, connectTimeout: '300ms', commandTimeout: '300ms' }, session: { store: 'redis', memoryFallback } },
  });
  return { gw, up };
}

describe('no Redis at start', () => {
  it('production config: no silent fallback; protected routes 503, readiness 503', async () => {
    const { gw, up } = await gatewayWithoutRedis(false);
    try {
      expect(gw.logs.some((l) => l.level === 'error' && String(l.msg).includes('Redis does not answer'))).toBe(true);
      const res = await request(`${gw.url}/app/x`, { headers: { cookie: `gw-session=${'A'.repeat(43)}` } });
      expect(res.statusCode).toBe(503);
      await res.body.dump();
      const ready = await request(`${gw.adminUrl}/readyz`);
      expect(ready.statusCode).toBe(503);
      await ready.body.dump();
    } finally {
      await gw.stop();
      await up.close();
    }
  });

  it('development config with memoryFallback: runs on memory with a loud warning', async () => {
    const { gw, up } = await gatewayWithoutRedis(true);
    try {
      expect(gw.logs.some((l) => l.level === 'warn' && String(l.msg).includes('memoryFallback is on'))).toBe(true);
      const res = await request(`${gw.url}/app/x`, { headers: { cookie: `gw-session=${'A'.repeat(43)}` } });
      expect(res.statusCode).toBe(401);
      await res.body.dump();
      expect((await request(`${gw.adminUrl}/readyz`)).statusCode).toBe(200);
    } finally {
      await gw.stop();
      await up.close();
    }
  });
});
