// Sign-in rate-limit counters, memory and Redis alike: a fixed window that starts with its first
// hit, a hit given back never below zero, a counter cleared.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryRateLimitStore } from '../../src/adapters/memory/rate-limit-store.js';
import { RedisRateLimitStore } from '../../src/adapters/redis/rate-limit-store.js';
import type { RateLimitStore } from '../../src/rate-limit/store.js';
import { startRedis, type RedisServer } from '../support/redis.js';

let server: RedisServer;
let client: Redis;
beforeAll(async () => {
  server = await startRedis();
  client = new Redis(server.url);
});
afterAll(async () => {
  client.disconnect();
  await server.dispose();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let n = 0;
const stores: [string, () => RateLimitStore][] = [
  ['memory', () => new MemoryRateLimitStore({ now: () => Date.now() })],
  ['redis', () => new RedisRateLimitStore(client, `rl${++n}:`)],
];

describe.each(stores)('%s rate-limit store', (_, make) => {
  it('counts hits in a fixed window and resets after it', async () => {
    const store = make();
    expect((await store.hit('k', 200)).count).toBe(1);
    const second = await store.hit('k', 200);
    expect(second.count).toBe(2);
    expect(second.resetInMs).toBeGreaterThan(0);
    expect(second.resetInMs).toBeLessThanOrEqual(200);
    expect((await store.peek('k')).count).toBe(2);
    await sleep(250);
    expect((await store.peek('k')).count).toBe(0);
    expect((await store.hit('k', 200)).count).toBe(1);
    await store.clear('k');
    expect((await store.peek('k')).count).toBe(0);
  });

  it('gives a hit back with release, never below zero, keeping the window', async () => {
    const store = make();
    await store.hit('r', 10_000);
    await store.hit('r', 10_000);
    await store.release('r');
    const after = await store.peek('r');
    expect(after.count).toBe(1);
    expect(after.resetInMs).toBeGreaterThan(9_000);
    await store.release('r');
    await store.release('r');
    expect((await store.peek('r')).count).toBe(0);
    await store.release('never-hit');
    expect((await store.peek('never-hit')).count).toBe(0);
    expect((await store.hit('r', 10_000)).count).toBe(1);
  });
});
