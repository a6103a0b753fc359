// Per-user "not before" times: access tokens the gateway issued before a user's revocation stop
// working on every instance without a Redis call per request. Each instance keeps the map in
// memory; revocations are pushed by pub/sub, and the whole map is re-read every `syncMs` (so it is
// right within one interval even while pub/sub is down).
import type { RedisClient } from '../adapters/redis.js';
import type { Clock } from '../clock.js';

export interface NotBeforeStore {
  set(sub: string, atMs: number): Promise<void>;
  all(): Promise<Map<string, number>>;
  /** Forget entries older than `beforeMs` (no token issued before them can still be valid). */
  prune(beforeMs: number): Promise<void>;
}

export class RedisNotBeforeStore implements NotBeforeStore {
  private readonly key: string;
  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    this.key = `${prefix}notbefore`;
  }
  async set(sub: string, atMs: number): Promise<void> {
    await this.redis.hset(this.key, sub, String(atMs));
  }
  async all(): Promise<Map<string, number>> {
    const raw = await this.redis.hgetall(this.key);
    return new Map(Object.entries(raw).map(([k, v]) => [k, Number(v)]));
  }
  async prune(beforeMs: number): Promise<void> {
    const stale = [...(await this.all())].filter(([, at]) => at < beforeMs).map(([sub]) => sub);
    if (stale.length > 0) await this.redis.hdel(this.key, ...stale);
  }
}

export class MemoryNotBeforeStore implements NotBeforeStore {
  private readonly map = new Map<string, number>();
  async set(sub: string, atMs: number): Promise<void> {
    this.map.set(sub, atMs);
  }
  async all(): Promise<Map<string, number>> {
    return new Map(this.map);
  }
  async prune(beforeMs: number): Promise<void> {
    for (const [sub, at] of this.map) if (at < beforeMs) this.map.delete(sub);
  }
}

export class NotBeforeRegistry {
  private map = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: NotBeforeStore,
    private readonly clock: Clock,
    private readonly syncMs: number,
    /** Longest access-token lifetime: older entries can be forgotten. */
    private readonly maxTokenAgeMs: number,
  ) {}

  async start(): Promise<void> {
    await this.sync().catch(() => undefined);
    this.timer = setInterval(() => void this.sync().catch(() => undefined), this.syncMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async sync(): Promise<void> {
    await this.store.prune(this.clock.now() - this.maxTokenAgeMs);
    this.map = await this.store.all();
  }

  /** Applied on receipt of a pub/sub push. */
  apply(sub: string, atMs: number): void {
    if ((this.map.get(sub) ?? 0) < atMs) this.map.set(sub, atMs);
  }

  /** Record a revocation: from now on, tokens of `sub` issued before `atMs` are refused. */
  async revoke(sub: string, atMs: number): Promise<void> {
    await this.store.set(sub, atMs);
    this.apply(sub, atMs);
  }

  /**
   * The earliest `iat` (seconds) a token of `sub` may carry. Revocation times are rounded up to the
   * second, so no token issued before a revocation survives it; tokens issued right after are given
   * this `iat` (see AccessTokenIssuer), so they are not refused either.
   */
  minIat(sub: string): number {
    const nb = this.map.get(sub);
    return nb === undefined ? 0 : Math.ceil(nb / 1000);
  }

  /** Whether a token of `sub` with this `iat` (seconds) was revoked. */
  revoked(sub: string, iat: number): boolean {
    return iat < this.minIat(sub);
  }
}
