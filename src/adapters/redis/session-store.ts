// Sessions in Redis. Keys (after redis.keyPrefix):
//   s:<sha256(id)>   the session as JSON, expiring at min(idle, absolute) from its last touch
//   u:<sub>          set of the user's sessions, `<createdAt>:<hash>` (log out everywhere without SCAN; see user-index.ts)
// No key is written in two slots at once, so the same commands work on one server, Sentinel and
// Cluster. Creation indexes first, then writes the session: a failure leaves at worst a dangling
// index entry (pruned on listing once old enough), never a session that "log out everywhere" cannot find.
import type { RedisClient } from './client.js';
import type { Clock } from '../../clock.js';
import { danglingSince, indexMember, readIndexMember } from './user-index.js';
import { UnreadableSessionError, type SessionStore, type StoredSession } from '../../sessions/store.js';

export class RedisSessionStore implements SessionStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    /** Longest a user index may live: the absolute session lifetime. */
    private readonly indexTtlMs: number,
    private readonly clock: Clock,
  ) {}

  private sKey(idHash: string): string {
    return `${this.prefix}s:${idHash}`;
  }
  private uKey(sub: string): string {
    return `${this.prefix}u:${sub}`;
  }

  async create(idHash: string, session: StoredSession, ttlMs: number): Promise<void> {
    const u = this.uKey(session.sub);
    await this.redis.multi().sadd(u, indexMember(idHash, session.createdAt)).pexpire(u, this.indexTtlMs).exec();
    await this.redis.set(this.sKey(idHash), JSON.stringify(session), 'PX', ttlMs);
  }

  // then() rather than async/await: one promise per read on the path every request may take.
  get(idHash: string): Promise<StoredSession | undefined> {
    return this.redis.get(this.sKey(idHash)).then(
      (raw) => (raw === null ? undefined : parse(raw)),
      (err: unknown) => {
        if ((err as Error).message?.startsWith('WRONGTYPE')) throw new UnreadableSessionError('not a string key');
        throw err;
      },
    );
  }

  async touch(idHash: string, session: StoredSession, ttlMs: number): Promise<boolean> {
    // XX: only an existing key is rewritten; Redis answers null when there was none.
    return (await this.redis.set(this.sKey(idHash), JSON.stringify(session), 'PX', ttlMs, 'XX')) === 'OK';
  }

  async delete(idHash: string): Promise<StoredSession | undefined> {
    // DEL, not GETDEL: an unreadable record (another type) must go too.
    const [[, raw]] = (await this.redis.multi().get(this.sKey(idHash)).del(this.sKey(idHash)).exec()) as [[Error | null, string | null], unknown];
    const session = typeof raw === 'string' ? readable(raw) : undefined;
    // The bare hash too: an entry written before members carried their creation time.
    if (session) await this.redis.srem(this.uKey(session.sub), indexMember(idHash, session.createdAt), idHash);
    return session;
  }

  async listByUser(sub: string): Promise<{ idHash: string; session: StoredSession }[]> {
    const members = await this.redis.smembers(this.uKey(sub));
    const entries = members.map(readIndexMember);
    // A key of another type answers WRONGTYPE: like an unreadable record, no session of the user's.
    const raws = await Promise.all(entries.map((e) => this.redis.get(this.sKey(e.id)).catch(() => null)));
    const now = this.clock.now();
    const out: { idHash: string; session: StoredSession }[] = [];
    const gone: string[] = [];
    raws.forEach((raw, i) => {
      const session = raw === null ? undefined : readable(raw);
      const entry = entries[i] as { id: string; createdAt: number };
      if (session) out.push({ idHash: entry.id, session });
      // Not found may mean "being written by another instance right now": kept until it cannot be.
      else if (danglingSince(entry.createdAt, now)) gone.push(members[i] as string);
    });
    if (gone.length > 0) await this.redis.srem(this.uKey(sub), ...gone);
    return out;
  }

  async deleteByUser(sub: string): Promise<string[]> {
    const members = await this.redis.smembers(this.uKey(sub));
    const ids = members.map((m) => readIndexMember(m).id);
    const deleted = await Promise.all(ids.map((h) => this.redis.del(this.sKey(h))));
    // Only members read and found: a session created meanwhile (its index entry is written before
    // its record) stays listed and revocable, never lost from the index by a DEL of the whole set.
    const ended = members.filter((_, i) => deleted[i] === 1);
    if (ended.length > 0) await this.redis.srem(this.uKey(sub), ...ended);
    return ids.filter((_, i) => deleted[i] === 1);
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }
}

function readable(raw: string): StoredSession | undefined {
  try {
    return parse(raw);
  } catch {
    return undefined;
  }
}

function parse(raw: string): StoredSession {
  let v: Partial<Record<keyof StoredSession, unknown>>;
  try {
    v = JSON.parse(raw) as typeof v;
  } catch {
    throw new UnreadableSessionError('not JSON');
  }
  const ok =
    typeof v === 'object' &&
    v !== null &&
    typeof v.sub === 'string' &&
    typeof v.handle === 'string' &&
    typeof v.csrfToken === 'string' &&
    typeof v.claims === 'object' &&
    v.claims !== null &&
    [v.createdAt, v.lastSeenAt, v.expiresAt].every((n) => typeof n === 'number' && Number.isFinite(n));
  if (!ok) throw new UnreadableSessionError('missing or mistyped fields');
  return v as StoredSession;
}
