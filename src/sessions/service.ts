// Sessions: create, resolve (with idle and absolute expiry), touch at most once per interval,
// revoke. An in-process cache (lru-cache) may answer for a short TTL; every revocation is published
// on the invalidation bus and applied by every instance, and while this instance's subscription is
// down the cache is bypassed entirely, so a revocation is never missed.
import { LRUCache } from 'lru-cache';
import { GatewayError } from '../errors.js';
import type { Clock } from '../forward/upstream-group.js';
import { hashSessionId, isSessionIdShape, newHandle, newSessionId } from './ids.js';
import type { InvalidationBus, InvalidationEvent, SessionStore, StoredSession } from './store.js';

export interface SessionSettings {
  readonly idleTimeoutMs: number;
  readonly absoluteTimeoutMs: number;
  readonly touchIntervalMs: number;
  /** 0 disables the cache. */
  readonly cacheTtlMs: number;
  readonly cacheMaxEntries: number;
}

export interface SessionObserver {
  cache(result: 'hit' | 'miss' | 'bypass'): void;
  storeCall(op: string, seconds: number, ok: boolean): void;
  created(): void;
  revoked(reason: string, count: number): void;
}

/** A resolved session: the stored record plus the hash it is kept under. */
export interface ActiveSession extends StoredSession {
  readonly idHash: string;
}

export type ResolveResult = { kind: 'active'; session: ActiveSession } | { kind: 'invalid'; reason: 'malformed' | 'unknown' | 'expired' };

export class SessionService {
  private readonly cache: LRUCache<string, StoredSession> | undefined;

  constructor(
    private readonly store: SessionStore,
    private readonly bus: InvalidationBus,
    private readonly clock: Clock,
    private readonly settings: SessionSettings,
    private readonly observe: SessionObserver,
  ) {
    if (settings.cacheTtlMs > 0) {
      this.cache = new LRUCache({ max: settings.cacheMaxEntries, ttl: settings.cacheTtlMs, ttlAutopurge: false });
      bus.subscribe(
        (e) => this.apply(e),
        () => this.cache?.clear(),
      );
    }
  }

  private apply(e: InvalidationEvent): void {
    if (!this.cache) return;
    if (e.type === 'session') this.cache.delete(e.idHash);
    else for (const [idHash, s] of this.cache.entries()) if (s.sub === e.sub) this.cache.delete(idHash);
  }

  /** Run a store call, timing it; a failure is a 503 (fail closed), never "no session". */
  private async call<T>(op: string, fn: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      const v = await fn();
      this.observe.storeCall(op, (performance.now() - started) / 1000, true);
      return v;
    } catch (err) {
      this.observe.storeCall(op, (performance.now() - started) / 1000, false);
      throw new GatewayError('session_store_unavailable', { cause: err, headers: { 'retry-after': '1' } });
    }
  }

  private ttlFor(s: StoredSession, now: number): number {
    return Math.max(1, Math.min(this.settings.idleTimeoutMs, s.expiresAt - now));
  }

  async create(input: { sub: string; claims: Record<string, unknown>; clientIp: string; userAgent: string }): Promise<{ id: string; session: ActiveSession }> {
    const now = this.clock.now();
    const id = newSessionId();
    const idHash = hashSessionId(id);
    const stored: StoredSession = {
      handle: newHandle(),
      sub: input.sub,
      claims: input.claims,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + this.settings.absoluteTimeoutMs,
      clientIp: input.clientIp,
      userAgent: input.userAgent.slice(0, 256),
      csrfToken: newHandle(),
    };
    await this.call('create', () => this.store.create(idHash, stored, this.ttlFor(stored, now)));
    this.observe.created();
    return { id, session: { ...stored, idHash } };
  }

  /** The session a cookie value names, if it is live. Store failures throw session_store_unavailable. */
  async resolve(cookieValue: string): Promise<ResolveResult> {
    // Refused before any store call: a malformed value cannot name a session.
    if (!isSessionIdShape(cookieValue)) return { kind: 'invalid', reason: 'malformed' };
    const idHash = hashSessionId(cookieValue);
    const now = this.clock.now();
    let stored: StoredSession | undefined;
    const useCache = this.cache !== undefined && this.bus.connected;
    if (useCache) stored = this.cache?.get(idHash);
    if (stored) this.observe.cache('hit');
    else {
      this.observe.cache(this.cache ? (useCache ? 'miss' : 'bypass') : 'bypass');
      stored = await this.call('get', () => this.store.get(idHash));
      if (!stored) return { kind: 'invalid', reason: 'unknown' };
      if (useCache) this.cache?.set(idHash, stored);
    }
    if (now >= stored.expiresAt || now - stored.lastSeenAt >= this.settings.idleTimeoutMs) {
      this.cache?.delete(idHash);
      return { kind: 'invalid', reason: 'expired' };
    }
    if (now - stored.lastSeenAt >= this.settings.touchIntervalMs) stored = await this.touch(idHash, stored, now);
    return { kind: 'active', session: { ...stored, idHash } };
  }

  private async touch(idHash: string, stored: StoredSession, now: number): Promise<StoredSession> {
    const next = { ...stored, lastSeenAt: now };
    await this.call('touch', () => this.store.touch(idHash, next, this.ttlFor(next, now)));
    this.cache?.set(idHash, next);
    return next;
  }

  async revoke(idHash: string, reason: string): Promise<StoredSession | undefined> {
    const gone = await this.call('delete', () => this.store.delete(idHash));
    this.cache?.delete(idHash);
    await this.call('publish', () => this.bus.publish({ type: 'session', idHash }));
    if (gone) this.observe.revoked(reason, 1);
    return gone;
  }

  async revokeUser(sub: string, reason: string): Promise<number> {
    const hashes = await this.call('deleteByUser', () => this.store.deleteByUser(sub));
    this.apply({ type: 'user', sub });
    await this.call('publish', () => this.bus.publish({ type: 'user', sub }));
    this.observe.revoked(reason, hashes.length);
    return hashes.length;
  }

  async list(sub: string): Promise<ActiveSession[]> {
    const now = this.clock.now();
    const all = await this.call('list', () => this.store.listByUser(sub));
    return all
      .filter(({ session: s }) => now < s.expiresAt && now - s.lastSeenAt < this.settings.idleTimeoutMs)
      .map(({ idHash, session }) => ({ ...session, idHash }));
  }

  /** Rate-limit counters live in the same store. */
  hit(key: string, windowMs: number) {
    return this.call('hit', () => this.store.hit(key, windowMs));
  }
  peek(key: string) {
    return this.call('peek', () => this.store.peek(key));
  }
  clear(key: string) {
    return this.call('clear', () => this.store.clear(key));
  }
  ping() {
    return this.store.ping();
  }
}
