// Rate-limit counters in Redis: `rl:<key>` (after redis.keyPrefix), one INCR per hit in a script
// that starts the window's expiry with the first hit, so every instance counts in the same window.
import type { Count, RateLimitStore } from '../../rate-limit/store.js';
import type { RedisClient } from './client.js';

const HIT_SCRIPT = `
local c = redis.call('INCR', KEYS[1])
if c == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {c, redis.call('PTTL', KEYS[1])}`;

// Give back one hit (an attempt that turned out not to count), TTL kept; a counter back at zero
// is deleted, so successful sign-ins leave no key behind.
const RELEASE_SCRIPT = `
local c = tonumber(redis.call('GET', KEYS[1]) or '0')
if c > 1 then return redis.call('DECR', KEYS[1]) end
redis.call('DEL', KEYS[1])
return 0`;

export class RedisRateLimitStore implements RateLimitStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  async hit(key: string, windowMs: number): Promise<Count> {
    const [count, ttl] = (await this.redis.eval(HIT_SCRIPT, 1, `${this.prefix}rl:${key}`, windowMs)) as [number, number];
    return { count, resetInMs: Math.max(ttl, 0) };
  }

  async peek(key: string): Promise<Count> {
    const k = `${this.prefix}rl:${key}`;
    const [count, ttl] = await Promise.all([this.redis.get(k), this.redis.pttl(k)]);
    return { count: Number(count ?? 0), resetInMs: Math.max(ttl, 0) };
  }

  async release(key: string): Promise<void> {
    await this.redis.eval(RELEASE_SCRIPT, 1, `${this.prefix}rl:${key}`);
  }

  async clear(key: string): Promise<void> {
    await this.redis.del(`${this.prefix}rl:${key}`);
  }
}
