// The not-before store, memory and Redis alike: a later time is never overwritten by an earlier
// one, a prune removes only what is older than its horizon, and an incremental read returns what
// was written after its cursor and nothing before.
import { describe, expect, it } from 'vitest';
import { MemoryNotBeforeStore } from '../../src/adapters/memory/not-before-store.js';
import { RedisNotBeforeStore } from '../../src/adapters/redis/not-before-store.js';
import type { NotBeforeStore } from '../../src/revocation/not-before.js';
import { useRedis } from '../support/redis.js';

const redis = useRedis();

let n = 0;
const stores: [string, () => NotBeforeStore][] = [
  ['memory', () => new MemoryNotBeforeStore()],
  ['redis', () => new RedisNotBeforeStore(redis.client, `nb${++n}:`)],
];

describe.each(stores)('%s not-before store', (_, make) => {
  it('keeps the latest time of a user', async () => {
    const store = make();
    await store.set('ann', 2000);
    await store.set('ann', 1000);
    await store.set('bob', 1500);
    expect((await store.all()).entries).toEqual(new Map([['ann', 2000], ['bob', 1500]]));
  });

  it('prunes only entries older than the horizon', async () => {
    const store = make();
    await store.set('old', 1000);
    await store.set('edge', 5000);
    await store.set('new', 9000);
    await store.prune(5000);
    expect((await store.all()).entries).toEqual(new Map([['edge', 5000], ['new', 9000]]));
  });

  it('reads incrementally from a cursor: only later writes, and the cursor moves on', async () => {
    const store = make();
    const empty = await store.all();
    await store.set('ann', 1000);
    const first = await store.since(empty.cursor);
    expect(first?.entries).toEqual(new Map([['ann', 1000]]));
    await store.set('bob', 2000);
    await store.set('ann', 3000);
    const second = await store.since(first!.cursor);
    expect(second?.entries).toEqual(new Map([['bob', 2000], ['ann', 3000]]));
    expect((await store.since(second!.cursor))?.entries).toEqual(new Map());
    const snapshot = await store.all();
    expect((await store.since(snapshot.cursor))?.entries).toEqual(new Map());
  });

  it('reads a burst larger than one page', async () => {
    const store = make();
    const start = await store.all();
    for (let i = 0; i < 2500; i++) await store.set(`u${i}`, 1000 + i);
    const read = await store.since(start.cursor);
    expect(read?.entries.size).toBe(2500);
    expect(read?.entries.get('u2499')).toBe(3499);
    expect((await store.since(read!.cursor))?.entries.size).toBe(0);
  });
});
