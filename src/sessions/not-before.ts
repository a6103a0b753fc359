// Per-user "not before" times: access tokens the gateway issued before a user's revocation stop
// working on every instance without a Redis call per request. Each instance keeps the map in
// memory; revocations are pushed by pub/sub, and every `syncMs` an instance reads what changed since
// its last read (so it is right within one interval even while pub/sub is down).
//
// In Redis (one hash tag, so each write is one atomic script in Cluster too):
//   {nb}:times  sorted set, member = sub, score = not-before ms: pruned by score in one command, so
//               a prune can never delete a revocation written while it runs
//   {nb}:log    stream of writes (capped): the incremental read, by Redis-assigned ids, so no write
//               is skipped whatever the instances' clocks say
// The hash `notbefore` of earlier versions is still read (merged) at each full read.
import type { RedisClient } from '../adapters/redis.js';
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
const LOG_LENGTH = 10_000;
/** Entries per incremental read, so a burst never blocks the event loop on one large reply. */
const PAGE = 1_000;

const SET = `
redis.replicate_commands()
local cur = redis.call('ZSCORE', KEYS[1], ARGV[1])
if cur and tonumber(cur) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 's', ARGV[1], 't', ARGV[2])
return 1`;

type StreamEntry = [id: string, fields: string[]];

export class RedisNotBeforeStore implements NotBeforeStore {
  private readonly times: string;
  private readonly log: string;
  private readonly legacy: string;
  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    this.times = `${prefix}{nb}:times`;
    this.log = `${prefix}{nb}:log`;
    this.legacy = `${prefix}notbefore`;
  }

  async set(sub: string, atMs: number): Promise<void> {
    await this.redis.eval(SET, 2, this.times, this.log, sub, Math.ceil(atMs), LOG_LENGTH);
  }

  async all(): Promise<NotBeforeSnapshot> {
    // The cursor first: what is written while the set is scanned is read again by the next
    // incremental read (merging is idempotent). Scanned in pages, so 100k users never stall the
    // event loop on one large reply.
    const last = (await this.redis.xrevrange(this.log, '+', '-', 'COUNT', 1)) as StreamEntry[];
    const entries = new Map<string, number>();
    let scan = '0';
    do {
      const [next, flat] = await this.redis.zscan(this.times, scan, 'COUNT', PAGE);
      for (let i = 0; i < flat.length; i += 2) merge(entries, flat[i] as string, Number(flat[i + 1]));
      scan = next;
    } while (scan !== '0');
    for (const [sub, at] of Object.entries(await this.redis.hgetall(this.legacy))) merge(entries, sub, Number(at));
    return { entries, cursor: last[0]?.[0] ?? '0-0' };
  }

  async since(cursor: string): Promise<NotBeforeSnapshot | undefined> {
    const entries = new Map<string, number>();
    let from = cursor;
    for (;;) {
      // Inclusive of `from` (exclusive ranges need Redis 6.2): the entry at the cursor must still be
      // there, or entries after it may have been trimmed away unread.
      const page = (await this.redis.xrange(this.log, from, '+', 'COUNT', PAGE + 1)) as StreamEntry[];
      if (from !== '0-0' && page[0]?.[0] !== from) return undefined;
      const fresh = from === '0-0' ? page : page.slice(1);
      for (const [, fields] of fresh) merge(entries, field(fields, 's'), Number(field(fields, 't')));
      const last = page.at(-1)?.[0];
      if (last !== undefined) from = last;
      if (page.length <= PAGE || fresh.length === 0) return { entries, cursor: from };
    }
  }

  async prune(beforeMs: number): Promise<void> {
    await this.redis.zremrangebyscore(this.times, '-inf', `(${beforeMs}`);
  }
}

export class MemoryNotBeforeStore implements NotBeforeStore {
  private readonly map = new Map<string, number>();
  private writes: [sub: string, at: number][] = [];
  /** Writes dropped from the front of `writes`: cursors count from the first write ever. */
  private dropped = 0;
  async set(sub: string, atMs: number): Promise<void> {
    if ((this.map.get(sub) ?? -Infinity) >= atMs) return;
    this.map.set(sub, atMs);
    this.writes.push([sub, atMs]);
    if (this.writes.length > 2 * LOG_LENGTH) {
      this.dropped += this.writes.length - LOG_LENGTH;
      this.writes = this.writes.slice(-LOG_LENGTH);
    }
  }
  async all(): Promise<NotBeforeSnapshot> {
    return { entries: new Map(this.map), cursor: String(this.dropped + this.writes.length) };
  }
  async since(cursor: string): Promise<NotBeforeSnapshot | undefined> {
    const from = Number(cursor) - this.dropped;
    if (from < 0) return undefined;
    const entries = new Map<string, number>();
    for (const [sub, at] of this.writes.slice(from)) merge(entries, sub, at);
    return { entries, cursor: String(this.dropped + this.writes.length) };
  }
  async prune(beforeMs: number): Promise<void> {
    for (const [sub, at] of this.map) if (at < beforeMs) this.map.delete(sub);
  }
}

function merge(map: Map<string, number>, sub: string, at: number): void {
  if (Number.isFinite(at) && (map.get(sub) ?? -Infinity) < at) map.set(sub, at);
}

function field(fields: string[], name: string): string {
  const i = fields.indexOf(name);
  return i >= 0 && i % 2 === 0 ? (fields[i + 1] ?? '') : '';
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
    merge(this.map, sub, atMs);
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
