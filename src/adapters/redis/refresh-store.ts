// Refresh-token families in Redis (the port and its rules: refresh/store.ts). Rotation is one Lua
// script; family keys share a hash tag, so each family is in one slot in Redis Cluster.
import { live, type Family, type RefreshStore, type RotateResult } from '../../refresh/store.js';
import type { RedisClient } from './client.js';
import { danglingSince, indexMember, readIndexMember } from './user-index.js';

const ROTATE = `
-- Effects, not the script, are replicated (the default from Redis 7; needed on 5 and 6 for a write after TIME).
redis.replicate_commands()
local fam = redis.call('HMGET', KEYS[1], 'revoked', 'expiresAt', 'current', 'lastUsedAt', 'sub', 'claims', 'createdAt')
if not fam[2] then return {'invalid'} end
if fam[1] == '1' then return {'invalid'} end
-- Redis's clock, not the calling instance's: a skewed instance must not turn a retry within the
-- grace window into "reuse" (and revoke the family), nor stretch or cut the idle timeout.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local idle = tonumber(ARGV[4])
if now >= tonumber(fam[2]) or now - tonumber(fam[4]) >= idle then return {'invalid'} end
local raw = redis.call('GET', KEYS[2])
if not raw then return {'invalid'} end
local tok = cjson.decode(raw)
if not tok.usedAt then
  if fam[3] ~= ARGV[6] then
    redis.call('HSET', KEYS[1], 'revoked', '1')
    return {'reuse', fam[5]}
  end
  local ttl = math.min(idle, tonumber(fam[2]) - now)
  tok.usedAt = now
  tok.successor = ARGV[2]
  -- The used token stays for the idle window after its use (reuse detection: a replay within it
  -- revokes the family; a later one is refused as invalid, the family kept, since keeping every
  -- used token for the family's whole life would grow with each rotation). The sealed answer for a
  -- retry stays only for the grace window (and a second more, so its expiry never comes first).
  redis.call('SET', KEYS[2], cjson.encode(tok), 'PX', ttl)
  redis.call('SET', KEYS[4], ARGV[5], 'PX', math.max(1, math.min(ttl, tonumber(ARGV[3]) + 1000)))
  redis.call('SET', KEYS[3], cjson.encode({gen = tok.gen + 1}), 'PX', ttl)
  redis.call('HSET', KEYS[1], 'current', ARGV[2], 'lastUsedAt', tostring(now))
  redis.call('PEXPIRE', KEYS[1], math.max(1, tonumber(fam[2]) - now))
  return {'rotated'}
end
if now - tonumber(tok.usedAt) <= tonumber(ARGV[3]) and fam[3] == tok.successor then
  local payload = redis.call('GET', KEYS[4])
  if not payload then return {'invalid'} end
  return {'grace', payload}
end
redis.call('HSET', KEYS[1], 'revoked', '1')
return {'reuse', fam[5]}`;

// 1: revoked now; 2: there, already revoked (by reuse); 0: gone (expired). HSET on a missing key
// would recreate it without a TTL, so only an existing family is touched.
const REVOKE_FAMILY = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[1], 'revoked') == '1' then return 2 end
redis.call('HSET', KEYS[1], 'revoked', '1')
return 1`;

export class RedisRefreshStore implements RefreshStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  private famKey(id: string): string {
    return `${this.prefix}rf:{${id}}`;
  }
  private tokKey(id: string, hash: string): string {
    return `${this.prefix}rt:{${id}}:${hash}`;
  }
  /** The sealed answer a retry of a just-used token gets, kept for the grace window only. */
  private graceKey(id: string, hash: string): string {
    return `${this.prefix}rg:{${id}}:${hash}`;
  }
  private userKey(sub: string): string {
    return `${this.prefix}ru:${sub}`;
  }

  async create(f: Family, tokenHash: string, idleMs: number): Promise<void> {
    const ttl = Math.max(1, Math.min(idleMs, f.expiresAt - f.createdAt));
    const u = this.userKey(f.sub);
    await this.redis.multi().sadd(u, indexMember(f.familyId, f.createdAt)).pexpire(u, f.expiresAt - f.createdAt).exec();
    await this.redis
      .multi()
      .hset(this.famKey(f.familyId), {
        sub: f.sub,
        claims: JSON.stringify(f.claims),
        createdAt: String(f.createdAt),
        expiresAt: String(f.expiresAt),
        lastUsedAt: String(f.createdAt),
        current: tokenHash,
        revoked: '0',
      })
      .pexpire(this.famKey(f.familyId), f.expiresAt - f.createdAt)
      .set(this.tokKey(f.familyId, tokenHash), JSON.stringify({ gen: 0 }), 'PX', ttl)
      .exec();
  }

  async family(familyId: string): Promise<Pick<Family, 'sub' | 'claims'> | undefined> {
    const [sub, claims, revoked] = await this.redis.hmget(this.famKey(familyId), 'sub', 'claims', 'revoked');
    if (!sub || revoked === '1') return undefined;
    return { sub, claims: JSON.parse(claims ?? '{}') as Record<string, unknown> };
  }

  async rotate(familyId: string, oldHash: string, newHash: string, payload: string, now: number, graceMs: number, idleMs: number): Promise<RotateResult> {
    const r = (await this.redis.eval(
      ROTATE,
      4,
      this.famKey(familyId),
      this.tokKey(familyId, oldHash),
      this.tokKey(familyId, newHash),
      this.graceKey(familyId, oldHash),
      now,
      newHash,
      graceMs,
      idleMs,
      payload,
      oldHash,
    )) as string[];
    switch (r[0]) {
      case 'rotated':
        return { kind: 'rotated' };
      case 'grace':
        return { kind: 'grace', payload: r[1] as string };
      case 'reuse':
        return { kind: 'reuse', sub: r[1] as string };
      default:
        return { kind: 'invalid' };
    }
  }

  async trimUser(sub: string, max: number, now: number, idleMs: number): Promise<number> {
    const u = this.userKey(sub);
    const members = await this.redis.smembers(u);
    const entries = members.map(readIndexMember);
    const rows = await Promise.all(entries.map((e) => this.redis.hmget(this.famKey(e.id), 'createdAt', 'expiresAt', 'lastUsedAt', 'revoked')));
    const alive: { member: string; id: string; createdAt: number }[] = [];
    const ended: string[] = [];
    rows.forEach(([createdAt, expiresAt, lastUsedAt, revoked], i) => {
      const member = members[i] as string;
      const entry = entries[i] as { id: string; createdAt: number };
      // No hash may mean "being written by another instance right now": kept until it cannot be.
      if (createdAt === null) {
        if (danglingSince(entry.createdAt, now)) ended.push(member);
        return;
      }
      const f = { revoked: revoked !== '0', expiresAt: Number(expiresAt), lastUsedAt: Number(lastUsedAt) };
      if (live(f, now, idleMs)) alive.push({ member, id: entry.id, createdAt: Number(createdAt) });
      else ended.push(member);
    });
    const excess = alive.sort((a, b) => b.createdAt - a.createdAt).slice(max);
    await Promise.all(excess.map((f) => this.redis.eval(REVOKE_FAMILY, 1, this.famKey(f.id))));
    const gone = [...ended, ...excess.map((f) => f.member)];
    if (gone.length > 0) await this.redis.srem(u, ...gone);
    return excess.length;
  }

  async revokeUser(sub: string): Promise<number> {
    const members = await this.redis.smembers(this.userKey(sub));
    const found = await Promise.all(members.map((m) => this.redis.eval(REVOKE_FAMILY, 1, this.famKey(readIndexMember(m).id))));
    // Only members read and found: a family created meanwhile (index entry first, hash second)
    // stays listed and revocable. Counted: those this call revoked, not those reuse already had.
    const ended = members.filter((_, i) => found[i] !== 0);
    if (ended.length > 0) await this.redis.srem(this.userKey(sub), ...ended);
    return found.filter((f) => f === 1).length;
  }
}
