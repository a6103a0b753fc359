// The same sessions on Redis Sentinel and Redis Cluster (real redis-server processes), configured
// only through gateway.yaml.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startRedis, type RedisServer } from '../support/redis.js';
import { sessionRoutes, startSessionEnv, type SessionEnv } from '../support/session-gateway.js';
import { until } from '../support/wait.js';

const run = promisify(execFile);


/** Sign in twice, use, list, log out everywhere; `whileSignedIn` looks at Redis in between. */
async function exercise(env: SessionEnv, whileSignedIn: () => Promise<void>): Promise<void> {
  const a = await env.login('alice');
  const b = await env.login('alice');
  expect((await env.get('/app/x', a)).status).toBe(200);
  const list = JSON.parse((await env.get('/auth/sessions', a)).body) as { sessions: unknown[] };
  expect(list.sessions).toHaveLength(2);
  await whileSignedIn();
  expect((await env.send('POST', '/auth/logout-all', a, { origin: env.origin })).status).toBe(200);
  expect((await env.get('/app/x', a)).status).toBe(401);
  expect((await env.get('/app/x', b)).status).toBe(401);
}

describe('Redis Sentinel', () => {
  let sentinel: ChildProcess;
  let dir: string;
  let env: SessionEnv;
  let master: RedisServer;

  beforeAll(async () => {
    master = await startRedis();
    const port = await freePort();
    dir = await mkdtemp(join(tmpdir(), 'gw-sentinel-'));
    const conf = join(dir, 'sentinel.conf');
    await writeFile(conf, `port ${port}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor mymaster 127.0.0.1 ${master.port} 1\nsentinel down-after-milliseconds mymaster 2000\n`);
    sentinel = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
    await until(async () => {
      const c = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      c.on('error', () => undefined);
      try {
        await c.connect();
        const addr = (await c.call('SENTINEL', 'get-master-addr-by-name', 'mymaster')) as string[] | null;
        return Array.isArray(addr) && addr[1] === String(master.port);
      } finally {
        c.disconnect();
      }
    });
    env = await startSessionEnv({
      gateway: { redis: { sentinel: { name: 'mymaster', nodes: [`127.0.0.1:${port}`] }, commandTimeout: '500ms' } },
    });
  }, 30_000);

  afterAll(async () => {
    await env?.close();
    sentinel?.kill('SIGKILL');
    await master?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('finds the master through the sentinel and keeps sessions there', async () => {
    await exercise(env, async () => {
      const c = master.client();
      expect((await c.keys('gw:s:*')).length).toBe(2);
      c.disconnect();
    });
  });
});

describe('redis.autoPipelining on one server', () => {
  it('serves concurrent session requests from shared pipelines, revokes, and fails closed when Redis freezes', async () => {
    // The session cache off: every request reads Redis, so concurrent requests share pipelines.
    const ap = await startSessionEnv({ gateway: { redis: { autoPipelining: true }, session: { cacheTtl: 0 } } });
    try {
      await exercise(ap, async () => undefined);
      const users = await Promise.all(['alice', 'root', 'alice'].map((u) => ap.login(u)));
      const statuses = await Promise.all(Array.from({ length: 60 }, (_, i) => ap.get('/app/x', users[i % 3]).then((r) => r.status)));
      expect(statuses.every((s) => s === 200)).toBe(true);
      // One user's session revoked while the others' lookups share its pipelines.
      expect((await ap.send('POST', '/auth/logout', users[1], { origin: ap.origin })).status).toBe(204);
      const after = await Promise.all(Array.from({ length: 30 }, (_, i) => ap.get('/app/x', users[i % 3]).then((r) => r.status)));
      expect(after.filter((_, i) => i % 3 === 1).every((s) => s === 401)).toBe(true);
      expect(after.filter((_, i) => i % 3 !== 1).every((s) => s === 200)).toBe(true);
      ap.redis.pause();
      try {
        const started = Date.now();
        const frozen = await Promise.all(Array.from({ length: 10 }, () => ap.get('/app/x', users[0])));
        expect(frozen.map((r) => r.status)).toEqual(Array(10).fill(503));
        expect(Date.now() - started).toBeLessThan(3000);
      } finally {
        ap.redis.resume();
      }
      await until(async () => (await ap.get('/app/x', users[0])).status === 200);
    } finally {
      await ap.close();
    }
  }, 30_000);
});

describe('Redis Cluster, with redis.autoPipelining', () => {
  const nodes: RedisServer[] = [];
  let env: SessionEnv;

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) {
      nodes.push(await startRedis(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000']));
    }
    await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes']);
    await until(async () => {
      const c = nodes[0]?.client() as Redis;
      try {
        return ((await c.call('CLUSTER', 'INFO')) as string).includes('cluster_state:ok');
      } finally {
        c.disconnect();
      }
    });
    env = await startSessionEnv({
      // autoPipelining here (per node in a cluster); redis-failover.test.ts runs a cluster without it.
      gateway: { redis: { url: 'redis://127.0.0.1:1', cluster: { nodes: nodes.map((n) => n.url) }, commandTimeout: '1s', autoPipelining: true } },
      routes: sessionRoutes,
    });
    // The harness started its own standalone server too; the gateway must not be using it.
    await env.redis.stop();
  }, 60_000);

  afterAll(async () => {
    await env?.close();
    for (const n of nodes) await n.dispose();
  });

  it('keeps sessions, the user index and revocation working across slots', async () => {
    await exercise(env, async () => {
      // Two sessions and the user index (3 keys) live on the cluster's nodes.
      const counts = await Promise.all(
        nodes.map(async (n) => {
          const c = n.client();
          try {
            return (await c.keys('gw:*')).length;
          } finally {
            c.disconnect();
          }
        }),
      );
      expect(counts.reduce((a, b) => a + b, 0)).toBe(3);
    });
  });
});
