// The gateway's own access tokens (POST /auth/token, /auth/refresh): JWTs for its own audience,
// `typ: at+jwt` (RFC 9068), so they are never confused with internal tokens (`gateway-internal+jwt`,
// other audiences) in either direction.
import { ACCESS_TOKEN_TYPE, RESERVED_CLAIMS } from '../jwt.js';
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Clock } from '../clock.js';
import type { KeySet } from '../keys/keyset.js';
import type { AccessTokenSigner } from './service.js';


export function accessTokenSigner(
  keys: KeySet,
  issuer: string,
  audience: string,
  ttlMs: number,
  clock: Clock,
  /** The earliest iat allowed for a user (their last revocation, rounded up to the second). */
  minIat: (sub: string) => number,
): AccessTokenSigner {
  const ttlS = Math.max(1, Math.floor(ttlMs / 1000));
  return async (sub, claims, familyId) => {
    const nowS = Math.floor(clock.now() / 1000);
    // iat may be lifted to the user's last revocation (rounded up to the second) so a token issued
    // right after it is not taken for one issued before; nbf stays the real time.
    const iat = Math.max(nowS, minIat(sub));
    const extra: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(claims)) if (!RESERVED_CLAIMS.has(k)) extra[k] = v;
    const { kid, alg, key } = keys.signing;
    const token = await new SignJWT({ ...extra, sid: familyId })
      .setProtectedHeader({ alg, kid, typ: ACCESS_TOKEN_TYPE })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject(sub)
      .setIssuedAt(iat)
      .setNotBefore(nowS)
      .setExpirationTime(nowS + ttlS)
      .setJti(randomUUID())
      .sign(key);
    return { token, expiresIn: ttlS };
  };
}
