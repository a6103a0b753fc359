// OpenID Connect sign-in state, memory and Redis alike: a flow is taken once (a replayed callback
// finds nothing), expires with its TTL; a logout token id is claimed once; a provider session's user
// is remembered for its TTL. Time passes by moving the memory clock and the Redis keys' TTLs.
import { describe, expect, it } from 'vitest';
import { MemoryIdpStore } from '../../src/adapters/memory/idp-store.js';
import { RedisIdpStore } from '../../src/adapters/redis/idp-store.js';
import { failClosed, type IdpStore } from '../../src/sessions/idp-store.js';
import { GatewayError } from '../../src/errors.js';
import { elapseKeys, useRedis } from '../support/redis.js';

const redis = useRedis();

interface Subject {
  readonly store: IdpStore;
  elapse(ms: number): Promise<void>;
}

let n = 0;
const stores: [string, () => Subject][] = [
  [
    'memory',
    () => {
      let now = Date.now();
      return { store: new MemoryIdpStore({ now: () => now }), elapse: async (ms) => void (now += ms) };
    },
  ],
  [
    'redis',
    () => {
      const prefix = `idp${++n}:`;
      return { store: new RedisIdpStore(redis.client, prefix), elapse: async (ms) => void (await elapseKeys(redis.client, `${prefix}*`, ms)) };
    },
  ],
];

describe.each(stores)('%s OIDC state store', (_, make) => {
  it('hands a flow out once, and not after its TTL', async () => {
    const { store, elapse } = make();
    await store.putFlow('a', '{"state":"s"}', 10_000);
    const [first, second] = await Promise.all([store.takeFlow('a'), store.takeFlow('a')]);
    expect([first, second].sort()).toEqual(['{"state":"s"}', undefined].sort());
    await store.putFlow('b', 'x', 10_000);
    await elapse(10_001);
    expect(await store.takeFlow('b')).toBeUndefined();
  });

  it('claims a logout token id once until it expires', async () => {
    const { store, elapse } = make();
    const claims = await Promise.all([store.claimOnce('jti-1', 5_000), store.claimOnce('jti-1', 5_000)]);
    expect(claims.sort()).toEqual([false, true]);
    expect(await store.claimOnce('jti-2', 5_000)).toBe(true);
    await elapse(5_001);
    expect(await store.claimOnce('jti-1', 5_000)).toBe(true);
  });

  it('remembers whose a provider session is for its TTL', async () => {
    const { store, elapse } = make();
    await store.linkSession('corp:sid1', 'alice', 60_000);
    expect(await store.userOfSession('corp:sid1')).toBe('alice');
    expect(await store.userOfSession('corp:sid2')).toBeUndefined();
    await elapse(60_001);
    expect(await store.userOfSession('corp:sid1')).toBeUndefined();
  });
});

describe('a failing OIDC state store', () => {
  it('is a 503, never a guess', async () => {
    const broken: IdpStore = {
      putFlow: () => Promise.reject(new Error('down')),
      takeFlow: () => Promise.reject(new Error('down')),
      claimOnce: () => Promise.reject(new Error('down')),
      linkSession: () => Promise.reject(new Error('down')),
      userOfSession: () => Promise.reject(new Error('down')),
    };
    const err = await failClosed(broken).claimOnce('x', 1000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).status).toBe(503);
  });
});
