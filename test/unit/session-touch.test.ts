// A touch that finds the record gone (revoked meanwhile, perhaps on another instance whose event
// has not arrived) must not put the session back into the cache: the store says whether it wrote.
import { describe, expect, it } from 'vitest';
import { MemoryBus } from '../../src/adapters/memory/bus.js';
import { MemorySessionStore } from '../../src/adapters/memory/session-store.js';
import { SessionService } from '../../src/sessions/service.js';

describe('SessionService touch', () => {
  it('answers unknown, and forgets the cached session, when the touch finds the record gone', async () => {
    let now = 1_000_000;
    const clock = { now: () => now };
    const store = new MemorySessionStore(clock);
    const noop = () => undefined;
    const service = new SessionService(
      store,
      new MemoryBus(),
      clock,
      { idleTimeoutMs: 60_000, absoluteTimeoutMs: 3_600_000, touchIntervalMs: 1_000, cacheTtlMs: 3_600_000, cacheMaxEntries: 100 },
      { cache: noop, storeCall: noop, created: noop, revoked: noop, unreadable: noop },
    );
    const { id, session } = await service.create({ sub: 'u', claims: {}, clientIp: '127.0.0.1', userAgent: 't' });
    expect((await service.resolve(id)).kind).toBe('active');
    // Deleted behind the service's back: no invalidation event reaches this instance.
    await store.delete(session.idHash);
    // Within the touch interval the cache still answers (the bus would have told it otherwise)...
    expect((await service.resolve(id)).kind).toBe('active');
    // ...but the touch at the interval finds the record gone: refused, and not cached again.
    now += 1_500;
    expect(await service.resolve(id)).toEqual({ kind: 'invalid', reason: 'unknown' });
    expect(await service.resolve(id)).toEqual({ kind: 'invalid', reason: 'unknown' });
    expect(await store.get(session.idHash)).toBeUndefined();
  });

  it('does not cache a session fetched while an invalidation for it arrived', async () => {
    const clock = { now: () => 1_000_000 };
    const store = new MemorySessionStore(clock);
    const bus = new MemoryBus();
    const noop = () => undefined;
    let hold: Promise<void> | undefined;
    const slow = Object.create(store) as MemorySessionStore;
    slow.get = async (h: string) => {
      const found = await store.get(h);
      if (hold) await hold;
      return found;
    };
    const service = new SessionService(
      slow,
      bus,
      clock,
      { idleTimeoutMs: 60_000, absoluteTimeoutMs: 3_600_000, touchIntervalMs: 60_000, cacheTtlMs: 3_600_000, cacheMaxEntries: 100 },
      { cache: noop, storeCall: noop, created: noop, revoked: noop, unreadable: noop },
    );
    const { id, session } = await service.create({ sub: 'u', claims: {}, clientIp: '127.0.0.1', userAgent: 't' });
    let release!: () => void;
    hold = new Promise((r) => (release = r));
    const lookup = service.resolve(id);
    // Revoked on another instance while the lookup is in flight: the store row goes, the event arrives.
    await store.delete(session.idHash);
    await bus.publish({ type: 'session', idHash: session.idHash });
    release();
    hold = undefined;
    expect((await lookup).kind).toBe('active');
    // Not cached: the next lookup asks the store, which no longer has it.
    expect(await service.resolve(id)).toEqual({ kind: 'invalid', reason: 'unknown' });
  });
});
