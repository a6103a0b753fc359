// The bearer-JWT authenticator: `Authorization: Bearer <jwt>` from a configured issuer (keys from
// its cached JWKS) or the gateway's own access tokens (keys from its key set). The algorithm list
// comes from configuration, never from the token; `jku`, `x5u`, `jwk` and `x5c` headers are never
// used to find a key; an unknown `crit` is refused (jose). Verified tokens are cached by a hash of
// the token until their exp, so a busy client does not cost a signature check per request.
import { hash, type KeyObject } from 'node:crypto';
import { decodeJwt, errors as joseErrors, jwtVerify } from 'jose';
import { LRUCache } from 'lru-cache';
import { GatewayError } from '../../errors.js';
import type { Clock } from '../../clock.js';
import type { KeySet } from '../../keys/keyset.js';
import { JwksUnavailableError, NoMatchingKeyError, type RemoteJwks } from '../../keys/remote-jwks.js';
import { valueAt } from '../../sessions/claim-path.js';
import type { NotBeforeRegistry } from '../../revocation/not-before.js';
import type { Principal } from '../principal.js';
import { ACCESS_TOKEN_TYPE } from '../../jwt.js';
import type { Authenticator } from './authenticator.js';

export interface TrustedIssuer {
  readonly issuer: string;
  readonly jwks: RemoteJwks;
  readonly audiences: readonly string[];
  readonly algorithms: readonly string[];
  /** Principal claim → dotted path in the token; must include `sub`. */
  readonly claims: Readonly<Record<string, string>>;
  readonly clockToleranceS: number;
  /** issuers[].subject: as_is; otherwise the subject is scoped to the issuer. */
  readonly subjectAsIs: boolean;
}

export interface OwnTokens {
  readonly issuer: string;
  readonly audience: string;
  readonly keys: KeySet;
}

export interface BearerObserver {
  outcome(issuer: string, result: 'verified' | 'refused', reason: string): void;
  cache(result: 'hit' | 'miss'): void;
}

interface Verified {
  /** The configured issuer (metric label). */
  readonly issuer: string;
  readonly principal: Principal;
  readonly expMs: number;
  readonly own: boolean;
  readonly iat: number;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const BEARER = /^Bearer +(\S+)$/i;

function reasonOf(err: unknown): string {
  if (err instanceof NoMatchingKeyError) return 'unknown_key';
  if (err instanceof joseErrors.JWTExpired) return 'expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `claim_${err.claim}`;
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'algorithm';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature';
  if (err instanceof joseErrors.JOSENotSupported) return 'unsupported';
  return 'malformed';
}

/**
 * jose checks `iat` only against a maximum age: a token "issued" later than now plus the allowed
 * skew comes from a wrong clock or was minted to outlive a revocation (not-before compares iat).
 */
function notIssuedInFuture(iat: unknown, now: Date, toleranceS: number): void {
  if (typeof iat === 'number' && iat * 1000 > now.getTime() + toleranceS * 1000) throw refuse('iat_future');
}

function refuse(reason: string): GatewayError {
  return new GatewayError('invalid_token', {
    detail: reason,
    headers: { 'www-authenticate': 'Bearer realm="gateway", error="invalid_token"' },
  });
}

export function bearerAuthenticator(
  issuers: ReadonlyMap<string, TrustedIssuer>,
  own: OwnTokens,
  notBefore: NotBeforeRegistry,
  clock: Clock,
  observe: BearerObserver,
  cacheMaxEntries: number,
): Authenticator {
  const cache = cacheMaxEntries > 0 ? new LRUCache<string, Verified>({ max: cacheMaxEntries }) : undefined;
  const ownAlgorithms = [own.keys.signing.alg];
  const ownKey = (header: { kid?: string; alg?: string }): KeyObject | Uint8Array => {
    const v = header.kid ? own.keys.verifiers.get(header.kid) : undefined;
    if (!v || v.alg !== header.alg) throw new NoMatchingKeyError();
    return v.key as KeyObject | Uint8Array;
  };

  async function verify(token: string, iss: unknown): Promise<Verified> {
    const now = new Date(clock.now());
    if (iss === own.issuer) {
      const { payload } = await jwtVerify(token, ownKey, {
        issuer: own.issuer,
        audience: own.audience,
        algorithms: ownAlgorithms,
        typ: ACCESS_TOKEN_TYPE,
        requiredClaims: ['exp', 'iat', 'sub'],
        // Instances of one deployment may disagree on the time by a little.
        clockTolerance: 5,
        currentDate: now,
      });
      notIssuedInFuture(payload.iat, now, 5);
      const { iss: _i, aud: _a, exp: _e, nbf: _n, iat: _t, jti: _j, sub, sid, ...claims } = payload;
      return {
        issuer: own.issuer,
        principal: {
          sub: sub as string,
          claims,
          via: 'bearer',
          sessionHandle: typeof sid === 'string' ? sid : `own:${hash('sha256', token, 'base64url').slice(0, 22)}`,
          expiresAt: (payload.exp as number) * 1000,
        },
        expMs: (payload.exp as number) * 1000,
        own: true,
        iat: payload.iat as number,
      };
    }
    const trusted = typeof iss === 'string' ? issuers.get(iss) : undefined;
    if (!trusted) throw refuse('unknown_issuer');
    const { payload } = await jwtVerify(token, (header) => trusted.jwks.getKey(header), {
      issuer: trusted.issuer,
      audience: [...trusted.audiences],
      algorithms: [...trusted.algorithms],
      clockTolerance: trusted.clockToleranceS,
      requiredClaims: ['exp'],
      currentDate: now,
    });
    notIssuedInFuture(payload.iat, now, trusted.clockToleranceS);
    const claims: Record<string, unknown> = {};
    for (const [name, path] of Object.entries(trusted.claims)) {
      const v = valueAt(payload, path);
      if (v !== undefined) claims[name] = v;
    }
    const sub = claims.sub;
    if (typeof sub !== 'string' || sub === '') throw refuse('claim_sub');
    delete claims.sub;
    // Scoped by default: `alice` of an external issuer is not the local user `alice`, nor another
    // issuer's. Where the issuer travels (src_iss), an upstream can tell them apart either way.
    claims.src_iss = trusted.issuer;
    return {
      issuer: trusted.issuer,
      principal: {
        sub: trusted.subjectAsIs ? sub : `${trusted.issuer}#${sub}`,
        claims,
        via: 'bearer',
        sessionHandle: `b:${hash('sha256', token, 'base64url').slice(0, 22)}`,
        expiresAt: (payload.exp as number) * 1000,
      },
      expMs: (payload.exp as number) * 1000,
      own: false,
      iat: typeof payload.iat === 'number' ? payload.iat : 0,
    };
  }

  return {
    id: 'bearer',
    async authenticate(ex) {
      const header = ex.req.headers.authorization;
      if (header === undefined) return undefined;
      const m = BEARER.exec(header);
      if (!m) return undefined; // another scheme (Basic...): not mine
      const token = m[1] as string;
      if (!JWT_SHAPE.test(token)) {
        observe.outcome('unknown', 'refused', 'malformed');
        throw refuse('malformed');
      }
      const key = hash('sha256', token, 'base64url');
      const now = clock.now();
      const hit = cache?.get(key);
      if (hit && now < hit.expMs) {
        if (hit.own && notBefore.revoked(hit.principal.sub, hit.iat)) {
          cache?.delete(key);
          observe.outcome(hit.issuer, 'refused', 'revoked');
          throw refuse('revoked');
        }
        observe.cache('hit');
        return hit.principal;
      }
      observe.cache('miss');
      // Decoded once, on a cache miss only. The metric label is an issuer from configuration,
      // never a value a client made up.
      let iss: unknown;
      try {
        iss = decodeJwt(token).iss;
      } catch {
        observe.outcome('unknown', 'refused', 'malformed');
        throw refuse('malformed');
      }
      const issuer = typeof iss === 'string' && (iss === own.issuer || issuers.has(iss)) ? iss : 'unknown';
      let verified: Verified;
      try {
        verified = await verify(token, iss);
      } catch (err) {
        if (err instanceof GatewayError) {
          observe.outcome(issuer, 'refused', err.message);
          throw err;
        }
        if (err instanceof JwksUnavailableError) {
          observe.outcome(issuer, 'refused', 'jwks_unavailable');
          throw new GatewayError('issuer_unavailable', { cause: err, headers: { 'retry-after': '5' } });
        }
        const reason = reasonOf(err);
        observe.outcome(issuer, 'refused', reason);
        throw refuse(reason);
      }
      if (verified.own && notBefore.revoked(verified.principal.sub, verified.iat)) {
        observe.outcome(issuer, 'refused', 'revoked');
        throw refuse('revoked');
      }
      observe.outcome(issuer, 'verified', 'ok');
      cache?.set(key, verified, { ttl: Math.max(1, verified.expMs - now) });
      return verified.principal;
    },
  };
}
