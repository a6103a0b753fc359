// The Redis client factory: one server by URL, Sentinel, or Cluster, all configured to fail fast.
// With no offline queue and a command timeout, a Redis that is down or stalled turns into errors
// within `commandTimeout`, which the session layer answers with 503: never an unbounded wait, never
// anonymous access.
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { GatewayConfig } from '../../config/schema.js';

export type RedisClient = Redis | Cluster;
export type RedisSettings = GatewayConfig['redis'];

function baseOptions(cfg: RedisSettings): RedisOptions {
  return {
    commandTimeout: cfg.commandTimeout,
    connectTimeout: cfg.connectTimeout,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // Keep reconnecting (capped backoff): service must resume by itself when Redis is back.
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2000),
    lazyConnect: false,
  };
}

/** `subscriber` clients skip the command timeout: a subscription is a long wait by design. */
export function createRedisClient(cfg: RedisSettings, role: 'commands' | 'subscriber' = 'commands'): RedisClient {
  const options = baseOptions(cfg);
  if (role === 'subscriber') {
    delete options.commandTimeout;
    options.enableOfflineQueue = true;
  }
  if (cfg.cluster) {
    return new Cluster(
      cfg.cluster.nodes.map((u) => {
        const url = new URL(u);
        return { host: url.hostname, port: Number(url.port || 6379) };
      }),
      {
        redisOptions: { ...options, password: cfg.cluster.password },
        enableOfflineQueue: options.enableOfflineQueue,
        clusterRetryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2000),
        // A frozen master keeps its connection open, so nothing else tells ioredis that its replica
        // took over the slots: re-read the slot map this often (ioredis does not by default).
        slotsRefreshInterval: cfg.cluster.slotsRefreshInterval,
        slotsRefreshTimeout: Math.min(1000, cfg.commandTimeout * 2),
      },
    );
  }
  if (cfg.sentinel) {
    return new Redis({
      ...options,
      sentinels: cfg.sentinel.nodes.map((n) => {
        const i = n.lastIndexOf(':');
        return { host: n.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(n.slice(i + 1)) };
      }),
      name: cfg.sentinel.name,
      // Follow +switch-master from the sentinels: a frozen master keeps its connection open, so
      // without this the client keeps sending to it; on reconnect ioredis asks the sentinels for
      // the master and checks the server's role (a demoted master is refused).
      failoverDetector: true,
      password: cfg.sentinel.password,
      sentinelPassword: cfg.sentinel.sentinelPassword,
      db: cfg.sentinel.db,
    });
  }
  return new Redis(cfg.url, options);
}

/** A short description for logs: never the password. */
export function describeRedis(cfg: RedisSettings): string {
  if (cfg.cluster) return `cluster(${cfg.cluster.nodes.length} nodes)`;
  if (cfg.sentinel) return `sentinel(${cfg.sentinel.name})`;
  const u = new URL(cfg.url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}
