// The JWT vocabulary, one list each: which algorithms may sign what, the `typ` of each kind of token
// the gateway signs, and the claims it sets itself. Imports nothing, so configuration, keys and the
// stages all read the same lists.

/** What the gateway's own key set may sign with (tokens.algorithm). HS256 only with a loud warning. */
export const SIGNING_ALGORITHMS = ['ES256', 'EdDSA', 'RS256', 'PS256', 'HS256'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

/** What `gateway keygen` writes: the asymmetric ones (a shared secret is not generated into a JWK file). */
export const KEYGEN_ALGORITHMS = ['ES256', 'EdDSA', 'RS256', 'PS256'] as const satisfies readonly SigningAlgorithm[];
export type KeygenAlgorithm = (typeof KEYGEN_ALGORITHMS)[number];

/** What an external issuer's tokens may be pinned to (issuers[].algorithms): asymmetric only, never `none` or HMAC. */
export const ISSUER_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

/** `typ` of the internal tokens upstreams receive. */
export const INTERNAL_TOKEN_TYPE = 'gateway-internal+jwt';
/** `typ` of the gateway's own access tokens (RFC 9068), so they are never confused with internal tokens. */
export const ACCESS_TOKEN_TYPE = 'at+jwt';

/** Claims the gateway sets itself: a principal's claim of the same name is never copied over them. */
// src_iss: who vouched for an external subject; the gateway writes it from the authenticator's
// answer alone, so no login answer or token claim can pose as a trusted issuer.
export const RESERVED_CLAIMS: ReadonlySet<string> = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'sid', 'typ', 'src_iss']);
