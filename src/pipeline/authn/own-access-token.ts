// The gateway's own access tokens (RFC 9068 `typ: at+jwt`, from /auth/token and /auth/refresh):
// verified with its own key set, for its own issuer and access-token audience, so its internal
// tokens (another typ, route audiences) are never accepted here. A token issued before its user's
// last revocation is refused (the not-before registry, in memory, no Redis call), and that check
// rides along with the cached token: it is asked again on every cache hit.
import { type KeyObject } from 'node:crypto';
import { jwtVerify } from 'jose';
import type { KeySet } from '../../keys/keyset.js';
import { NoMatchingKeyError } from '../../keys/remote-jwks.js';
import type { NotBeforeRegistry } from '../../revocation/not-before.js';
import { ACCESS_TOKEN_TYPE } from '../../jwt.js';
import { notIssuedInFuture, refuse, type TokenVerifier, type VerifiedToken } from './bearer-token.js';

export interface OwnTokens {
  readonly issuer: string;
  readonly audience: string;
  readonly keys: KeySet;
}

/** Instances of one deployment may disagree on the time by a little. */
const CLOCK_TOLERANCE_S = 5;

export function ownAccessTokens(own: OwnTokens, notBefore: NotBeforeRegistry): TokenVerifier {
  const algorithms = [own.keys.signing.alg];
  // The kid picks one of the gateway's keys, and that key's algorithm must be the token's.
  const keyFor = (header: { kid?: string; alg?: string }): KeyObject | Uint8Array => {
    const v = header.kid ? own.keys.verifiers.get(header.kid) : undefined;
    if (!v || v.alg !== header.alg) throw new NoMatchingKeyError();
    return v.key as KeyObject | Uint8Array;
  };

  return {
    owns: (iss) => iss === own.issuer,

    async verify(token, _iss, digest, now): Promise<VerifiedToken> {
      const { payload } = await jwtVerify(token, keyFor, {
        issuer: own.issuer,
        audience: own.audience,
        algorithms,
        typ: ACCESS_TOKEN_TYPE,
        requiredClaims: ['exp', 'iat', 'sub'],
        clockTolerance: CLOCK_TOLERANCE_S,
        currentDate: now,
      });
      notIssuedInFuture(payload.iat, now, CLOCK_TOLERANCE_S);
      const { iss: _i, aud: _a, exp: _e, nbf: _n, iat, jti: _j, sub, sid, ...claims } = payload;
      const subject = sub as string;
      const revoked = () => (notBefore.revoked(subject, iat as number) ? 'revoked' : undefined);
      const refused = revoked();
      if (refused) throw refuse(refused);
      const expMs = (payload.exp as number) * 1000;
      return {
        issuer: own.issuer,
        principal: {
          sub: subject,
          claims,
          via: 'bearer',
          sessionHandle: typeof sid === 'string' ? sid : `own:${digest.slice(0, 22)}`,
          expiresAt: expMs,
        },
        expMs,
        recheck: revoked,
      };
    },
  };
}
