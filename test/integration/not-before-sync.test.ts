// The not-before map across instances, with the orderings forced by hand against a real Redis:
// a prune cannot delete a revocation written while it runs, a sync reads only what changed (and
// everything again when the log no longer reaches back), and a push applied during a sync stays.
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { RedisNotBeforeStore } from '../../src/adapters/redis/not-before-store.js';
import { NotBeforeRegistry } from '../../src/revocation/not-before.js';
import { useRedis } from '../support/redis.js';

const shared = useRedis();

type Command = { name: string; promise: Promise<unknown> };
/** A client that records the commands it sends, and can run `after` once the first reply came back. */
function watchedClient(after?: () => Promise<void>): { client: Redis; sent: string[] } {
  const client = shared.server.client();
  const sent: string[] = [];
  const send = client.sendCommand.bind(client) as (c: Command, ...rest: unknown[]) => Promise<unknown>;
  let pending = after;
  (client as unknown as { sendCommand: typeof send }).sendCommand = (c, ...rest) => {
    sent.push(c.name);
    const reply = send(c, ...rest);
    const hook = pending;
    if (!hook) return reply;
    pending = undefined;
    return reply.then(async (v) => {
      await hook();
      return v;
    });
  };
  return { client, sent };
}

const HOUR = 3_600_000;

describe('not-before times across instances', () => {
  it('a revocation written while a prune runs survives it', async () => {
    const writer = new RedisNotBeforeStore(shared.client, 'prune:');
    const now = Date.now();
    await writer.set('kim', now - 2 * HOUR);
    // The prune's first reply is held until the same user is revoked again, now.
    const { client } = watchedClient(() => writer.set('kim', now));
    await new RedisNotBeforeStore(client, 'prune:').prune(now - HOUR);
    expect((await writer.all()).entries.get('kim')).toBe(now);
    client.disconnect();
  });

  it('a sync reads only what changed since the last one, not the whole map', async () => {
    const a = new NotBeforeRegistry(new RedisNotBeforeStore(shared.client, 'inc:'), { now: () => Date.now() }, 60_000, HOUR);
    for (let i = 0; i < 500; i++) await a.revoke(`user${i}`, Date.now());
    const watched = watchedClient();
    const b = new NotBeforeRegistry(new RedisNotBeforeStore(watched.client, 'inc:'), { now: () => Date.now() }, 60_000, HOUR);
    await b.sync();
    expect(b.revoked('user7', 0)).toBe(true);
    expect(watched.sent).toContain('zscan');
    watched.sent.length = 0;
    // Instance a revokes; b hears nothing by pub/sub and finds it at its next sync.
    const at = Date.now() + 5000;
    await a.revoke('lee', at);
    expect(b.revoked('lee', Math.floor(at / 1000) - 1)).toBe(false);
    await b.sync();
    expect(b.revoked('lee', Math.floor(at / 1000) - 1)).toBe(true);
    expect(watched.sent).not.toContain('zscan');
    expect(watched.sent).not.toContain('hgetall');
    expect(watched.sent).toContain('xrange');
    watched.client.disconnect();
  });

  it('reads everything again when the log was trimmed past its cursor', async () => {
    const writer = new RedisNotBeforeStore(shared.client, 'gap:');
    const b = new NotBeforeRegistry(new RedisNotBeforeStore(shared.client, 'gap:'), { now: () => Date.now() }, 60_000, HOUR);
    await writer.set('first', Date.now());
    await b.sync();
    const missed = Date.now() + 10_000;
    await writer.set('missed', missed);
    await shared.client.xtrim('gap:{nb}:log', 'MAXLEN', 0);
    await writer.set('after', Date.now());
    await b.sync();
    expect(b.minIat('missed')).toBe(Math.ceil(missed / 1000));
    expect(b.minIat('after')).toBeGreaterThan(0);
    expect(b.minIat('first')).toBeGreaterThan(0);
  });

  it('a push applied while a sync is reading is kept', async () => {
    const store = new RedisNotBeforeStore(shared.client, 'push:');
    const at = Date.now();
    const holder: { registry?: NotBeforeRegistry } = {};
    const racing = {
      set: store.set.bind(store),
      prune: store.prune.bind(store),
      since: store.since.bind(store),
      all: async () => {
        const snapshot = await store.all();
        holder.registry?.apply('mae', at);
        return snapshot;
      },
    };
    const registry = new NotBeforeRegistry(racing, { now: () => Date.now() }, 60_000, HOUR);
    holder.registry = registry;
    await registry.sync();
    expect(registry.minIat('mae')).toBe(Math.ceil(at / 1000));
  });

  it('reads the hash of earlier versions', async () => {
    const at = Date.now();
    await shared.client.hset('legacy:notbefore', 'ned', String(at));
    const registry = new NotBeforeRegistry(new RedisNotBeforeStore(shared.client, 'legacy:'), { now: () => Date.now() }, 60_000, HOUR);
    await registry.sync();
    expect(registry.minIat('ned')).toBe(Math.ceil(at / 1000));
  });

  it('forgets, in Redis and in memory, times older than the longest token lifetime', async () => {
    let now = Date.now();
    const registry = new NotBeforeRegistry(new RedisNotBeforeStore(shared.client, 'age:'), { now: () => now }, 60_000, HOUR);
    await registry.revoke('old', now);
    now += HOUR + 1000;
    await registry.sync();
    expect(registry.minIat('old')).toBe(0);
    expect(await shared.client.zcard('age:{nb}:times')).toBe(0);
  });
});
