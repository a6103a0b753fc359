// OpenID Connect sign-in state in Redis: `oidc:f:<id>` (a flow, taken once by a script that reads
// and deletes in one step, GETDEL of Redis before 6.2), `oidc:j:<key>` (SET NX: a logout token's
// jti) and `oidc:s:<key>` (a provider session's user), each with its own expiry.
import type { IdpStore } from '../../sessions/idp-store.js';
import type { RedisClient } from './client.js';

const TAKE_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if v then redis.call('DEL', KEYS[1]) end
return v`;

export class RedisIdpStore implements IdpStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  async putFlow(id: string, value: string, ttlMs: number): Promise<void> {
    await this.redis.set(`${this.prefix}oidc:f:${id}`, value, 'PX', ttlMs);
  }

  async takeFlow(id: string): Promise<string | undefined> {
    const v = (await this.redis.eval(TAKE_SCRIPT, 1, `${this.prefix}oidc:f:${id}`)) as string | null;
    return v ?? undefined;
  }

  async claimOnce(key: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(`${this.prefix}oidc:j:${key}`, '1', 'PX', ttlMs, 'NX')) === 'OK';
  }

  async linkSession(key: string, sub: string, ttlMs: number): Promise<void> {
    await this.redis.set(`${this.prefix}oidc:s:${key}`, sub, 'PX', ttlMs);
  }

  async userOfSession(key: string): Promise<string | undefined> {
    return (await this.redis.get(`${this.prefix}oidc:s:${key}`)) ?? undefined;
  }
}
