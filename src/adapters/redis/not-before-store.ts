// Not-before times in Redis (one hash tag, so each write is one atomic script in Cluster too):
//   {nb}:times  sorted set, member = sub, score = not-before ms: pruned by score in one command, so
//               a prune can never delete a revocation written while it runs
//   {nb}:log    stream of writes (capped): the incremental read, by Redis-assigned ids, so no write
//               is skipped whatever the instances' clocks say
// The hash `notbefore` of earlier versions is still read (merged) at each full read.
import { LOG_LENGTH, mergeNotBefore as merge, PAGE, type NotBeforeSnapshot, type NotBeforeStore } from '../../revocation/not-before.js';
import type { RedisClient } from './client.js';

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

function field(fields: string[], name: string): string {
  const i = fields.indexOf(name);
  return i >= 0 && i % 2 === 0 ? (fields[i + 1] ?? '') : '';
}
