// Per-user "not before" times: access tokens the gateway issued before a user's revocation stop
// working on every instance without a Redis call per request. Each instance keeps the map in
// memory; revocations are pushed by pub/sub, and every `syncMs` an instance reads what changed since
// its last read (so it is right within one interval even while pub/sub is down).
// The stores (the port below) live in adapters/redis and adapters/memory.
import type { Clock } from '../clock.js';

export interface NotBeforeSnapshot {
  readonly entries: Map<string, number>;
  /** Where the next incremental read starts. */
  readonly cursor: string;
}

export interface NotBeforeStore {
  /** Record `atMs` for `sub` unless a later time is already recorded. */
  set(sub: string, atMs: number): Promise<void>;
  all(): Promise<NotBeforeSnapshot>;
  /** What was written after `cursor`; undefined when the log no longer reaches back that far (read all then). */
  since(cursor: string): Promise<NotBeforeSnapshot | undefined>;
  /** Forget entries older than `beforeMs` (no token issued before them can still be valid). */
  prune(beforeMs: number): Promise<void>;
}

/** Writes the log keeps: an instance that misses more between two reads reads everything again. */
export const LOG_LENGTH = 10_000;
/** Entries per incremental read, so a burst never blocks the event loop on one large reply. */
export const PAGE = 1_000;

/** Keep the later time of a user. */
export function mergeNotBefore(map: Map<string, number>, sub: string, at: number): void {
  if (Number.isFinite(at) && (map.get(sub) ?? -Infinity) < at) map.set(sub, at);
}

export class NotBeforeRegistry {
  private readonly map = new Map<string, number>();
  private cursor: string | undefined;
  private lastFullRead = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: NotBeforeStore,
    private readonly clock: Clock,
    private readonly syncMs: number,
    /** Longest access-token lifetime: older entries can be forgotten. */
    private readonly maxTokenAgeMs: number,
    /** Everything is re-read this often anyway: what an incremental read cannot see (a restored backup) is not kept forever. */
    private readonly fullReadMs = 10 * 60_000,
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
    const now = this.clock.now();
    const horizon = now - this.maxTokenAgeMs;
    await this.store.prune(horizon);
    const changes = this.cursor === undefined || now - this.lastFullRead >= this.fullReadMs ? undefined : await this.store.since(this.cursor);
    const read = changes ?? (await this.store.all());
    if (!changes) this.lastFullRead = now;
    // Merged, never replaced: a push applied while this read was in flight is not lost.
    for (const [sub, at] of read.entries) this.apply(sub, at);
    this.cursor = read.cursor;
    for (const [sub, at] of this.map) if (at < horizon) this.map.delete(sub);
  }

  /** Applied on receipt of a pub/sub push. */
  apply(sub: string, atMs: number): void {
    mergeNotBefore(this.map, sub, atMs);
  }

  /** Record a revocation: from now on, tokens of `sub` issued before `atMs` are refused. */
  async revoke(sub: string, atMs: number): Promise<void> {
    await this.store.set(sub, atMs);
    this.apply(sub, atMs);
  }

  /**
   * The earliest `iat` (seconds) a token of `sub` may carry. Revocation times are rounded up to the
   * second, so no token issued before a revocation survives it; tokens issued right after are given
   * this `iat` (see refresh/access-token.ts), so they are not refused either.
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
