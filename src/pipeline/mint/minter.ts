// Internal tokens: short-lived JWTs the gateway signs for upstreams. A token is reused for the same
// session and scope (audience + claims) until 3/4 of its lifetime has passed, so the hot path signs
// rarely while an upstream always gets at least a quarter of the lifetime to use it.
import { INTERNAL_TOKEN_TYPE, RESERVED_CLAIMS } from '../../jwt.js';
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../../clock.js';
import type { KeySet } from '../../keys/keyset.js';
import type { Principal } from '../principal.js';

/** `typ` of internal tokens: never accepted back from clients as bearer tokens. */
const REUSE_FRACTION = 0.75;

export interface MintScope {
  readonly audience: string;
  readonly claims: readonly string[];
  /** Cache key part: audience and claims, computed once per route. */
  readonly key: string;
}

export function mintScope(audience: string, claims: readonly string[]): MintScope {
  return { audience, claims, key: `${audience}\n${claims.join(',')}` };
}

interface Cached {
  token: string;
  /** ms: reuse until then. */
  reuseUntil: number;
}

export class TokenMinter {
  private readonly cache: LRUCache<string, Cached>;

  constructor(
    private readonly keys: KeySet,
    private readonly issuer: string,
    private readonly ttlMs: number,
    private readonly clock: Clock,
    private readonly onMint: (audience: string) => void,
    maxEntries = 50_000,
  ) {
    this.cache = new LRUCache({ max: maxEntries });
  }

  /** The token for this principal and scope: the reused one at once, or a promise of a new signature. */
  token(principal: Principal, scope: MintScope): string | Promise<string> {
    // `contentKey` (express-session principals, whose record the Express app may rewrite) keeps a
    // token with old claims from being handed out for a changed record.
    const key = principal.contentKey === undefined ? `${principal.sessionHandle}\n${scope.key}` : `${principal.sessionHandle}\n${scope.key}\n${principal.contentKey}`;
    const now = this.clock.now();
    const hit = this.cache.get(key);
    if (hit && now < hit.reuseUntil) return hit.token;
    return this.mint(key, principal, scope, now);
  }

  private async mint(key: string, principal: Principal, scope: MintScope, now: number): Promise<string> {
    const token = await this.sign(principal, scope, now);
    this.cache.set(key, { token, reuseUntil: now + this.ttlMs * REUSE_FRACTION });
    return token;
  }

  /** Forget tokens of a session (logout) so none is handed out again from this instance. */
  forget(sessionHandle: string): void {
    for (const k of this.cache.keys()) if (k.startsWith(`${sessionHandle}\n`)) this.cache.delete(k);
  }

  private async sign(principal: Principal, scope: MintScope, nowMs: number): Promise<string> {
    const extra: Record<string, unknown> = {};
    for (const name of scope.claims) {
      if (!RESERVED_CLAIMS.has(name) && principal.claims[name] !== undefined) extra[name] = principal.claims[name];
    }
    // Who vouched for an external bearer token's subject travels with it, whatever the route lists.
    if (principal.issuer !== undefined) extra.src_iss = principal.issuer;
    const iat = Math.floor(nowMs / 1000);
    const { kid, alg, key } = this.keys.signing;
    this.onMint(scope.audience);
    return new SignJWT({ ...extra, sid: principal.sessionHandle })
      .setProtectedHeader({ alg, kid, typ: INTERNAL_TOKEN_TYPE })
      .setIssuer(this.issuer)
      .setAudience(scope.audience)
      .setSubject(principal.sub)
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(iat + Math.ceil(this.ttlMs / 1000))
      .setJti(randomUUID())
      .sign(key);
  }
}
