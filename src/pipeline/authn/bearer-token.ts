// What the two kinds of bearer token (other issuers', the gateway's own) share: the verifier
// contract the bearer authenticator dispatches on, the verified result its cache keeps, and how a
// refusal is told (401 invalid_token with the reason as a metric label, never to the client).
import { errors as joseErrors } from 'jose';
import { GatewayError } from '../../errors.js';
import { NoMatchingKeyError } from '../../keys/remote-jwks.js';
import type { Principal } from '../principal.js';

export interface VerifiedToken {
  /** The configured issuer that vouched for the token (metric label). */
  readonly issuer: string;
  readonly principal: Principal;
  readonly expMs: number;
  /** Asked again on every cache hit: why the token no longer holds (`revoked`), or undefined. */
  readonly recheck?: () => string | undefined;
}

export interface TokenVerifier {
  /** Whether tokens with this `iss` are this verifier's to check; false: not mine. */
  owns(iss: string): boolean;
  /** The verified token, or a throw (a GatewayError, or jose's / the key set's errors). */
  verify(token: string, iss: string, digest: string, now: Date): Promise<VerifiedToken>;
}

export function refuse(reason: string): GatewayError {
  return new GatewayError('invalid_token', {
    detail: reason,
    headers: { 'www-authenticate': 'Bearer realm="gateway", error="invalid_token"' },
  });
}

/** The metric reason of a verification failure that is not a GatewayError already. */
export function reasonOf(err: unknown): string {
  // jose's own "no key" answers cannot reach here through RemoteJwks (it turns them into
  // NoMatchingKeyError); mapped anyway, so an ambiguous key is never counted as a malformed token.
  if (err instanceof NoMatchingKeyError || err instanceof joseErrors.JWKSNoMatchingKey || err instanceof joseErrors.JWKSMultipleMatchingKeys) return 'unknown_key';
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
export function notIssuedInFuture(iat: unknown, now: Date, toleranceS: number): void {
  if (typeof iat === 'number' && iat * 1000 > now.getTime() + toleranceS * 1000) throw refuse('iat_future');
}
