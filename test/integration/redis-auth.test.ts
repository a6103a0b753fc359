// A Redis that refuses the gateway's password: protected routes answer 503 (fail closed), and the
// operator is told why in an error line (it used to be a debug line, invisible at the usual level).
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { route, startTestGateway, type TestGateway } from '../support/gateway.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

let redis: RedisServer;
let up: Upstream;
let gw: TestGateway;

beforeAll(async () => {
  redis = await startRedis();
  const admin = redis.client();
  await admin.config('SET', 'requirepass', 'the-right-one');
  admin.disconnect();
  up = await startUpstream();
  const url = new URL(redis.url);
  url.password = 'a-wrong-one';
  gw = await startTestGateway({
    routes: [{ ...route('app', '/app', up.url), auth: 'session' }],
    gateway: { redis: { url: url.href, connectTimeout: '300ms', commandTimeout: '300ms' }, session: { store: 'redis', cookie: { name: 'gw-session', secure: false } } },
  });
}, 30_000);

afterAll(async () => {
  await gw?.stop();
  await up?.close();
  await redis?.dispose();
});

describe('a Redis that refuses the password', () => {
  it('fails closed and says why at error level, without the password', async () => {
    const res = await request(`${gw.url}/app/x`, { headers: { cookie: `gw-session=${'a'.repeat(43)}`, accept: 'application/json' } });
    expect([res.statusCode, ((await res.body.json()) as { error: string }).error]).toEqual([503, 'session_store_unavailable']);
    const line = gw.logs.find((l) => l.level === 'error' && String(l.msg).includes('refuses the gateway'));
    expect(line).toBeDefined();
    expect(JSON.stringify(gw.logs)).not.toContain('a-wrong-one');
  });
});
