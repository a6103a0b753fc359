// Sessions: create, resolve (with idle and absolute expiry), touch at most once per interval,
// revoke. An in-process cache (lru-cache) may answer for a short TTL; every revocation is published
// on the invalidation bus and applied by every instance, and while this instance's subscription is
// down the cache is bypassed entirely, so a revocation is never missed.
import { LRUCache } from 'lru-cache';
import { storeUnavailable } from '../errors.js';
import type { Clock } from '../clock.js';
import { hashSessionId, isSessionIdShape, newHandle, newSessionId } from './ids.js';
import { claimsDigest, sameClaims, type ClaimsRefresh } from './claims-refresh.js';
import { UnreadableSessionError, type InvalidationBus, type InvalidationEvent, type SessionIdp, type SessionStore, type StoredSession } from './store.js';

export interface SessionSettings {
  readonly idleTimeoutMs: number;
  readonly absoluteTimeoutMs: number;
  readonly touchIntervalMs: number;
  /** 0 disables the cache. */
  readonly cacheTtlMs: number;
  readonly cacheMaxEntries: number;
  /** Live sessions per user; creating one more ends the oldest (undefined: no cap). */
  readonly maxPerUser?: number;
}

export interface SessionObserver {
  cache(result: 'hit' | 'miss' | 'bypass'): void;
  /** `err` is the failure when `ok` is false. */
  storeCall(op: string, seconds: number, ok: boolean, err?: unknown): void;
  created(): void;
  revoked(reason: string, count: number): void;
  /** A record under a session's key that is no session (sessions/store.ts UnreadableSessionError). */
  unreadable(why: string): void;
}

/** A resolved session: the stored record plus the hash it is kept under. */
export interface ActiveSession extends StoredSession {
  readonly idHash: string;
}

export type ResolveResult = { kind: 'active'; session: ActiveSession } | { kind: 'invalid'; reason: 'malformed' | 'unknown' | 'expired' | 'unreadable' };

const INVALID_MALFORMED: ResolveResult = { kind: 'invalid', reason: 'malformed' };
const INVALID_UNKNOWN: ResolveResult = { kind: 'invalid', reason: 'unknown' };
const INVALID_EXPIRED: ResolveResult = { kind: 'invalid', reason: 'expired' };
const INVALID_UNREADABLE: ResolveResult = { kind: 'invalid', reason: 'unreadable' };

export class SessionService {
  // Cached values are the ActiveSession objects handed out, so a hit allocates nothing.
  private readonly cache: LRUCache<string, ActiveSession> | undefined;
  /**
   * Invalidations applied (and subscription gaps) so far: a lookup that saw this change while it was
   * in flight may hold what a revocation just removed, and is not cached.
   */
  private invalidations = 0;

  constructor(
    private readonly store: SessionStore,
    private readonly bus: InvalidationBus,
    private readonly clock: Clock,
    /** Timeouts and cache settings (read by the WebSocket registry for the same idle rules). */
    readonly settings: SessionSettings,
    private readonly observe: SessionObserver,
    /** login.claimsUrl: claims re-read at each touch (claims-refresh.ts). */
    private readonly claimsRefresh?: ClaimsRefresh,
  ) {
    if (settings.cacheTtlMs > 0) {
      this.cache = new LRUCache({ max: settings.cacheMaxEntries, ttl: settings.cacheTtlMs, ttlAutopurge: false });
      bus.subscribe(
        (e) => this.apply(e),
        () => {
          this.invalidations++;
          this.cache?.clear();
        },
      );
    }
  }

  private apply(e: InvalidationEvent): void {
    this.invalidations++;
    if (!this.cache) return;
    if (e.type === 'session') this.cache.delete(e.idHash);
    else for (const [idHash, s] of this.cache.entries()) if (s.sub === e.sub) this.cache.delete(idHash);
  }

  /**
   * Run a store call, timing it; a failure is a 503 (fail closed), never "no session". Written with
   * then() rather than async/await: on the path where every request reads Redis, each async layer
   * is another promise and microtask per request (bench/README.md).
   */
  private call<T>(op: string, fn: () => Promise<T>): Promise<T> {
    const started = performance.now();
    let pending: Promise<T>;
    try {
      pending = fn();
    } catch (err) {
      pending = Promise.reject(err as Error);
    }
    return pending.then(
      (v) => {
        this.observe.storeCall(op, (performance.now() - started) / 1000, true);
        return v;
      },
      (err: unknown) => {
        // The store answered: about a record, not about itself.
        const answered = err instanceof UnreadableSessionError;
        this.observe.storeCall(op, (performance.now() - started) / 1000, answered, answered ? undefined : err);
        if (answered) throw err;
        throw storeUnavailable(err);
      },
    );
  }

  private ttlFor(s: StoredSession, now: number): number {
    return Math.max(1, Math.min(this.settings.idleTimeoutMs, s.expiresAt - now));
  }

  async create(input: { sub: string; claims: Record<string, unknown>; clientIp: string; userAgent: string; idp?: SessionIdp }): Promise<{ id: string; session: ActiveSession }> {
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
      ...(input.idp ? { idp: input.idp } : {}),
    };
    await this.call('create', () => this.store.create(idHash, stored, this.ttlFor(stored, now)));
    this.observe.created();
    await this.enforceCap(input.sub);
    return { id, session: { ...stored, idHash } };
  }

  /**
   * One account cannot fill Redis with sessions: beyond maxPerUser, the oldest sessions are ended
   * like a revocation, on every instance.
   */
  private async enforceCap(sub: string): Promise<void> {
    const max = this.settings.maxPerUser;
    if (max === undefined) return;
    const live = await this.list(sub);
    if (live.length <= max) return;
    // One total order (newest first, the hash breaking ties) that every instance agrees on, so two
    // sign-ins racing at the cap end the same sessions instead of each other's new one. The one just
    // made is kept unless the order says otherwise (then a racing, newer one is kept instead).
    const newestFirst = live.sort((a, b) => b.createdAt - a.createdAt || (a.idHash < b.idHash ? -1 : a.idHash > b.idHash ? 1 : 0));
    for (const s of newestFirst.slice(max)) await this.revoke(s.idHash, 'session_cap');
  }

  /**
   * The session a cookie value names, if it is live. Store failures throw session_store_unavailable.
   * Answered synchronously (no promise, no microtask) when the cache holds the session and no touch
   * is due, which is nearly every request of a busy session; a promise otherwise.
   */
  resolve(cookieValue: string): ResolveResult | Promise<ResolveResult> {
    // Refused before any store call: a malformed value cannot name a session.
    if (!isSessionIdShape(cookieValue)) return INVALID_MALFORMED;
    const idHash = hashSessionId(cookieValue);
    const now = this.clock.now();
    const useCache = this.cache !== undefined && this.bus.connected;
    const cached = useCache ? this.cache?.get(idHash) : undefined;
    if (cached) {
      this.observe.cache('hit');
      return this.live(cached, now);
    }
    this.observe.cache(useCache ? 'miss' : 'bypass');
    return this.load(idHash, now, useCache);
  }

  private async load(idHash: string, now: number, useCache: boolean): Promise<ResolveResult> {
    const seen = this.invalidations;
    const stored = await this.get(idHash);
    if (stored === 'unreadable') return INVALID_UNREADABLE;
    if (!stored) return INVALID_UNKNOWN;
    const session: ActiveSession = { ...stored, idHash };
    if (useCache && seen === this.invalidations && this.bus.connected) this.cache?.set(idHash, session);
    return this.live(session, now);
  }

  /** Idle and absolute expiry as of `now` (when the request arrived), and the touch when one is due. */
  private live(session: ActiveSession, now: number): ResolveResult | Promise<ResolveResult> {
    if (now >= session.expiresAt || now - session.lastSeenAt >= this.settings.idleTimeoutMs) {
      this.cache?.delete(session.idHash);
      return INVALID_EXPIRED;
    }
    if (now - session.lastSeenAt >= this.settings.touchIntervalMs) return this.touchDue(session);
    return { kind: 'active', session };
  }

  private async touchDue(session: ActiveSession): Promise<ResolveResult> {
    const current = await this.currentClaims(session);
    if (!current) return INVALID_UNKNOWN;
    // The time after the lookup, which may have waited: the next request must not fall past the interval again.
    let touched: ActiveSession | undefined;
    try {
      touched = await this.touch(current, this.clock.now());
    } catch {
      // Read, but the write failed (a read-only replica, out of memory): the session exists, so it
      // is served; the idle expiry moves at the next touch that succeeds. Counted by storeCall.
      return { kind: 'active', session: current };
    }
    if (!touched) return INVALID_UNKNOWN;
    return { kind: 'active', session: touched };
  }

  /**
   * The session with its claims as the source says now (login.claimsUrl), or undefined when the
   * source no longer knows the user (who is then revoked everywhere). Unchanged without a source,
   * or when it cannot answer.
   */
  private async currentClaims(session: ActiveSession): Promise<ActiveSession | undefined> {
    // login.claimsUrl speaks for the password users of the legacy backend; a provider's user's
    // claims are the provider's (the same sub there may be someone else).
    if (!this.claimsRefresh || session.idp) return session;
    const answer = await this.claimsRefresh.lookup(session.sub);
    if (answer.kind === 'unknown') {
      await this.claimsRefresh.unknownUser(session.sub);
      return undefined;
    }
    if (answer.kind === 'unavailable' || sameClaims(answer.claims, session.claims)) return session;
    // A digest, not a counter: two touches racing from the same record with different answers must
    // not share a minted-token cache key.
    return { ...session, claims: answer.claims, claimsDigest: claimsDigest(answer.claims) };
  }

  /** Undefined when the record was gone (revoked meanwhile, perhaps on another instance): never cached again then. */
  private async touch(session: ActiveSession, now: number): Promise<ActiveSession | undefined> {
    const next: ActiveSession = { ...session, lastSeenAt: now };
    const { idHash, ...stored } = next;
    const seen = this.invalidations;
    const written = await this.call('touch', () => this.store.touch(idHash, stored, this.ttlFor(stored, now)));
    if (!written) {
      this.cache?.delete(idHash);
      return undefined;
    }
    // A revocation that arrived while the write was in flight must not be undone by caching it again.
    if (seen === this.invalidations) this.cache?.set(idHash, next);
    else this.cache?.delete(idHash);
    return next;
  }

  /** A store read: 'unreadable' for a record that is no session (reported once per read), failures 503. */
  private get(idHash: string): Promise<StoredSession | undefined | 'unreadable'> {
    return this.call('get', () => this.store.get(idHash)).catch((err: unknown) => {
      if (!(err instanceof UnreadableSessionError)) throw err;
      this.observe.unreadable(err.why);
      return 'unreadable' as const;
    });
  }

  /** The session as stored now, bypassing the cache; undefined when gone, unreadable or expired (idle or absolute). */
  async current(idHash: string): Promise<ActiveSession | undefined> {
    const stored = await this.get(idHash);
    if (!stored || stored === 'unreadable') return undefined;
    const now = this.clock.now();
    if (now >= stored.expiresAt || now - stored.lastSeenAt >= this.settings.idleTimeoutMs) return undefined;
    return { ...stored, idHash };
  }

  /** Activity that is not a request (WebSocket frames): push the idle expiry forward now. */
  async keepAlive(idHash: string): Promise<ActiveSession | undefined> {
    const session = await this.current(idHash);
    return session && this.touch(session, this.clock.now());
  }

  async revoke(idHash: string, reason: string): Promise<StoredSession | undefined> {
    const gone = await this.call('delete', () => this.store.delete(idHash));
    this.cache?.delete(idHash);
    await this.call('publish', () => this.bus.publish({ type: 'session', idHash, reason }));
    if (gone) this.observe.revoked(reason, 1);
    return gone;
  }

  /**
   * End every session of a user; `notBefore` (ms) rides on the same invalidation so other instances
   * also refuse the user's older access tokens (see revocation/not-before.ts).
   */
  async revokeUser(sub: string, reason: string, notBefore?: number): Promise<number> {
    const hashes = await this.call('deleteByUser', () => this.store.deleteByUser(sub));
    this.apply({ type: 'user', sub });
    await this.call('publish', () => this.bus.publish(notBefore === undefined ? { type: 'user', sub, reason } : { type: 'user', sub, notBefore, reason }));
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

  ping() {
    return this.store.ping();
  }
}
