// Claims that follow the source: when login.claimsUrl is set, the gateway asks it for a user's
// current claims at each session touch and each refresh-token rotation, so a role removed at the
// source reaches the route policy and the internal and access tokens without a revocation; a user
// the source no longer knows is revoked everywhere. A source that cannot answer changes nothing:
// the claims already held stay in force until it answers again.

export type ClaimsAnswer = { readonly kind: 'claims'; readonly claims: Record<string, unknown> } | { readonly kind: 'unknown' } | { readonly kind: 'unavailable' };

export interface ClaimsRefresh {
  lookup(sub: string): Promise<ClaimsAnswer>;
  /** The source no longer knows the user: end every session, refresh family and access token of theirs. */
  unknownUser(sub: string): Promise<void>;
}

/** Whether two claim sets say the same (claims are small JSON values). */
export function sameClaims(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
