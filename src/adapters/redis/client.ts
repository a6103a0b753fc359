// The Redis client factory: one server by URL, Sentinel, or Cluster, all configured to fail fast.
// With no offline queue and a command timeout, a Redis that is down or stalled turns into errors
// within `commandTimeout`, which the session layer answers with 503: never an unbounded wait, never
// anonymous access.
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
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
    enableAutoPipelining: cfg.autoPipelining,
  };
}

/** `subscriber` clients skip the command timeout: a subscription is a long wait by design. */
export function createRedisClient(cfg: RedisSettings, role: 'commands' | 'subscriber' = 'commands'): RedisClient {
  const options = baseOptions(cfg);
  if (role === 'subscriber') {
    delete options.commandTimeout;
    // A subscription connection sends a few commands, never in a hurry.
    options.enableAutoPipelining = false;
    options.enableOfflineQueue = true;
  }
  if (cfg.cluster) {
    const { nodes, options: clusterOpts } = clusterSettings(cfg.cluster, options, cfg.commandTimeout);
    return new Cluster(nodes, clusterOpts);
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

/**
 * The Cluster's seed nodes and options. `rediss://` nodes mean TLS to every node (ioredis takes one
 * TLS setting for the whole cluster, so the schema refuses a mix); a node URL's user name and
 * password are used when cluster.password does not say otherwise.
 */
export function clusterSettings(
  cluster: NonNullable<RedisSettings['cluster']>,
  options: RedisOptions,
  commandTimeout: number,
): { nodes: { host: string; port: number }[]; options: ClusterOptions } {
  const urls = cluster.nodes.map((u) => new URL(u));
  const tls = urls[0]?.protocol === 'rediss:';
  const withCredentials = urls.find((u) => u.username || u.password);
  return {
    nodes: urls.map((u) => ({ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 6379) })),
    options: {
      redisOptions: {
        ...options,
        ...(tls ? { tls: {} } : {}),
        ...(withCredentials?.username ? { username: decodeURIComponent(withCredentials.username) } : {}),
        password: cluster.password ?? (withCredentials?.password ? decodeURIComponent(withCredentials.password) : undefined),
      },
      enableOfflineQueue: options.enableOfflineQueue,
      // A cluster pipelines per node: ioredis reads this from the cluster's options, not the nodes'.
      ...(options.enableAutoPipelining ? { enableAutoPipelining: true } : {}),
      clusterRetryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2000),
      // A frozen master keeps its connection open, so nothing else tells ioredis that its replica
      // took over the slots: re-read the slot map this often (ioredis does not by default).
      slotsRefreshInterval: cluster.slotsRefreshInterval,
      slotsRefreshTimeout: Math.min(1000, commandTimeout * 2),
    },
  };
}

/** A short description for logs: never the password. */
export function describeRedis(cfg: RedisSettings): string {
  if (cfg.cluster) return `cluster(${cfg.cluster.nodes.length} nodes)`;
  if (cfg.sentinel) return `sentinel(${cfg.sentinel.name})`;
  const u = new URL(cfg.url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}
