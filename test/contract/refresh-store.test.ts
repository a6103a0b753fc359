// Refresh-token families, memory and Redis alike: rotation, the grace retry, reuse that revokes the
// whole family, absolute and idle ends, revoking a user, and the per-user cap.
//
// Time. The Redis store decides the absolute end, the idle window and the grace window by Redis's
// own clock (TIME), which no test can move; the memory store decides by the `now` it is given. So
// the suite sets up the past instead of moving time forward: a family "created an hour ago" is
// created with that createdAt (both stores take it as written), and `now` is the real time, which is
// what TIME says on this machine. Only the end of a grace window needs time to pass after a store
// call (a token's time of use is the store's own time, never the caller's): `elapse` moves the
// memory store's clock and waits that long, a few milliseconds, for Redis.
import { beforeAll, describe, expect, it } from 'vitest';
import { MemoryRefreshStore } from '../../src/adapters/memory/refresh-store.js';
import { RedisRefreshStore } from '../../src/adapters/redis/refresh-store.js';
import type { Family, RefreshStore } from '../../src/refresh/store.js';
import { useRedis } from '../support/redis.js';

const redis = useRedis();

const HOUR = 3_600_000;

interface Subject {
  readonly store: RefreshStore;
  /** The `now` rotate and trimUser are called with. */
  now(): number;
  /** Let more than `ms` pass on the clock the store decides by. */
  elapse(ms: number): Promise<void>;
}

async function realElapse(ms: number): Promise<void> {
  // Strictly more than `ms` whole milliseconds: TIME is read at millisecond resolution, rounded down.
  const until = Date.now() + ms + 1;
  while (Date.now() < until) await new Promise((r) => setTimeout(r, until - Date.now()));
}

let n = 0;
const subjects: [string, () => Subject][] = [
  [
    'memory',
    () => {
      let t = Date.now();
      return { store: new MemoryRefreshStore(), now: () => t, elapse: async (ms) => void (t += ms + 1) };
    },
  ],
  ['redis', () => ({ store: new RedisRefreshStore(redis.client, `rf${++n}:`), now: () => Date.now(), elapse: realElapse })],
];

let ids = 0;
/** A family of `sub` created `age` ms ago that ends `lifetime` ms after its creation. */
function family(s: Subject, sub: string, { age = 0, lifetime = 2 * HOUR } = {}): Family {
  const createdAt = s.now() - age;
  return { familyId: `family-${++ids}`, sub, claims: { roles: ['user'], n: ids }, createdAt, expiresAt: createdAt + lifetime };
}

describe.each(subjects)('%s refresh store', (_, make) => {
  let s: Subject;
  const create = (f: Family, token: string, idleMs = HOUR) => s.store.create(f, token, idleMs);
  const rotate = (f: Family, old: string, next: string, { payload = `answer-for-${next}`, graceMs = 30_000, idleMs = HOUR } = {}) =>
    s.store.rotate(f.familyId, old, next, payload, s.now(), graceMs, idleMs);
  const owner = async (f: Family) => {
    const got = await s.store.family(f.familyId);
    return got && { sub: got.sub, claims: got.claims };
  };

  beforeAll(() => {
    s = make();
  });

  it('creates a family that names its owner and claims; an unknown family is undefined', async () => {
    const f = family(s, 'ann');
    await create(f, 't0');
    expect(await owner(f)).toEqual({ sub: 'ann', claims: f.claims });
    expect(await s.store.family('no-such-family')).toBeUndefined();
  });

  it('rotates the current token, and the successor is the current one next', async () => {
    const f = family(s, 'ann');
    await create(f, 't0');
    expect(await rotate(f, 't0', 't1')).toEqual({ kind: 'rotated' });
    expect(await rotate(f, 't1', 't2')).toEqual({ kind: 'rotated' });
    expect(await rotate(f, 't2', 't3')).toEqual({ kind: 'rotated' });
    expect(await owner(f)).toEqual({ sub: 'ann', claims: f.claims });
  });

  it('answers a retry of the just-used token within the grace window with the same payload, while its successor is unused', async () => {
    const f = family(s, 'bob');
    await create(f, 't0');
    expect(await rotate(f, 't0', 't1', { payload: 'sealed-1' })).toEqual({ kind: 'rotated' });
    // The retry brings its own successor and payload: neither is kept, the first answer is given again.
    expect(await rotate(f, 't0', 't1-retry', { payload: 'sealed-retry' })).toEqual({ kind: 'grace', payload: 'sealed-1' });
    expect(await rotate(f, 't0', 't1-again', { payload: 'sealed-again' })).toEqual({ kind: 'grace', payload: 'sealed-1' });
    expect(await owner(f)).toBeDefined();
    expect(await rotate(f, 't1-retry', 'x')).toEqual({ kind: 'invalid' });
    expect(await rotate(f, 't1', 't2')).toEqual({ kind: 'rotated' });
  });

  it('once the successor is used, the predecessor again is reuse: the family is revoked, its current token too', async () => {
    const f = family(s, 'cid');
    await create(f, 't0');
    await rotate(f, 't0', 't1');
    await rotate(f, 't1', 't2');
    expect(await rotate(f, 't0', 'x')).toEqual({ kind: 'reuse', sub: 'cid' });
    expect(await s.store.family(f.familyId)).toBeUndefined();
    expect(await rotate(f, 't2', 't3')).toEqual({ kind: 'invalid' });
    expect(await rotate(f, 't1', 'y')).toEqual({ kind: 'invalid' });
  });

  it('after the grace window the predecessor again is reuse, though its successor is unused', async () => {
    const f = family(s, 'dan');
    await create(f, 't0');
    expect(await rotate(f, 't0', 't1', { graceMs: 20 })).toEqual({ kind: 'rotated' });
    await s.elapse(20);
    expect(await rotate(f, 't0', 'x', { graceMs: 20 })).toEqual({ kind: 'reuse', sub: 'dan' });
    expect(await s.store.family(f.familyId)).toBeUndefined();
    expect(await rotate(f, 't1', 't2')).toEqual({ kind: 'invalid' });
  });

  it('an unknown token is invalid and changes nothing', async () => {
    const f = family(s, 'eve');
    await create(f, 't0');
    expect(await s.store.rotate('no-such-family', 't0', 't1', 'p', s.now(), 30_000, HOUR)).toEqual({ kind: 'invalid' });
    expect(await rotate(f, 'not-a-token-of-it', 't1')).toEqual({ kind: 'invalid' });
    expect(await owner(f)).toBeDefined();
    expect(await rotate(f, 't0', 't1')).toEqual({ kind: 'rotated' });
  });

  it('a family past its absolute end is invalid, though used within the idle window', async () => {
    const ended = family(s, 'fay', { age: 60_000, lifetime: 60_000 });
    const live = family(s, 'fay', { age: 60_000, lifetime: 70_000 });
    await create(ended, 't0');
    await create(live, 't0');
    expect(await rotate(ended, 't0', 't1')).toEqual({ kind: 'invalid' });
    expect(await rotate(live, 't0', 't1')).toEqual({ kind: 'rotated' });
  });

  it('a family unused for the idle window is invalid; each rotation starts the window again', async () => {
    const idle = family(s, 'gus', { age: 10_000 });
    const recent = family(s, 'gus', { age: 8_000 });
    await create(idle, 't0', 10_000);
    await create(recent, 't0', 10_000);
    expect(await rotate(idle, 't0', 't1', { idleMs: 10_000 })).toEqual({ kind: 'invalid' });
    expect(await rotate(recent, 't0', 't1', { idleMs: 10_000 })).toEqual({ kind: 'rotated' });
    // Last used now, not at its creation 8 s ago: a 5 s window has not passed.
    expect(await rotate(recent, 't1', 't2', { idleMs: 5_000 })).toEqual({ kind: 'rotated' });
  });

  it('revokeUser revokes every family of the user, and only theirs, and says how many', async () => {
    const a1 = family(s, 'hal');
    const a2 = family(s, 'hal');
    const other = family(s, 'ida');
    await create(a1, 'a');
    await create(a2, 'b');
    await create(other, 'c');
    await rotate(a2, 'b', 'b2');
    expect(await s.store.revokeUser('hal')).toBe(2);
    expect(await s.store.family(a1.familyId)).toBeUndefined();
    expect(await s.store.family(a2.familyId)).toBeUndefined();
    expect(await rotate(a1, 'a', 'a2')).toEqual({ kind: 'invalid' });
    expect(await rotate(a2, 'b2', 'b3')).toEqual({ kind: 'invalid' });
    expect(await s.store.revokeUser('hal')).toBe(0);
    expect(await s.store.revokeUser('nobody')).toBe(0);
    expect(await owner(other)).toEqual({ sub: 'ida', claims: other.claims });
    expect(await rotate(other, 'c', 'c2')).toEqual({ kind: 'rotated' });
  });

  it('revokeUser counts only the families it revoked, not one reuse had already ended', async () => {
    const live = family(s, 'lou');
    const reused = family(s, 'lou');
    await create(live, 'l0');
    await create(reused, 'r0');
    await rotate(reused, 'r0', 'r1');
    await rotate(reused, 'r1', 'r2');
    expect(await rotate(reused, 'r0', 'x')).toMatchObject({ kind: 'reuse' });
    expect(await s.store.revokeUser('lou')).toBe(1);
  });

  it('forgets a used token an idle window after its use: a later replay is refused, the live family kept', async () => {
    const f = family(s, 'max');
    await create(f, 'm0', 400);
    await rotate(f, 'm0', 'm1', { idleMs: 400 });
    await s.elapse(250);
    await rotate(f, 'm1', 'm2', { idleMs: 400 });
    await s.elapse(250);
    // m0 was used 500 ms ago (past its window); the family was used 250 ms ago (within it).
    expect(await rotate(f, 'm0', 'x', { idleMs: 400 })).toEqual({ kind: 'invalid' });
    expect(await owner(f)).toBeDefined();
    expect(await rotate(f, 'm2', 'm3', { idleMs: 400 })).toEqual({ kind: 'rotated' });
  });

  it('trimUser keeps the newest live families up to the cap, revokes the older ones; ended families take no place and leave', async () => {
    const oldest = family(s, 'jo', { age: 40_000 });
    const older = family(s, 'jo', { age: 30_000 });
    const newer = family(s, 'jo', { age: 20_000 });
    const newest = family(s, 'jo', { age: 10_000 });
    // Ended ones: unused for longer than the idle window, past the absolute end, revoked after reuse (the newest of all).
    const idle = family(s, 'jo', { age: 2 * HOUR, lifetime: 3 * HOUR });
    const expired = family(s, 'jo', { age: 50_000, lifetime: 50_000 });
    const reused = family(s, 'jo', { age: 5_000 });
    const others = family(s, 'kim', { age: 60_000 });
    for (const f of [oldest, older, newer, newest, idle, expired, reused, others]) await create(f, 't0');
    await rotate(reused, 't0', 't1');
    await rotate(reused, 't1', 't2');
    expect(await rotate(reused, 't0', 'x')).toMatchObject({ kind: 'reuse' });

    expect(await s.store.trimUser('jo', 2, s.now(), HOUR)).toBe(2);
    expect(await s.store.family(oldest.familyId)).toBeUndefined();
    expect(await s.store.family(older.familyId)).toBeUndefined();
    expect(await rotate(oldest, 't0', 't1')).toEqual({ kind: 'invalid' });
    expect(await owner(newer)).toBeDefined();
    expect(await owner(newest)).toBeDefined();
    expect(await owner(others)).toBeDefined();
    expect(await s.store.trimUser('jo', 2, s.now(), HOUR)).toBe(0);
    expect(await s.store.trimUser('kim', 2, s.now(), HOUR)).toBe(0);
    expect(await rotate(newest, 't0', 't1')).toEqual({ kind: 'rotated' });
    // What is left of the user is the two kept families.
    expect(await s.store.revokeUser('jo')).toBe(2);
    expect(await owner(others)).toBeDefined();
  });
});

describe('redis refresh keys', () => {
  it('all expire: the family at its absolute end, tokens after the idle window, the retry answer soon after the grace window', async () => {
    const store = new RedisRefreshStore(redis.client, 'keys:');
    const now = Date.now();
    await store.create({ familyId: 'fam', sub: 'lu', claims: {}, createdAt: now, expiresAt: now + 2 * HOUR }, 't0', HOUR);
    const pttl = (key: string) => redis.client.pttl(`keys:${key}`);
    const within = async (key: string, max: number) => {
      const ttl = await pttl(key);
      expect(ttl, key).toBeLessThanOrEqual(max);
      expect(ttl, key).toBeGreaterThan(max - 5_000);
    };
    await within('rf:{fam}', 2 * HOUR);
    await within('ru:lu', 2 * HOUR);
    await within('rt:{fam}:t0', HOUR);
    expect(await store.rotate('fam', 't0', 't1', 'sealed', Date.now(), 30_000, HOUR)).toEqual({ kind: 'rotated' });
    await within('rf:{fam}', 2 * HOUR);
    await within('rt:{fam}:t0', HOUR);
    await within('rt:{fam}:t1', HOUR);
    await within('rg:{fam}:t0', 31_000);
    expect(await redis.client.get('keys:rt:{fam}:t0')).not.toContain('sealed');
  });
});
