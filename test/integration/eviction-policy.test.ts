// Revocation data must never be evicted silently: a Redis whose maxmemory-policy is not noeviction
// stops a production start (NODE_ENV=production) with a located error, is a loud error in
// development, at start and again on every reconnect, and makes a production instance not ready.
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeKey } from '../../src/keys/keygen.js';
import { startGateway } from '../../src/main.js';
import { startTestGateway, writeConfigDir } from '../support/gateway.js';
import { startRedis, type RedisServer } from '../support/redis.js';

let lru: RedisServer;
beforeAll(async () => {
  lru = await startRedis(['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru']);
});
afterAll(async () => lru?.dispose());

const redisSession = (url: string) => ({ redis: { url }, session: { store: 'redis', cookie: { name: 'gw-session', secure: false } } });

describe('maxmemory-policy', () => {
  it('development: starts, with a loud error at start and again after a reconnect', async () => {
    const gw = await startTestGateway({ routes: [], gateway: redisSession(lru.url) });
    try {
      const loud = () => gw.logs.filter((l) => l.level === 'error' && String(l.msg).includes('maxmemory-policy is allkeys-lru'));
      expect(loud().map((l) => l.when)).toEqual(['start']);
      const admin = lru.client();
      await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      admin.disconnect();
      await expect.poll(() => loud().map((l) => l.when), { timeout: 5_000 }).toContain('reconnect');
    } finally {
      await gw.stop();
    }
  });

  it('production: refuses to start, naming the policy', async () => {
    const dir = await writeConfigDir([], {
      redis: { url: lru.url },
      session: { store: 'redis', cookie: { name: '__Host-session', secure: true } },
      publicOrigins: ['https://app.example'],
      tokens: { generateDevKey: false, keys: './keys' },
    });
    await writeKey(join(dir, 'keys'), 'ES256');
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    await expect(
      startGateway({ configPath: join(dir, 'gateway.yaml'), env: {}, listenPort: 0, adminPort: 0, watchRoutes: false, logDestination: sink, production: true }),
    ).rejects.toThrow(/redis: Redis maxmemory-policy is allkeys-lru/);
  });
});
