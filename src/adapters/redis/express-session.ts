// Reading sessions that express-session (with connect-redis) already keeps in Redis, as they are:
// the `connect.sid` cookie in its signed `s:<id>.<signature>` form (cookie-signature: HMAC-SHA256,
// base64 without padding), checked against every configured secret (rotation), the `sess:` key, and
// the JSON record with its `cookie.expires`. Nothing is cached in this mode: when the Express app
// destroys a session, the next request through the gateway is refused.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { RedisClient } from './client.js';
import { storeUnavailable } from '../../errors.js';
import { valueAt } from '../../sessions/claim-path.js';
import type { ExpressSessionLookup, ExpressSessionPrincipal, ExpressSessionSettings } from '../../sessions/express-session.js';
import type { Clock } from '../../clock.js';

function sign(value: string, secret: string): string {
  return createHmac('sha256', secret).update(value).digest('base64').replace(/=+$/, '');
}

/** The session id of a signed cookie value, or undefined when no secret verifies it. */
export function unsignCookie(raw: string, secrets: readonly string[]): string | undefined {
  let value: string;
  try {
    value = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  if (!value.startsWith('s:')) return undefined;
  const dot = value.lastIndexOf('.');
  if (dot < 3) return undefined;
  const id = value.slice(2, dot);
  const mac = Buffer.from(value.slice(dot + 1));
  for (const secret of secrets) {
    const expected = Buffer.from(sign(id, secret));
    if (expected.length === mac.length && timingSafeEqual(expected, mac)) return id;
  }
  return undefined;
}

export class ExpressSessionReader implements ExpressSessionLookup {
  constructor(
    private readonly redis: RedisClient,
    private readonly settings: ExpressSessionSettings,
    private readonly clock: Clock,
  ) {}

  async read(cookieValue: string): Promise<ExpressSessionPrincipal | 'invalid'> {
    const id = unsignCookie(cookieValue, this.settings.secrets);
    if (id === undefined || id.length > 256) return 'invalid';
    let raw: string | null;
    try {
      raw = await this.redis.get(this.settings.prefix + id);
    } catch (err) {
      // Another type under the key: Redis answered, and the answer is "no session" (401, not 503).
      if ((err as Error).message?.startsWith('WRONGTYPE')) return 'invalid';
      throw storeUnavailable(err);
    }
    if (raw === null) return 'invalid';
    let record: unknown;
    try {
      record = JSON.parse(raw);
    } catch {
      return 'invalid';
    }
    const expires = valueAt(record, 'cookie.expires');
    if (typeof expires === 'string' && Date.parse(expires) <= this.clock.now()) return 'invalid';
    const sub = valueAt(record, this.settings.subject);
    if ((typeof sub !== 'string' && typeof sub !== 'number') || sub === '') return 'invalid';
    const claims: Record<string, unknown> = {};
    for (const [name, path] of Object.entries(this.settings.claims)) {
      const v = valueAt(record, path);
      if (v !== undefined) claims[name] = v;
    }
    return {
      sub: String(sub),
      claims,
      handle: createHash('sha256').update(id).digest('base64url').slice(0, 22),
      contentKey: createHash('sha256').update(JSON.stringify([String(sub), claims])).digest('base64url').slice(0, 22),
    };
  }
}
