// One contract, every store: the memory store and the Redis store (a real redis-server) must
// behave the same, so development on one means production on the other.
//
// Time never passes by waiting: `elapse` moves the fake clock both stores are given and, for Redis,
// takes the same time off its keys' TTLs (elapseKeys: Redis's expiry is nothing else), so a TTL
// that was never set, or set too long, leaves a session that should be gone. The TTLs themselves
// are asserted with PTTL below.
import { describe, expect, it } from 'vitest';
import { MemorySessionStore } from '../../src/adapters/memory/session-store.js';
import { RedisSessionStore } from '../../src/adapters/redis/session-store.js';
import type { SessionStore, StoredSession } from '../../src/sessions/store.js';
import { elapseKeys, useRedis } from '../support/redis.js';

const redis = useRedis();

let n = 0;
const session = (sub: string, extra: Partial<StoredSession> = {}): StoredSession => ({
  handle: `h${++n}`,
  sub,
  claims: { email: `${sub}@example.com`, roles: ['user'] },
  createdAt: 1000,
  lastSeenAt: 1000,
  expiresAt: 100_000,
  clientIp: '127.0.0.1',
  userAgent: 'test',
  csrfToken: 'csrf',
  ...extra,
});

interface Subject {
  readonly store: SessionStore;
  /** Let `ms` pass for the store. */
  elapse(ms: number): Promise<void>;
}

function fakeClock() {
  let now = Date.now();
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

const stores: [string, () => Subject][] = [
  [
    'memory',
    () => {
      const clock = fakeClock();
      return { store: new MemorySessionStore(clock), elapse: async (ms) => clock.advance(ms) };
    },
  ],
  [
    'redis',
    () => {
      const clock = fakeClock();
      const prefix = `t${++n}:`;
      return {
        store: new RedisSessionStore(redis.client, prefix, 60_000, clock),
        elapse: async (ms) => {
          clock.advance(ms);
          await elapseKeys(redis.client, `${prefix}*`, ms);
        },
      };
    },
  ],
];

describe.each(stores)('%s session store', (_name, make) => {
  it('creates, reads and deletes a session', async () => {
    const { store } = make();
    const s = session('alice');
    await store.create('hash-a', s, 10_000);
    expect(await store.get('hash-a')).toEqual(s);
    expect(await store.delete('hash-a')).toEqual(s);
    expect(await store.get('hash-a')).toBeUndefined();
    expect(await store.delete('hash-a')).toBeUndefined();
  });

  it('expires a session after its TTL', async () => {
    const { store, elapse } = make();
    await store.create('hash-ttl', session('bob'), 1_500);
    await elapse(1_000);
    expect(await store.get('hash-ttl')).toBeDefined();
    await elapse(1_000);
    expect(await store.get('hash-ttl')).toBeUndefined();
    expect(await store.touch('hash-ttl', session('bob'), 10_000)).toBe(false);
    expect(await store.get('hash-ttl')).toBeUndefined();
  });

  it('touch extends the TTL and rewrites the record, but never recreates a deleted session', async () => {
    const { store, elapse } = make();
    const s = session('carol');
    await store.create('hash-t', s, 2_000);
    await elapse(1_200);
    expect(await store.touch('hash-t', { ...s, lastSeenAt: 5000 }, 4_000)).toBe(true);
    // Past the first TTL, within the one the touch set.
    await elapse(1_500);
    expect((await store.get('hash-t'))?.lastSeenAt).toBe(5000);
    await elapse(3_000);
    expect(await store.get('hash-t')).toBeUndefined();
    await store.create('hash-t', s, 10_000);
    await store.delete('hash-t');
    expect(await store.touch('hash-t', s, 10_000)).toBe(false);
    expect(await store.get('hash-t')).toBeUndefined();
  });

  it('lists and deletes every session of a user through the index, and only theirs', async () => {
    const { store } = make();
    await store.create('d1', session('dave'), 10_000);
    await store.create('d2', session('dave'), 10_000);
    await store.create('e1', session('erin'), 10_000);
    expect((await store.listByUser('dave')).map((x) => x.idHash).sort()).toEqual(['d1', 'd2']);
    expect((await store.deleteByUser('dave')).sort()).toEqual(['d1', 'd2']);
    expect(await store.get('d1')).toBeUndefined();
    expect(await store.get('d2')).toBeUndefined();
    expect(await store.listByUser('dave')).toEqual([]);
    expect(await store.get('e1')).toBeDefined();
  });

  it('drops expired sessions from listings', async () => {
    const { store, elapse } = make();
    await store.create('f1', session('frank'), 1_000);
    await store.create('f2', session('frank'), 10_000);
    await elapse(2_000);
    expect((await store.listByUser('frank')).map((x) => x.idHash)).toEqual(['f2']);
    expect(await store.deleteByUser('frank')).toEqual(['f2']);
  });

  it('deleting a user\'s sessions reports only those still there, not expired ones', async () => {
    const { store, elapse } = make();
    await store.create('e1', session('erin'), 1_000);
    await store.create('e2', session('erin'), 10_000);
    await elapse(2_000);
    expect(await store.deleteByUser('erin')).toEqual(['e2']);
  });

  it('deleting one session removes it from the user index', async () => {
    const { store } = make();
    await store.create('g1', session('gina'), 10_000);
    await store.delete('g1');
    expect(await store.listByUser('gina')).toEqual([]);
  });

  it('answers ping', async () => {
    await expect(make().store.ping()).resolves.toBeUndefined();
  });
});

describe('redis store keys', () => {
  const within = async (key: string, ms: number) => {
    const ttl = await redis.client.pttl(key);
    expect(ttl, key).toBeLessThanOrEqual(ms);
    expect(ttl, key).toBeGreaterThan(ms - 1_000);
  };

  it('hold a hash of the session id, never anything else identifying the session', async () => {
    const store = new RedisSessionStore(redis.client, 'keys:', 60_000, fakeClock());
    await store.create('the-hash', session('henry'), 10_000);
    const keys = (await redis.client.keys('keys:*')).sort();
    expect(keys).toEqual(['keys:s:the-hash', 'keys:u:henry']);
  });

  it('expire: the session after the TTL it was created or touched with, the index after the longest a session lives', async () => {
    const store = new RedisSessionStore(redis.client, 'ttl:', 60_000, fakeClock());
    const s = session('iris');
    await store.create('h1', s, 10_000);
    await within('ttl:s:h1', 10_000);
    await within('ttl:u:iris', 60_000);
    expect(await store.touch('h1', s, 30_000)).toBe(true);
    await within('ttl:s:h1', 30_000);
    expect(await store.touch('h1', s, 5_000)).toBe(true);
    await within('ttl:s:h1', 5_000);
  });
});
