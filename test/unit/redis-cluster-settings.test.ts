// Redis Cluster seed nodes as configured: rediss:// nodes mean TLS to every node (a node URL used to
// lose its scheme silently, so a TLS cluster was spoken to in clear), credentials from the URLs when
// cluster.password does not say otherwise, and a mix of TLS and clear nodes refused at load.
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { clusterSettings, createRedisClient, type RedisClient } from '../../src/adapters/redis/client.js';
import { gatewaySchema } from '../../src/config/schema.js';

const base = { commandTimeout: 500, enableOfflineQueue: false };

describe('Redis Cluster settings', () => {
  it('speaks TLS to every node when the nodes are rediss://', () => {
    const s = clusterSettings({ nodes: ['rediss://a.example:7000', 'rediss://b.example:7001'], slotsRefreshInterval: 2000 }, base, 500);
    expect(s.nodes).toEqual([
      { host: 'a.example', port: 7000 },
      { host: 'b.example', port: 7001 },
    ]);
    expect(s.options.redisOptions?.tls).toEqual({});
  });

  it('speaks clear text to redis:// nodes', () => {
    expect(clusterSettings({ nodes: ['redis://a.example:7000'], slotsRefreshInterval: 2000 }, base, 500).options.redisOptions?.tls).toBeUndefined();
  });

  it('takes the user name and password from the node URLs unless cluster.password is set', () => {
    const fromUrl = clusterSettings({ nodes: ['rediss://gw:s%40cret@a.example:7000'], slotsRefreshInterval: 2000 }, base, 500).options.redisOptions;
    expect([fromUrl?.username, fromUrl?.password]).toEqual(['gw', 's@cret']);
    expect(clusterSettings({ nodes: ['rediss://gw:url@a.example:7000'], password: 'configured', slotsRefreshInterval: 2000 }, base, 500).options.redisOptions?.password).toBe('configured');
  });

  it('refuses a mix of rediss:// and redis:// nodes at load', () => {
    const mixed = gatewaySchema.safeParse({ redis: { cluster: { nodes: ['rediss://a:7000', 'redis://b:7001'] } } });
    expect(mixed.success).toBe(false);
    expect(JSON.stringify(mixed.error?.issues)).toContain('not a mix');
    expect(gatewaySchema.safeParse({ redis: { cluster: { nodes: ['rediss://a:7000', 'rediss://b:7001'] } } }).success).toBe(true);
  });
});

describe('redis.autoPipelining', () => {
  const settings = (autoPipelining: boolean, extra: Record<string, unknown> = {}) =>
    gatewaySchema.parse({ redis: { autoPipelining, ...extra } }).redis;

  it('reaches the command client, never the subscriber, and the cluster at its own level', () => {
    const clients: RedisClient[] = [];
    try {
      for (const [on, role] of [
        [true, 'commands'],
        [true, 'subscriber'],
        [false, 'commands'],
      ] as const) {
        const c = createRedisClient(settings(on, { url: 'redis://127.0.0.1:1' }), role) as Redis;
        clients.push(c);
        c.on('error', () => undefined);
        expect(c.options.enableAutoPipelining, `${on} ${role}`).toBe(on && role === 'commands');
      }
      expect(gatewaySchema.parse({}).redis.autoPipelining).toBe(false);
      const cluster = clusterSettings({ nodes: ['redis://a.example:7000'], slotsRefreshInterval: 2000 }, { ...base, enableAutoPipelining: true }, 500);
      expect(cluster.options.enableAutoPipelining).toBe(true);
      expect(clusterSettings({ nodes: ['redis://a.example:7000'], slotsRefreshInterval: 2000 }, base, 500).options.enableAutoPipelining).toBeUndefined();
    } finally {
      for (const c of clients) c.disconnect();
    }
  });
});
