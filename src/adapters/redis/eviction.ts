// Redis's maxmemory-policy. Sessions, refresh families and revocations (the not-before map, the
// per-user indexes) all live in Redis; under memory pressure any policy but `noeviction` deletes
// some of them silently: a revoked user's not-before time, a user index "log out everywhere" needs.
// With `noeviction` Redis refuses writes instead (503, counted as `oom`), and nothing is forgotten.
import { Cluster } from 'ioredis';
import type { RedisClient } from './client.js';

/** The policies in force (one per master in a Cluster) that are not `noeviction`; [] when safe. */
export async function evictingPolicies(client: RedisClient): Promise<string[]> {
  const clients = client instanceof Cluster ? client.nodes('master') : [client];
  // INFO, not CONFIG GET: managed Redis services often forbid CONFIG.
  const infos = await Promise.all(clients.map((c) => c.info('memory')));
  return infos.map((info) => /^maxmemory_policy:(\S+)/m.exec(info)?.[1] ?? 'unknown').filter((p) => p !== 'noeviction');
}
