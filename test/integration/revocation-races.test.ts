// "Log out everywhere" and user revocation read the user's index, end each member, then update the
// index. A sign-in (or a new refresh family) landing between the read and the update must be either
// revoked or still listed, never dropped from the index where no later revocation could find it.
// The window is small, so the read is held open by hand; real redis-server throughout.
import type { Redis } from 'ioredis';
import { systemClock } from '../../src/clock.js';
import { describe, expect, it } from 'vitest';
import { RedisRefreshStore } from '../../src/adapters/redis/refresh-store.js';
import { RedisSessionStore } from '../../src/adapters/redis/session-store.js';
import type { StoredSession } from '../../src/sessions/store.js';
import { CREATION_GRACE_MS, readIndexMember } from '../../src/adapters/redis/user-index.js';
import { elapseKeys, useRedis } from '../support/redis.js';

const shared = useRedis();

/** A client whose SMEMBERS answers only when `release()` is called: the revocation's read, held open. */
function heldClient(): { client: Redis; read: Promise<void>; release: () => void } {
  const client = shared.server.client();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let readDone!: () => void;
  const read = new Promise<void>((r) => (readDone = r));
  const smembers = client.smembers.bind(client);
  (client as unknown as { smembers: (key: string) => Promise<string[]> }).smembers = async (key: string) => {
    const members = await smembers(key);
    readDone();
    await gate;
    return members;
  };
  return { client, read, release };
}

const session = (sub: string, now = Date.now()): StoredSession => ({
  handle: `h-${Math.random()}`,
  sub,
  claims: {},
  createdAt: now,
  lastSeenAt: now,
  expiresAt: now + 60_000,
  clientIp: '127.0.0.1',
  userAgent: 't',
  csrfToken: 'c',
});

describe('a sign-in racing a user revocation', () => {
  it('is still listed afterwards (sessions)', async () => {
    const held = heldClient();
    const revoking = new RedisSessionStore(held.client, 'race:', 3_600_000, systemClock);
    const signingIn = new RedisSessionStore(shared.client, 'race:', 3_600_000, systemClock);
    await signingIn.create('old', session('dana'), 60_000);
    const revocation = revoking.deleteByUser('dana');
    await held.read;
    await signingIn.create('new', session('dana'), 60_000);
    held.release();
    expect(await revocation).toEqual(['old']);
    expect((await signingIn.listByUser('dana')).map((s) => s.idHash)).toEqual(['new']);
    // A second revocation finds it.
    expect(await signingIn.deleteByUser('dana')).toEqual(['new']);
    held.client.disconnect();
  });

  it('is still listed afterwards (refresh families), and an expired family is not recreated without a TTL', async () => {
    const held = heldClient();
    const revoking = new RedisRefreshStore(held.client, 'race:');
    const issuing = new RedisRefreshStore(shared.client, 'race:');
    const now = Date.now();
    await issuing.create({ familyId: 'expired-fam-0000000000', sub: 'erin', claims: {}, createdAt: now, expiresAt: now + 50 }, 'h0', 50);
    await issuing.create({ familyId: 'old-family-00000000000', sub: 'erin', claims: {}, createdAt: now, expiresAt: now + 60_000 }, 'h1', 60_000);
    // A real wait, not elapseKeys: the point is what the revocation does with a key Redis expired by itself.
    await new Promise((r) => setTimeout(r, 120));
    const revocation = revoking.revokeUser('erin');
    await held.read;
    await issuing.create({ familyId: 'new-family-00000000000', sub: 'erin', claims: {}, createdAt: now, expiresAt: now + 60_000 }, 'h2', 60_000);
    held.release();
    await revocation;
    // The racing family is still listed; the revoked one is gone from the index (an entry whose
    // family had already expired may linger until the next trim, harmlessly).
    const index = (await shared.client.smembers('race:ru:erin')).map((m) => readIndexMember(m).id);
    expect(index).toContain('new-family-00000000000');
    expect(index).not.toContain('old-family-00000000000');
    expect(await issuing.family('new-family-00000000000')).toBeDefined();
    expect(await issuing.family('old-family-00000000000')).toBeUndefined();
    expect(await shared.client.exists('race:rf:{expired-fam-0000000000}')).toBe(0);
    held.client.disconnect();
  });
});

/** A client whose next write of `command` (a SET, or the second MULTI) waits for `release()`: a creation caught between its index entry and its record. */
function heldWrite(command: 'set' | 'multi'): { client: Redis; indexed: Promise<void>; release: () => void } {
  const client = shared.server.client();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let indexedDone!: () => void;
  const indexed = new Promise<void>((r) => (indexedDone = r));
  if (command === 'set') {
    const set = client.set.bind(client) as (...a: unknown[]) => Promise<unknown>;
    (client as unknown as { set: (...a: unknown[]) => Promise<unknown> }).set = async (...a: unknown[]) => {
      indexedDone();
      await gate;
      return set(...a);
    };
  } else {
    const multi = client.multi.bind(client);
    let calls = 0;
    (client as unknown as { multi: () => unknown }).multi = () => {
      const m = multi();
      if (++calls !== 2) return m;
      const exec = m.exec.bind(m);
      (m as unknown as { exec: () => Promise<unknown> }).exec = async () => {
        indexedDone();
        await gate;
        return exec();
      };
      return m;
    };
  }
  return { client, indexed, release };
}

describe('a listing while another instance is between the index entry and the record', () => {
  it('keeps the entry: the session is counted by the next listing and ended by "log out everywhere"', async () => {
    const held = heldWrite('set');
    const creating = new RedisSessionStore(held.client, 'mid:', 3_600_000, systemClock);
    const other = new RedisSessionStore(shared.client, 'mid:', 3_600_000, systemClock);
    const creation = creating.create('in-flight', session('gus'), 60_000);
    await held.indexed;
    expect(await other.listByUser('gus')).toEqual([]);
    held.release();
    await creation;
    expect((await other.listByUser('gus')).map((s) => s.idHash)).toEqual(['in-flight']);
    expect(await other.deleteByUser('gus')).toEqual(['in-flight']);
    held.client.disconnect();
  });

  it('keeps the entry of a refresh family being written, which a later revocation then ends', async () => {
    const held = heldWrite('multi');
    const creating = new RedisRefreshStore(held.client, 'mid:');
    const other = new RedisRefreshStore(shared.client, 'mid:');
    const now = Date.now();
    const creation = creating.create({ familyId: 'in-flight-family-00000', sub: 'hal', claims: {}, createdAt: now, expiresAt: now + 60_000 }, 'h', 60_000);
    await held.indexed;
    expect(await other.trimUser('hal', 5, Date.now(), 60_000)).toBe(0);
    held.release();
    await creation;
    expect(await other.revokeUser('hal')).toBe(1);
    expect(await other.family('in-flight-family-00000')).toBeUndefined();
    held.client.disconnect();
  });

  it('prunes an entry without a record once it is older than any creation can take, and reads entries of the old format', async () => {
    let now = Date.now();
    const clock = { now: () => now };
    const store = new RedisSessionStore(shared.client, 'old:', 3_600_000, clock);
    await shared.client.sadd('old:u:ivy', `${now}:never-written`, 'legacy-dangling');
    await store.create('legacy-live', session('ivy', now), 60_000);
    // A live session indexed the old way (the bare hash) is still found and ended.
    await shared.client.srem('old:u:ivy', `${now}:legacy-live`);
    await shared.client.sadd('old:u:ivy', 'legacy-live');
    expect((await store.listByUser('ivy')).map((s) => s.idHash)).toEqual(['legacy-live']);
    expect((await shared.client.smembers('old:u:ivy')).sort()).toEqual([`${now}:never-written`, 'legacy-live']);
    now += CREATION_GRACE_MS + 1;
    await store.listByUser('ivy');
    expect(await shared.client.smembers('old:u:ivy')).toEqual(['legacy-live']);
    expect(await store.deleteByUser('ivy')).toEqual(['legacy-live']);
    expect(await shared.client.exists('old:u:ivy')).toBe(0);
  });
});

describe('refresh rotation decides by Redis time', () => {
  it('keeps a used token for reuse detection while the family may live, its sealed answer only for the grace window', async () => {
    const store = new RedisRefreshStore(shared.client, 'grace:');
    const now = Date.now();
    await store.create({ familyId: 'grace-family-000000000', sub: 'gil', claims: {}, createdAt: now, expiresAt: now + 3_600_000 }, 'old', 600_000);
    expect(await store.rotate('grace-family-000000000', 'old', 'new', 'sealed-answer', now, 300, 600_000)).toEqual({ kind: 'rotated' });
    const rotatedAt = Date.now();
    expect(await shared.client.pttl('grace:rg:{grace-family-000000000}:old')).toBeLessThanOrEqual(1300);
    expect(await shared.client.pttl('grace:rt:{grace-family-000000000}:old')).toBeGreaterThan(500_000);
    expect(await shared.client.get('grace:rt:{grace-family-000000000}:old')).not.toContain('sealed-answer');
    expect(await store.rotate('grace-family-000000000', 'old', 'new2', 'other', now, 300, 600_000)).toEqual({ kind: 'grace', payload: 'sealed-answer' });
    // 1.4 s later, without waiting for it (elapseKeys: what that time does to the keys' TTLs)...
    await elapseKeys(shared.client, 'grace:*', 1400);
    // ...except for the script's clock (Redis TIME), which only real time moves: past the 300 ms window.
    while (Date.now() <= rotatedAt + 300) await new Promise((r) => setTimeout(r, rotatedAt + 301 - Date.now()));
    // The answer is gone, the used token is not: presenting it now is reuse, and ends the family.
    expect(await shared.client.exists('grace:rg:{grace-family-000000000}:old')).toBe(0);
    expect(await shared.client.exists('grace:rt:{grace-family-000000000}:old')).toBe(1);
    expect(await store.rotate('grace-family-000000000', 'old', 'new3', 'other', now, 300, 600_000)).toEqual({ kind: 'reuse', sub: 'gil' });
    expect(await store.family('grace-family-000000000')).toBeUndefined();
  });

  it('a retry within the grace window from an instance whose clock is two minutes ahead gets the same answer, not "reuse"', async () => {
    const store = new RedisRefreshStore(shared.client, 'skew:');
    const now = Date.now();
    await store.create({ familyId: 'skew-family-0000000000', sub: 'fay', claims: {}, createdAt: now, expiresAt: now + 3_600_000 }, 'old', 600_000);
    expect(await store.rotate('skew-family-0000000000', 'old', 'new', 'sealed-answer', now, 30_000, 600_000)).toEqual({ kind: 'rotated' });
    // The same token again, from an instance two minutes ahead: Redis's clock says seconds later.
    expect(await store.rotate('skew-family-0000000000', 'old', 'new2', 'other', now + 120_000, 30_000, 600_000)).toEqual({ kind: 'grace', payload: 'sealed-answer' });
    expect(await store.family('skew-family-0000000000')).toBeDefined();
  });
});
