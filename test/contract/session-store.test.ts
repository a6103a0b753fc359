// One contract, every store: the memory store and the Redis store (a real redis-server) must
// behave the same, so development on one means production on the other.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { MemorySessionStore } from '../../src/adapters/memory/session-store.js';
import { RedisSessionStore } from '../../src/adapters/redis/session-store.js';
import type { SessionStore, StoredSession } from '../../src/sessions/store.js';
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
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const stores: [string, () => SessionStore][] = [
  ['memory', () => new MemorySessionStore({ now: () => Date.now() })],
  ['redis', () => new RedisSessionStore(client, `t${++n}:`, 60_000, systemClock)],
];

describe.each(stores)('%s session store', (_name, make) => {
  it('creates, reads and deletes a session', async () => {
    const store = make();
    const s = session('alice');
    await store.create('hash-a', s, 10_000);
    expect(await store.get('hash-a')).toEqual(s);
    expect(await store.delete('hash-a')).toEqual(s);
    expect(await store.get('hash-a')).toBeUndefined();
    expect(await store.delete('hash-a')).toBeUndefined();
  });

  it('expires a session after its TTL', async () => {
    const store = make();
    await store.create('hash-ttl', session('bob'), 150);
    expect(await store.get('hash-ttl')).toBeDefined();
    await sleep(250);
    expect(await store.get('hash-ttl')).toBeUndefined();
  });

  it('touch extends the TTL and rewrites the record, but never recreates a deleted session', async () => {
    const store = make();
    const s = session('carol');
    await store.create('hash-t', s, 200);
    await sleep(120);
    expect(await store.touch('hash-t', { ...s, lastSeenAt: 5000 }, 400)).toBe(true);
    await sleep(150);
    expect((await store.get('hash-t'))?.lastSeenAt).toBe(5000);
    await store.delete('hash-t');
    expect(await store.touch('hash-t', s, 10_000)).toBe(false);
    expect(await store.get('hash-t')).toBeUndefined();
  });

  it('lists and deletes every session of a user through the index, and only theirs', async () => {
    const store = make();
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
    const store = make();
    await store.create('f1', session('frank'), 100);
    await store.create('f2', session('frank'), 10_000);
    await sleep(200);
    expect((await store.listByUser('frank')).map((x) => x.idHash)).toEqual(['f2']);
  });

  it('deleting one session removes it from the user index', async () => {
    const store = make();
    await store.create('g1', session('gina'), 10_000);
    await store.delete('g1');
    expect(await store.listByUser('gina')).toEqual([]);
  });

  it('answers ping', async () => {
    await expect(make().ping()).resolves.toBeUndefined();
  });
});

describe('redis store keys', () => {
  it('hold a hash of the session id, never anything else identifying the session', async () => {
    const store = new RedisSessionStore(client, 'keys:', 60_000, systemClock);
    await store.create('the-hash', session('henry'), 10_000);
    const keys = (await client.keys('keys:*')).sort();
    expect(keys).toEqual(['keys:s:the-hash', 'keys:u:henry']);
    expect(await client.pttl('keys:s:the-hash')).toBeLessThanOrEqual(10_000);
    expect(await client.pttl('keys:u:henry')).toBeGreaterThan(10_000);
  });
});
