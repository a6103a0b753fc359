// "Log out everywhere" and user revocation read the user's index, end each member, then update the
// index. A sign-in (or a new refresh family) landing between the read and the update must be either
// revoked or still listed, never dropped from the index where no later revocation could find it.
// The window is small, so the read is held open by hand; real redis-server throughout.
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisRefreshStore } from '../../src/sessions/refresh-store.js';
import { RedisSessionStore } from '../../src/sessions/redis-store.js';
import type { StoredSession } from '../../src/sessions/store.js';
import { startRedis, type RedisServer } from '../support/redis.js';

let redis: RedisServer;
let plain: Redis;
beforeAll(async () => {
  redis = await startRedis();
  plain = redis.client();
});
afterAll(async () => {
  plain.disconnect();
  await redis.dispose();
});

/** A client whose SMEMBERS answers only when `release()` is called: the revocation's read, held open. */
function heldClient(): { client: Redis; read: Promise<void>; release: () => void } {
  const client = redis.client();
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
    const revoking = new RedisSessionStore(held.client, 'race:', 3_600_000);
    const signingIn = new RedisSessionStore(plain, 'race:', 3_600_000);
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
    const issuing = new RedisRefreshStore(plain, 'race:');
    const now = Date.now();
    await issuing.create({ familyId: 'expired-fam-0000000000', sub: 'erin', claims: {}, createdAt: now, expiresAt: now + 50 }, 'h0', 50);
    await issuing.create({ familyId: 'old-family-00000000000', sub: 'erin', claims: {}, createdAt: now, expiresAt: now + 60_000 }, 'h1', 60_000);
    await new Promise((r) => setTimeout(r, 120));
    const revocation = revoking.revokeUser('erin');
    await held.read;
    await issuing.create({ familyId: 'new-family-00000000000', sub: 'erin', claims: {}, createdAt: now, expiresAt: now + 60_000 }, 'h2', 60_000);
    held.release();
    await revocation;
    // The racing family is still listed; the revoked one is gone from the index (an entry whose
    // family had already expired may linger until the next trim, harmlessly).
    const index = await plain.smembers('race:ru:erin');
    expect(index).toContain('new-family-00000000000');
    expect(index).not.toContain('old-family-00000000000');
    expect(await issuing.family('new-family-00000000000')).toBeDefined();
    expect(await issuing.family('old-family-00000000000')).toBeUndefined();
    expect(await plain.exists('race:rf:{expired-fam-0000000000}')).toBe(0);
    held.client.disconnect();
  });
});

describe('refresh rotation decides by Redis time', () => {
  it('a retry within the grace window from an instance whose clock is two minutes ahead gets the same answer, not "reuse"', async () => {
    const store = new RedisRefreshStore(plain, 'skew:');
    const now = Date.now();
    await store.create({ familyId: 'skew-family-0000000000', sub: 'fay', claims: {}, createdAt: now, expiresAt: now + 3_600_000 }, 'old', 600_000);
    expect(await store.rotate('skew-family-0000000000', 'old', 'new', 'sealed-answer', now, 30_000, 600_000)).toEqual({ kind: 'rotated' });
    // The same token again, from an instance two minutes ahead: Redis's clock says seconds later.
    expect(await store.rotate('skew-family-0000000000', 'old', 'new2', 'other', now + 120_000, 30_000, 600_000)).toEqual({ kind: 'grace', payload: 'sealed-answer' });
    expect(await store.family('skew-family-0000000000')).toBeDefined();
  });
});
