// Sign-in rate-limit counters, memory and Redis alike: a fixed window that starts with its first
// hit, a hit given back never below zero, a counter cleared.
//
// Time never passes by waiting: `elapse` moves the memory store's fake clock, and takes the same
// time off the Redis keys' TTLs (elapseKeys: Redis's expiry is nothing else). The Redis counter's
// TTL itself is asserted with PTTL below.
import { describe, expect, it } from 'vitest';
import { MemoryRateLimitStore } from '../../src/adapters/memory/rate-limit-store.js';
import { RedisRateLimitStore } from '../../src/adapters/redis/rate-limit-store.js';
import type { RateLimitStore } from '../../src/rate-limit/store.js';
import { elapseKeys, useRedis } from '../support/redis.js';

const redis = useRedis();

interface Subject {
  readonly store: RateLimitStore;
  /** Let `ms` pass for the store. */
  elapse(ms: number): Promise<void>;
}

let n = 0;
const stores: [string, () => Subject][] = [
  [
    'memory',
    () => {
      let now = Date.now();
      return { store: new MemoryRateLimitStore({ now: () => now }), elapse: async (ms) => void (now += ms) };
    },
  ],
  [
    'redis',
    () => {
      const prefix = `rl${++n}:`;
      return { store: new RedisRateLimitStore(redis.client, prefix), elapse: async (ms) => void (await elapseKeys(redis.client, `${prefix}*`, ms)) };
    },
  ],
];

describe.each(stores)('%s rate-limit store', (_, make) => {
  it('counts hits in a fixed window that starts with the first hit, and resets after it', async () => {
    const { store, elapse } = make();
    expect((await store.hit('k', 2_000)).count).toBe(1);
    const second = await store.hit('k', 2_000);
    expect(second.count).toBe(2);
    expect(second.resetInMs).toBeGreaterThan(1_000);
    expect(second.resetInMs).toBeLessThanOrEqual(2_000);
    await elapse(1_500);
    // A later hit does not move the window's end.
    const third = await store.hit('k', 2_000);
    expect(third.count).toBe(3);
    expect(third.resetInMs).toBeGreaterThan(0);
    expect(third.resetInMs).toBeLessThanOrEqual(500);
    const peeked = await store.peek('k');
    expect(peeked.count).toBe(3);
    expect(peeked.resetInMs).toBeGreaterThan(0);
    expect(peeked.resetInMs).toBeLessThanOrEqual(third.resetInMs);
    await elapse(600);
    expect((await store.peek('k')).count).toBe(0);
    expect((await store.hit('k', 2_000)).count).toBe(1);
    expect((await store.peek('other')).count).toBe(0);
    await store.clear('k');
    expect((await store.peek('k')).count).toBe(0);
  });

  it('gives a hit back with release, never below zero, keeping the window', async () => {
    const { store } = make();
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

describe('redis rate-limit keys', () => {
  it('expire with the window their first hit started, and are gone once released to zero', async () => {
    const store = new RedisRateLimitStore(redis.client, 'keys:');
    await store.hit('k', 60_000);
    await store.hit('k', 60_000);
    const ttl = await redis.client.pttl('keys:rl:k');
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(ttl).toBeGreaterThan(59_000);
    await store.release('k');
    expect(await redis.client.pttl('keys:rl:k')).toBeGreaterThan(59_000);
    await store.release('k');
    expect(await redis.client.exists('keys:rl:k')).toBe(0);
  });
});
