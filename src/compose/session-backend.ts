// Picks and builds the session backend from configuration: Redis (one server, Sentinel or Cluster)
// or the in-process store. Only a development config with `session.memoryFallback: true` may fall
// back to memory when Redis does not answer at start, and then loudly; otherwise Redis being down
// means protected routes answer 503 until it is back.
import { createRedisClient, describeRedis, type RedisClient } from '../adapters/redis/client.js';
import type { GatewayConfig } from '../config/schema.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { MemoryBus } from '../adapters/memory/bus.js';
import { MemoryIdpStore } from '../adapters/memory/idp-store.js';
import { MemoryRateLimitStore } from '../adapters/memory/rate-limit-store.js';
import { MemorySessionStore } from '../adapters/memory/session-store.js';
import { RedisBus } from '../adapters/redis/bus.js';
import { RedisIdpStore } from '../adapters/redis/idp-store.js';
import { RedisRateLimitStore } from '../adapters/redis/rate-limit-store.js';
import { RedisSessionStore } from '../adapters/redis/session-store.js';
import type { RateLimitStore } from '../rate-limit/store.js';
import type { IdpStore } from '../sessions/idp-store.js';
import type { InvalidationBus, SessionStore } from '../sessions/store.js';

export interface SessionBackend {
  readonly kind: 'redis' | 'memory';
  readonly store: SessionStore;
  readonly bus: InvalidationBus;
  /** Sign-in rate-limit counters, in the same Redis. */
  readonly rateLimits: RateLimitStore;
  /** OpenID Connect sign-in state (flows, logout token ids, provider sessions), in the same Redis. */
  readonly idp: IdpStore;
  /** The command client, for the express-session reader. */
  readonly redis: RedisClient | undefined;
  close(): Promise<void>;
}

function waitReady(client: RedisClient, ms: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(false), ms);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      resolve(ok);
    };
    const onReady = () => done(true);
    client.on('ready', onReady);
  });
}

function memoryBackend(clock: Clock): SessionBackend {
  return {
    kind: 'memory',
    store: new MemorySessionStore(clock),
    bus: new MemoryBus(),
    rateLimits: new MemoryRateLimitStore(clock),
    idp: new MemoryIdpStore(clock),
    redis: undefined,
    close: async () => undefined,
  };
}

/** What the Redis clients report, for metrics (reconnects, Cluster slot refreshes). */
export interface RedisClientObserver {
  reconnecting(client: 'commands' | 'subscriber'): void;
  slotsRefreshed(): void;
}

export async function createSessionBackend(cfg: GatewayConfig, clock: Clock, logger: Logger, observe?: RedisClientObserver): Promise<SessionBackend> {
  const single = 'sessions live in this process only: one instance, lost on restart, no revocation across instances; development only';
  if (cfg.session.store === 'memory') {
    logger.warn({ store: 'memory' }, `session.store is memory: ${single}`);
    return memoryBackend(clock);
  }
  const redis = createRedisClient(cfg.redis);
  // Connection noise (resets, refused while restarting) is debug; a refused password or ACL is a
  // configuration problem nobody would otherwise see: an error, at most every 30 s.
  let authLoggedAt = -Infinity;
  redis.on('error', (err: Error) => {
    if (/WRONGPASS|NOAUTH|NOPERM/.test(err.message) && clock.now() - authLoggedAt >= 30_000) {
      authLoggedAt = clock.now();
      logger.error({ redis: describeRedis(cfg.redis), err: err.message.slice(0, 120) }, 'Redis refuses the gateway\'s credentials: check redis.url / password / ACL');
    } else logger.debug({ err: err.message }, 'redis error');
  });
  redis.on('reconnecting', () => observe?.reconnecting('commands'));
  redis.on('refresh', () => observe?.slotsRefreshed());
  const ready = await waitReady(redis, cfg.redis.connectTimeout);
  if (!ready && cfg.session.memoryFallback) {
    redis.disconnect();
    logger.warn(
      { redis: describeRedis(cfg.redis) },
      `!!! Redis does not answer; session.memoryFallback is on, so ${single} !!!`,
    );
    return memoryBackend(clock);
  }
  if (!ready) logger.error({ redis: describeRedis(cfg.redis) }, 'Redis does not answer yet: protected routes answer 503 until it does');
  const subscriber = createRedisClient(cfg.redis, 'subscriber');
  subscriber.on('error', () => undefined);
  subscriber.on('reconnecting', () => observe?.reconnecting('subscriber'));
  const store = new RedisSessionStore(redis, cfg.redis.keyPrefix, cfg.session.absoluteTimeout, clock);
  const bus = new RedisBus(redis, subscriber, cfg.redis.keyPrefix);
  return {
    kind: 'redis',
    store,
    bus,
    rateLimits: new RedisRateLimitStore(redis, cfg.redis.keyPrefix),
    idp: new RedisIdpStore(redis, cfg.redis.keyPrefix),
    redis,
    close: async () => {
      await bus.close();
      redis.disconnect();
    },
  };
}
