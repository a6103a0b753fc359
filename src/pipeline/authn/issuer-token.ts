// Tokens from configured external issuers: the issuer is chosen by the token's `iss` (compared
// exactly), its key comes from that issuer's cached JWKS only (jose's local key set picks it by
// kid; `jku`, `x5u`, `jwk` and `x5c` headers are never used), and the algorithms are the issuer's
// pinned list, never the token's. The principal's claims are mapped from the token by the issuer's
// `claims` paths, and its subject is scoped to the issuer unless `subject: as_is`.
import { jwtVerify } from 'jose';
import type { RemoteJwks } from '../../keys/remote-jwks.js';
import { valueAt } from '../../sessions/claim-path.js';
import { notIssuedInFuture, refuse, type TokenVerifier, type VerifiedToken } from './bearer-token.js';

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

export function issuerTokens(issuers: ReadonlyMap<string, TrustedIssuer>): TokenVerifier {
  return {
    owns: (iss) => issuers.has(iss),

    async verify(token, iss, digest, now): Promise<VerifiedToken> {
      const trusted = issuers.get(iss);
      if (!trusted) throw refuse('unknown_issuer');
      const { payload } = await jwtVerify(token, (header, jws) => trusted.jwks.getKey(header, jws), {
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
      // issuer's. The issuer travels on the principal (and as src_iss in the internal token), so an
      // upstream can tell them apart either way; a mapped claim of that name is dropped.
      delete claims.src_iss;
      const expMs = (payload.exp as number) * 1000;
      return {
        issuer: trusted.issuer,
        principal: {
          sub: trusted.subjectAsIs ? sub : `${trusted.issuer}#${sub}`,
          claims,
          via: 'bearer',
          issuer: trusted.issuer,
          sessionHandle: `b:${digest.slice(0, 22)}`,
          expiresAt: expMs,
        },
        expMs,
      };
    },
  };
}
