// Sessions in process: one instance only, nothing survives a restart. For development and for the
// contract tests; production configs use Redis.
import type { Clock } from '../../clock.js';
import type { SessionStore, StoredSession } from '../../sessions/store.js';

interface Entry<T> {
  value: T;
  expiresAt: number;
}

export class MemorySessionStore implements SessionStore {
  private readonly sessions = new Map<string, Entry<StoredSession>>();
  private readonly byUser = new Map<string, Set<string>>();

  constructor(private readonly clock: Clock) {}

  private live<T>(map: Map<string, Entry<T>>, key: string): Entry<T> | undefined {
    const e = map.get(key);
    if (e && e.expiresAt <= this.clock.now()) {
      map.delete(key);
      return undefined;
    }
    return e;
  }

  async create(idHash: string, session: StoredSession, ttlMs: number): Promise<void> {
    this.sessions.set(idHash, { value: session, expiresAt: this.clock.now() + ttlMs });
    let set = this.byUser.get(session.sub);
    if (!set) this.byUser.set(session.sub, (set = new Set()));
    set.add(idHash);
  }

  async get(idHash: string): Promise<StoredSession | undefined> {
    return this.live(this.sessions, idHash)?.value;
  }

  async touch(idHash: string, session: StoredSession, ttlMs: number): Promise<boolean> {
    if (!this.live(this.sessions, idHash)) return false;
    this.sessions.set(idHash, { value: session, expiresAt: this.clock.now() + ttlMs });
    return true;
  }

  async delete(idHash: string): Promise<StoredSession | undefined> {
    const e = this.live(this.sessions, idHash);
    this.sessions.delete(idHash);
    if (e) this.byUser.get(e.value.sub)?.delete(idHash);
    return e?.value;
  }

  async listByUser(sub: string): Promise<{ idHash: string; session: StoredSession }[]> {
    const out: { idHash: string; session: StoredSession }[] = [];
    const set = this.byUser.get(sub);
    for (const idHash of set ?? []) {
      const e = this.live(this.sessions, idHash);
      if (e) out.push({ idHash, session: e.value });
      else set?.delete(idHash);
    }
    return out;
  }

  async deleteByUser(sub: string): Promise<string[]> {
    // Like Redis: only sessions that were still there are reported ended (an expired one was not).
    const hashes = [...(this.byUser.get(sub) ?? [])].filter((h) => this.live(this.sessions, h) !== undefined);
    for (const h of hashes) this.sessions.delete(h);
    this.byUser.delete(sub);
    return hashes;
  }

  async ping(): Promise<void> {}
}
