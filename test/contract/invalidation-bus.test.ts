// The invalidation bus, memory and Redis alike: every subscriber hears every event, its own too, of
// both types. For Redis (a real redis-server, clients built as the gateway builds them): only
// well-formed events on its own channel are delivered, two instances on their own connections hear
// each other, and `connected` is false while the subscription is down, with onGap once it is back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBus } from '../../src/adapters/memory/bus.js';
import { RedisBus } from '../../src/adapters/redis/bus.js';
import { createRedisClient, type RedisClient, type RedisSettings } from '../../src/adapters/redis/client.js';
import type { InvalidationBus, InvalidationEvent } from '../../src/sessions/store.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { until } from '../support/wait.js';

let server: RedisServer;
const clients: RedisClient[] = [];
const buses: InvalidationBus[] = [];
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await Promise.all(buses.map((b) => b.close()));
  for (const c of clients) c.disconnect();
  await server.dispose();
});

/** Polls every 5 ms: deliveries and reconnects take milliseconds here. */
const quick = (check: () => boolean, ms = 2_000) => until(async () => check(), ms, 5);

function settings(url: string): RedisSettings {
  return { url, keyPrefix: 'unused:', commandTimeout: 300, connectTimeout: 1000, autoPipelining: false };
}

/**
 * One gateway instance's bus: its own command and subscriber connections, as
 * compose/session-backend.ts builds them. Answers once the command connection is up (it has no
 * offline queue); the subscription is the bus's own business.
 */
async function redisBus(prefix: string, url = server.url): Promise<{ bus: RedisBus; publisher: RedisClient; subscriber: RedisClient }> {
  const publisher = createRedisClient(settings(url));
  const subscriber = createRedisClient(settings(url), 'subscriber');
  publisher.on('error', () => undefined);
  clients.push(publisher, subscriber);
  const bus = new RedisBus(publisher, subscriber, prefix);
  buses.push(bus);
  await quick(() => publisher.status === 'ready');
  return { bus, publisher, subscriber };
}

class Listener {
  readonly events: InvalidationEvent[] = [];
  gaps = 0;
  constructor(bus: InvalidationBus) {
    bus.subscribe(
      (e) => this.events.push(e),
      () => this.gaps++,
    );
  }
}

const EVENTS: InvalidationEvent[] = [
  { type: 'session', idHash: 'hash-1', reason: 'logout' },
  { type: 'user', sub: 'u-1', notBefore: 1_700_000_000_000, reason: 'admin' },
  { type: 'session', idHash: 'hash-2' },
  { type: 'user', sub: 'u-2' },
];

let n = 0;
const subjects: [string, () => Promise<InvalidationBus>][] = [
  ['memory', async () => new MemoryBus()],
  ['redis', async () => (await redisBus(`bus${++n}:`)).bus],
];

describe.each(subjects)('%s invalidation bus', (_, make) => {
  it('is connected once subscribed', async () => {
    const bus = await make();
    new Listener(bus);
    await quick(() => bus.connected);
    expect(bus.connected).toBe(true);
  });

  it('delivers every event to every subscriber, its own too, both types, in order', async () => {
    const bus = await make();
    const first = new Listener(bus);
    const second = new Listener(bus);
    await quick(() => bus.connected);
    for (const e of EVENTS) await bus.publish(e);
    await quick(() => first.events.length >= EVENTS.length && second.events.length >= EVENTS.length);
    expect(first.events).toEqual(EVENTS);
    expect(second.events).toEqual(EVENTS);
  });
});

describe('redis invalidation bus', () => {
  it('delivers only well-formed events of its own channel', async () => {
    const { bus, publisher, subscriber } = await redisBus('own:');
    const other = (await redisBus('other:')).bus;
    const heard = new Listener(bus);
    const heardByOther = new Listener(other);
    await quick(() => bus.connected && other.connected);
    // Another channel on the same connection: its messages are not events.
    await subscriber.subscribe('own:invalidate-not');
    const malformed = [
      'not json',
      'null',
      '"a string"',
      '42',
      '[]',
      '{}',
      '{"type":"session"}',
      '{"type":"session","idHash":7}',
      '{"type":"user"}',
      '{"type":"user","sub":null}',
      '{"type":"other","sub":"u","idHash":"h"}',
      '{"sub":"u","idHash":"h"}',
    ];
    for (const m of malformed) await publisher.publish('own:invalidate', m);
    await publisher.publish('own:invalidate-not', JSON.stringify(EVENTS[0]));
    await other.publish({ type: 'user', sub: 'from-the-other-prefix' });
    // One connection, so delivered in order: once this one is heard, everything before it was handled.
    await bus.publish({ type: 'session', idHash: 'last' });
    await quick(() => heard.events.length > 0 && heardByOther.events.length > 0);
    expect(heard.events).toEqual([{ type: 'session', idHash: 'last' }]);
    expect(heardByOther.events).toEqual([{ type: 'user', sub: 'from-the-other-prefix' }]);
  });

  it('two instances on their own connections hear each other', async () => {
    const a = (await redisBus('pair:')).bus;
    const b = (await redisBus('pair:')).bus;
    const atA = new Listener(a);
    const atB = new Listener(b);
    await quick(() => a.connected && b.connected);
    await a.publish(EVENTS[0] as InvalidationEvent);
    await b.publish(EVENTS[1] as InvalidationEvent);
    await quick(() => atA.events.length >= 2 && atB.events.length >= 2);
    expect(new Set(atA.events)).toEqual(new Set([EVENTS[0], EVENTS[1]]));
    expect(new Set(atB.events)).toEqual(new Set([EVENTS[0], EVENTS[1]]));
  });

  it('is not connected while the server is down, and tells every subscriber about the gap once subscribed again', async () => {
    const own = await startRedis();
    try {
      const { bus } = await redisBus('gap:', own.url);
      const first = new Listener(bus);
      const second = new Listener(bus);
      expect(bus.connected).toBe(false);
      await quick(() => bus.connected);
      // The first subscription is a gap too: nothing before it was heard.
      expect([first.gaps, second.gaps]).toEqual([1, 1]);
      await own.stop();
      await quick(() => !bus.connected);
      expect([first.gaps, second.gaps]).toEqual([1, 1]);
      await own.start();
      await quick(() => bus.connected, 5_000);
      expect([first.gaps, second.gaps]).toEqual([2, 2]);
      // Subscribed again: events flow, from another instance too.
      const other = (await redisBus('gap:', own.url)).bus;
      await other.publish(EVENTS[1] as InvalidationEvent);
      await quick(() => first.events.length > 0 && second.events.length > 0);
      expect(first.events).toEqual([EVENTS[1]]);
      expect(second.events).toEqual([EVENTS[1]]);
      await bus.close();
      expect(bus.connected).toBe(false);
    } finally {
      await own.dispose();
    }
  });

  it('notices a frozen server (no answer, no event): not connected until it answers again, then a gap', async () => {
    const own = await startRedis();
    try {
      const { bus } = await redisBus('frozen:', own.url);
      const heard = new Listener(bus);
      await quick(() => bus.connected);
      expect(heard.gaps).toBe(1);
      own.pause();
      // The heartbeat (1 s) finds no answer within its own period.
      await quick(() => !bus.connected, 5_000);
      own.resume();
      await quick(() => bus.connected, 8_000);
      expect(heard.gaps).toBe(2);
    } finally {
      own.resume();
      await own.dispose();
    }
  }, 20_000);
});
