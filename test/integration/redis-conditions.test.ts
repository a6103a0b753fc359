// Redis answering errors instead of timing out: out of memory, a read-only replica. Protected
// requests that need a write answer 503 (never 401, never a crash), with a log line naming the
// condition and gateway_redis_errors_total; sessions that can still be read keep being served.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { COOKIE, sessionRoutes, startSessionEnv, type SessionEnv } from '../support/session-gateway.js';
import { request } from 'undici';

let env: SessionEnv;
let replica: RedisServer;
let readOnly: TestGateway;

beforeAll(async () => {
  env = await startSessionEnv({ gateway: { session: { touchInterval: '200ms', cacheTtl: 0 } }, redisArgs: ['--repl-diskless-sync-delay', '0'] });
  replica = await startRedis(['--replicaof', '127.0.0.1', String(env.redis.port)]);
  readOnly = await startTestGateway({
    routes: sessionRoutes(env.up.url),
    gateway: {
      redis: { url: replica.url, commandTimeout: '300ms' },
      publicOrigins: [env.origin],
      login: { verifyUrl: `${env.verifier.url}/verify` },
      session: { store: 'redis', cookie: { name: COOKIE, secure: false }, cacheTtl: 0, touchInterval: '200ms' },
    },
  });
});
afterAll(async () => {
  await readOnly?.stop();
  await replica?.dispose();
  await env?.close();
});

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const errors = async (gw: TestGateway) => gw.registry.getSingleMetricAsString('gateway_redis_errors_total');

describe('Redis answering with errors', () => {
  it('a read-only replica: sign-in is 503 readonly, a replicated session is still served', async () => {
    const id = await env.login('alice');
    const m = env.redis.client();
    expect(await m.call('WAIT', 1, 3000)).toBe(1);
    m.disconnect();
    const res = await request(`${readOnly.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: env.origin },
      body: JSON.stringify({ username: 'root', password: 'pw-root' }),
    });
    expect(res.statusCode).toBe(503);
    expect(res.headers['x-gateway-error']).toBe('session_store_unavailable');
    await res.body.dump();
    expect(await errors(readOnly)).toMatch(/condition="readonly"\} [1-9]/);
    expect(readOnly.logs.some((l) => l.msg === 'redis command failed: readonly')).toBe(true);
    await pause(300);
    // Past the touch interval: the touch (a write) fails, the session is served all the same.
    const served = await request(`${readOnly.url}/app/x`, { headers: { cookie: `${COOKIE}=${id}` } });
    expect(served.statusCode).toBe(200);
    await served.body.dump();
  });

  it('out of memory: writes are 503 oom, reads and public routes keep working', async () => {
    const id = await env.login('alice');
    const c = env.redis.client();
    await c.config('SET', 'maxmemory-policy', 'noeviction');
    await c.config('SET', 'maxmemory', '1');
    try {
      const login = await env.send('POST', '/auth/login', undefined, { 'content-type': 'application/json', origin: env.origin }, JSON.stringify({ username: 'root', password: 'pw-root' }));
      expect(login.status).toBe(503);
      expect(JSON.parse(login.body)).toMatchObject({ error: 'session_store_unavailable' });
      expect(await errors(env.gw)).toMatch(/condition="oom"\} [1-9]/);
      await pause(300);
      expect((await env.get('/app/x', id)).status).toBe(200);
      expect((await env.get('/public/x')).status).toBe(200);
    } finally {
      await c.config('SET', 'maxmemory', '0');
      c.disconnect();
    }
  });
});
