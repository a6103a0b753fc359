// Real redis-server processes on free loopback ports, so tests can stop, pause and restart them.
import { afterAll, beforeAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface RedisServer {
  port: number;
  url: string;
  /** Stop the process (SIGTERM) and wait for it. */
  stop(): Promise<void>;
  /** Start it again on the same port (data is not kept). */
  start(): Promise<void>;
  /** SIGSTOP: the socket stays open, nothing answers. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** A fresh client for assertions (caller quits it). */
  client(): Redis;
  /** Stop for good and remove its directory. */
  dispose(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPing(port: number, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.ping();
      c.disconnect();
      return;
    } catch {
      c.disconnect();
      if (Date.now() > until) throw new Error(`redis-server on ${port} did not answer`);
      await new Promise((r) => setTimeout(r, 30));
    }
  }
}

export async function startRedis(extraArgs: string[] = []): Promise<RedisServer> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'gw-redis-'));
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs],
      { stdio: 'ignore' },
    );
    await waitForPing(port);
  };
  await start();
  const stop = async () => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    c.kill('SIGCONT');
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
    child = undefined;
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    start,
    stop,
    dispose: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    client: () => new Redis({ port, host: '127.0.0.1' }),
  };
}


// Every key matching the pattern loses `ms` of its TTL; one that reaches zero is deleted.
const ELAPSE = `
local n = 0
for _, k in ipairs(redis.call('KEYS', ARGV[1])) do
  local ttl = redis.call('PTTL', k)
  if ttl > 0 then
    if ttl <= tonumber(ARGV[2]) then redis.call('DEL', k) else redis.call('PEXPIRE', k, ttl - tonumber(ARGV[2])) end
    n = n + 1
  end
end
return n`;

/**
 * What `ms` of time does to the keys matching `pattern`, without waiting: Redis has no clock a test
 * can move, but its expiry is nothing but each key's TTL running out (an expired key is never read
 * again), so taking `ms` off every TTL, and deleting the keys whose TTL runs out, is the same. Keys
 * without a TTL are left alone, as time leaves them. Pair it with a fake clock for the code under
 * test, and assert the TTLs themselves with PTTL.
 */
export async function elapseKeys(client: Redis, pattern: string, ms: number): Promise<number> {
  return (await client.eval(ELAPSE, 0, pattern, ms)) as number;
}

/**
 * One redis-server and a client on it for a whole test file (the beforeAll and afterAll are
 * registered here): read `.server` and `.client` inside tests and factories, not at module load.
 */
export function useRedis(): { readonly server: RedisServer; readonly client: Redis } {
  const state = {} as { server: RedisServer; client: Redis };
  beforeAll(async () => {
    state.server = await startRedis();
    state.client = state.server.client();
  });
  afterAll(async () => {
    state.client?.disconnect();
    await state.server?.dispose();
  });
  return state;
}
