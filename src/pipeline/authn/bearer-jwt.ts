// The bearer-JWT authenticator: `Authorization: Bearer <jwt>`, answered from the verified-token
// cache when it can, otherwise handed by its `iss` to the gateway's own access tokens
// (own-access-token.ts) or a configured issuer's (issuer-token.ts); any other `iss` is refused.
// Another scheme (Basic...) or no Authorization header is not mine; a bearer token that fails is.
// An unknown `crit` header is refused (jose).
import { decodeJwt } from 'jose';
import { GatewayError } from '../../errors.js';
import type { Clock } from '../../clock.js';
import { JwksUnavailableError } from '../../keys/remote-jwks.js';
import type { NotBeforeRegistry } from '../../revocation/not-before.js';
import type { Authenticator } from './authenticator.js';
import { reasonOf, refuse, type VerifiedToken } from './bearer-token.js';
import { issuerTokens, type TrustedIssuer } from './issuer-token.js';
import { ownAccessTokens, type OwnTokens } from './own-access-token.js';
import { tokenDigest, VerifiedTokenCache } from './verified-cache.js';

export interface BearerObserver {
  outcome(issuer: string, result: 'verified' | 'refused', reason: string): void;
  cache(result: 'hit' | 'miss'): void;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const BEARER = /^Bearer +(\S+)$/i;

/** The metric reason and the answer for a failed verification. */
function refusalOf(err: unknown): { reason: string; error: GatewayError } {
  if (err instanceof GatewayError) return { reason: err.message, error: err };
  if (err instanceof JwksUnavailableError) {
    return { reason: 'jwks_unavailable', error: new GatewayError('issuer_unavailable', { cause: err, headers: { 'retry-after': '5' } }) };
  }
  const reason = reasonOf(err);
  return { reason, error: refuse(reason) };
}

export function bearerAuthenticator(
  issuers: ReadonlyMap<string, TrustedIssuer>,
  own: OwnTokens,
  notBefore: NotBeforeRegistry,
  clock: Clock,
  observe: BearerObserver,
  cacheMaxEntries: number,
): Authenticator {
  const cache = new VerifiedTokenCache(cacheMaxEntries);
  // Own tokens first: an issuer configured under the gateway's own name never verifies them.
  const verifiers = [ownAccessTokens(own, notBefore), issuerTokens(issuers)];

  /** A cache miss: the token's issuer found and its signature and claims checked. */
  const verify = async (token: string, digest: string, now: number) => {
    // Decoded once, on a cache miss only. The metric label is an issuer from configuration,
    // never a value a client made up.
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      observe.outcome('unknown', 'refused', 'malformed');
      throw refuse('malformed');
    }
    const verifier = typeof iss === 'string' ? verifiers.find((v) => v.owns(iss)) : undefined;
    if (!verifier) {
      observe.outcome('unknown', 'refused', 'unknown_issuer');
      throw refuse('unknown_issuer');
    }
    const issuer = iss as string;
    let verified: VerifiedToken;
    try {
      verified = await verifier.verify(token, issuer, digest, new Date(now));
    } catch (err) {
      const { reason, error } = refusalOf(err);
      observe.outcome(issuer, 'refused', reason);
      throw error;
    }
    observe.outcome(issuer, 'verified', 'ok');
    cache.set(digest, verified, now);
    return verified.principal;
  };

  return {
    id: 'bearer',
    // Synchronous up to the cache: a hit answers without a promise.
    authenticate(ex) {
      const header = ex.req.headers.authorization;
      if (header === undefined) return undefined;
      const m = BEARER.exec(header);
      if (!m) return undefined; // another scheme (Basic...): not mine
      const token = m[1] as string;
      if (!JWT_SHAPE.test(token)) {
        observe.outcome('unknown', 'refused', 'malformed');
        throw refuse('malformed');
      }
      const digest = tokenDigest(token);
      const now = clock.now();
      const hit = cache.get(digest, now);
      if (hit?.refused) {
        observe.outcome(hit.verified.issuer, 'refused', hit.refused);
        throw refuse(hit.refused);
      }
      if (hit) {
        observe.cache('hit');
        return hit.verified.principal;
      }
      observe.cache('miss');
      return verify(token, digest, now);
    },
  };
}
