// Redis failover that the gateway follows: a real Sentinel set (one master, one replica, three
// sentinels) and a real Cluster (three masters, three replicas) started on loopback ports. The
// master is frozen with SIGSTOP (its connections stay open: the failure a paused VM or a stalled
// host gives); the gateway must answer 503 quickly meanwhile, never 401, keep public routes up, serve
// the same session cookie again soon after the promotion, and lose nothing written after it when
// the old master wakes up.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startRedis, type RedisServer } from '../support/redis.js';
import { sessionRoutes, startSessionEnv, type SessionEnv } from '../support/session-gateway.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error('condition not met in time');
}

/** Poll a session request until it answers 200; every answer before must be a fast 503, never 401. */
async function recovery(env: SessionEnv, id: string, timeoutMs: number): Promise<{ ms: number; statuses: Set<number>; slowest: number }> {
  const started = Date.now();
  const statuses = new Set<number>();
  let slowest = 0;
  while (Date.now() - started < timeoutMs) {
    const t = Date.now();
    const res = await env.get('/app/x', id);
    slowest = Math.max(slowest, Date.now() - t);
    if (res.status === 200) return { ms: Date.now() - started, statuses, slowest };
    statuses.add(res.status);
    await sleep(100);
  }
  throw new Error(`not served again within ${timeoutMs} ms; saw ${[...statuses].join(', ')}`);
}

describe('Redis Sentinel: a frozen master', () => {
  let master: RedisServer;
  let replica: RedisServer;
  const sentinels: ChildProcess[] = [];
  const sentinelPorts: number[] = [];
  let dir: string;
  let env: SessionEnv;

  beforeAll(async () => {
    // Redis 7 delays a diskless full sync by 5 s by default: none here, and the link must be up.
    master = await startRedis(['--repl-diskless-sync-delay', '0']);
    replica = await startRedis(['--replicaof', '127.0.0.1', String(master.port)]);
    await until(async () => {
      const c = replica.client();
      try {
        return (await c.info('replication')).includes('master_link_status:up');
      } finally {
        c.disconnect();
      }
    }, 10_000);
    dir = await mkdtemp(join(tmpdir(), 'gw-sentinels-'));
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      sentinelPorts.push(port);
      const conf = join(dir, `s${i}.conf`);
      await writeFile(
        conf,
        `port ${port}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor mymaster 127.0.0.1 ${master.port} 2\n` +
          `sentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 5000\n`,
      );
      sentinels.push(spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' }));
    }
    // Every sentinel knows the master and its replica.
    await until(async () => {
      for (const port of sentinelPorts) {
        const c = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        c.on('error', () => undefined);
        try {
          await c.connect();
          const replicas = (await c.call('SENTINEL', 'replicas', 'mymaster')) as unknown[];
          if (!Array.isArray(replicas) || replicas.length !== 1) return false;
        } finally {
          c.disconnect();
        }
      }
      return true;
    }, 20_000);
    env = await startSessionEnv({
      gateway: {
        redis: { sentinel: { name: 'mymaster', nodes: sentinelPorts.map((p) => `127.0.0.1:${p}`) }, commandTimeout: '300ms', connectTimeout: '500ms' },
        session: { cacheTtl: 0 },
      },
    });
  }, 40_000);

  afterAll(async () => {
    master?.resume();
    await env?.close();
    for (const s of sentinels) s.kill('SIGKILL');
    await Promise.all([master?.dispose(), replica?.dispose()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('follows the promotion, answers 503 fast meanwhile, and never writes to the demoted master', async () => {
    const before = await env.login('alice');
    // Replicated before the freeze: Redis itself keeps it.
    const m = master.client();
    expect(await m.call('WAIT', 1, 2000)).toBe(1);
    m.disconnect();
    master.pause();
    const publicSide = await env.get('/public/x');
    expect(publicSide.status).toBe(200);
    // Readiness turns 503 while the master does not answer (load balancers stop sending).
    await until(async () => (await fetch(`${env.gw.adminUrl}/readyz`)).status === 503, 5_000);
    const r = await recovery(env, before, 20_000);
    // down-after 1 s plus the sentinels' election: a few seconds; the bound leaves room for a busy machine.
    expect(r.ms).toBeLessThan(12_000);
    expect([...r.statuses].every((s) => s === 503)).toBe(true);
    expect(r.slowest).toBeLessThan(1_500);
    // Written after the promotion, to the new master.
    const after = await env.login('alice');
    master.resume();
    // The old master wakes up and is demoted; the gateway must not have written there.
    await sleep(3_000);
    expect((await env.get('/app/x', after)).status).toBe(200);
    expect((await env.get('/app/x', before)).status).toBe(200);
    const replicaNow = replica.client();
    expect(((await replicaNow.call('ROLE')) as unknown[])[0]).toBe('master');
    replicaNow.disconnect();
    console.log(`sentinel failover: session served again ${r.ms} ms after the freeze`);
  }, 60_000);
});

describe('Redis Cluster: a frozen master', () => {
  const nodes: RedisServer[] = [];
  let env: SessionEnv;

  beforeAll(async () => {
    for (let i = 0; i < 6; i++) {
      nodes.push(await startRedis(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '1000', '--repl-diskless-sync-delay', '0']));
    }
    await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes']);
    await until(async () => {
      const c = nodes[0]?.client() as Redis;
      try {
        const info = (await c.call('CLUSTER', 'INFO')) as string;
        const slaves = ((await c.call('CLUSTER', 'NODES')) as string).split('\n').filter((l) => l.includes('slave')).length;
        if (!info.includes('cluster_state:ok') || slaves !== 3) return false;
        // Every replica's link to its master is up.
        for (const n of nodes) {
          const nc = n.client();
          try {
            const repl = await nc.info('replication');
            if (repl.includes('role:slave') && !repl.includes('master_link_status:up')) return false;
          } finally {
            nc.disconnect();
          }
        }
        return true;
      } finally {
        c.disconnect();
      }
    }, 20_000);
    env = await startSessionEnv({
      gateway: {
        redis: { url: 'redis://127.0.0.1:1', cluster: { nodes: nodes.map((n) => n.url), slotsRefreshInterval: '1s' }, commandTimeout: '300ms' },
        session: { cacheTtl: 0 },
      },
      routes: sessionRoutes,
    });
    await env.redis.stop();
  }, 60_000);

  afterAll(async () => {
    for (const n of nodes) n.resume();
    await env?.close();
    for (const n of nodes) await n.dispose();
  });

  it('serves a frozen master\'s sessions from its promoted replica within seconds, and loses nothing', async () => {
    const id = await env.login('alice');
    // Find the master holding this session's key, and let the write reach its replica.
    const probe = nodes[0]?.client() as Redis;
    const keyOwner = async (): Promise<RedisServer> => {
      const keys = await Promise.all(nodes.map(async (n) => {
        const c = n.client();
        try {
          const role = ((await c.call('ROLE')) as unknown[])[0];
          return role === 'master' && (await c.keys('gw:s:*')).length > 0 ? n : undefined;
        } finally {
          c.disconnect();
        }
      }));
      const owner = keys.find((k) => k !== undefined);
      if (!owner) throw new Error('no master holds the session');
      return owner;
    };
    const owner = await keyOwner();
    const oc = owner.client();
    expect(await oc.call('WAIT', 1, 2000)).toBe(1);
    oc.disconnect();
    owner.pause();
    const r = await recovery(env, id, 25_000);
    expect(r.ms).toBeLessThan(15_000);
    expect([...r.statuses].every((s) => s === 503)).toBe(true);
    expect(r.slowest).toBeLessThan(1_500);
    const later = await env.login('alice');
    owner.resume();
    await sleep(2_000);
    expect((await env.get('/app/x', id)).status).toBe(200);
    expect((await env.get('/app/x', later)).status).toBe(200);
    // Log out everywhere still works across slots (the per-user index).
    expect((await env.send('POST', '/auth/logout-all', later, { origin: env.origin })).status).toBe(200);
    expect((await env.get('/app/x', id)).status).toBe(401);
    probe.disconnect();
    console.log(`cluster failover: session served again ${r.ms} ms after the freeze`);
  }, 60_000);
});
