// Bearer tokens verified once, then answered from memory until their exp, so a busy client costs
// one signature check, not one per request. One cache for both kinds of token, keyed by the SHA-256
// of the whole token: header, payload and signature, so an entry answers only for the very bytes
// that were verified (never for a copy with another signature, another `iss` or another claim).
// A hit is not the last word: an entry may carry a re-check (the gateway's own tokens ask the
// not-before registry), asked on every hit, so a cached token never outlives its user's revocation.
import { hash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { VerifiedToken } from './bearer-token.js';

/** The cache key, and the base of a bearer principal's session handle. */
export function tokenDigest(token: string): string {
  return hash('sha256', token, 'base64url');
}

export type CacheAnswer = { readonly verified: VerifiedToken; readonly refused?: string };

export class VerifiedTokenCache {
  private readonly lru: LRUCache<string, VerifiedToken> | undefined;

  /** maxEntries 0: no cache, every request is verified. */
  constructor(maxEntries: number) {
    this.lru = maxEntries > 0 ? new LRUCache<string, VerifiedToken>({ max: maxEntries }) : undefined;
  }

  /** The token verified under this digest while it lives, with the reason if its re-check fails now (then it is dropped). */
  get(digest: string, nowMs: number): CacheAnswer | undefined {
    const verified = this.lru?.get(digest);
    if (!verified || nowMs >= verified.expMs) return undefined;
    const refused = verified.recheck?.();
    if (refused === undefined) return { verified };
    this.lru?.delete(digest);
    return { verified, refused };
  }

  set(digest: string, verified: VerifiedToken, nowMs: number): void {
    this.lru?.set(digest, verified, { ttl: Math.max(1, verified.expMs - nowMs) });
  }
}
