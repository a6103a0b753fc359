// Claims that follow the source: when login.claimsUrl is set, the gateway asks it for a user's
// current claims at each session touch and each refresh-token rotation, so a role removed at the
// source reaches the route policy and the internal and access tokens without a revocation; a user
// the source no longer knows is revoked everywhere. A source that cannot answer changes nothing:
// the claims already held stay in force until it answers again.
import { createHash } from 'node:crypto';

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

/** A short digest of a claim set: the minted-token cache key part for claims the source changed. */
export function claimsDigest(claims: Readonly<Record<string, unknown>>): string {
  return createHash('sha256').update(JSON.stringify(claims)).digest('base64url').slice(0, 22);
}

/**
 * One lookup in flight per user, and its answer reused for `reuseMs`: every request of a user that
 * falls past the touch interval at once shares one call, and a slow source delays one request
 * per user per interval, not all of them.
 */
export function sharedLookups(lookup: (sub: string) => Promise<ClaimsAnswer>, reuseMs: number, now: () => number): (sub: string) => Promise<ClaimsAnswer> {
  const inflight = new Map<string, Promise<ClaimsAnswer>>();
  const recent = new Map<string, { answer: ClaimsAnswer; at: number }>();
  return (sub) => {
    const hit = recent.get(sub);
    if (hit && now() - hit.at < reuseMs) return Promise.resolve(hit.answer);
    let pending = inflight.get(sub);
    if (!pending) {
      pending = lookup(sub).finally(() => inflight.delete(sub));
      pending.then((answer) => {
        if (answer.kind !== 'unavailable') recent.set(sub, { answer, at: now() });
        // Bounded: answers older than reuseMs are worthless, drop them as they pile up.
        if (recent.size > 10_000) for (const [k, v] of recent) if (now() - v.at >= reuseMs) recent.delete(k);
      }, () => undefined);
      inflight.set(sub, pending);
    }
    return pending;
  };
}
