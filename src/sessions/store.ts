// The port every session store implements (memory for development and tests, Redis for
// production); test/contract/session-store.test.ts runs one suite against both.
// Keys are hashes of session IDs: a store never sees the ID itself.

export interface StoredSession {
  /** Public, random handle: the `sid` claim and the id in session listings. Not a credential. */
  readonly handle: string;
  readonly sub: string;
  /** Claims from the credential check, copied into internal tokens as routes ask. */
  readonly claims: Readonly<Record<string, unknown>>;
  /** ms since the epoch. */
  readonly createdAt: number;
  /** ms since the epoch; advanced at most once per touch interval. */
  readonly lastSeenAt: number;
  /** Absolute expiry, ms since the epoch: createdAt + absoluteTimeout. */
  readonly expiresAt: number;
  readonly clientIp: string;
  readonly userAgent: string;
  /** Per-session CSRF token for routes with `csrf: token`. */
  readonly csrfToken: string;
  /** A digest of the claims, set once login.claimsUrl changed them: part of the minted-token cache key. */
  readonly claimsDigest?: string;
  /** Signed in through an OpenID Connect provider (login.oidc): which, its session id, and the ID token for RP-initiated logout. */
  readonly idp?: SessionIdp;
}

export interface SessionIdp {
  /** The provider's name in login.oidc. */
  readonly provider: string;
  /** The provider's issuer: who vouched for the user (principal.issuer, `src_iss`, policy `issuers`). */
  readonly issuer?: string;
  /** The provider's `sid`, when its ID token had one: back-channel logout names it. */
  readonly sid?: string;
  /** The ID token, sent back as id_token_hint at RP-initiated logout. */
  readonly idToken?: string;
}

/**
 * A record exists under a session's key but cannot be read as a session: another type in Redis,
 * JSON that does not parse, missing or mistyped fields (another program, a bad migration, a
 * manual edit). The session is invalid, not the store unavailable: 401, never 503 for that user forever.
 */
export class UnreadableSessionError extends Error {
  constructor(readonly why: string) {
    super(`session record unreadable: ${why}`);
    this.name = 'UnreadableSessionError';
  }
}

export interface SessionStore {
  /** Store a new session and index it under its user; the entry expires after `ttlMs`. */
  create(idHash: string, session: StoredSession, ttlMs: number): Promise<void>;
  /** Throws UnreadableSessionError for a record that is there but is no session. */
  get(idHash: string): Promise<StoredSession | undefined>;
  /** Rewrite an existing session (new lastSeenAt) with a new TTL; never recreates a deleted one. Answers whether it was written. */
  touch(idHash: string, session: StoredSession, ttlMs: number): Promise<boolean>;
  /** Delete one session; answers what was deleted. */
  delete(idHash: string): Promise<StoredSession | undefined>;
  /** Every live session of a user, found through the per-user index (no scan). */
  listByUser(sub: string): Promise<{ idHash: string; session: StoredSession }[]>;
  /** Delete every session of a user; answers the hashes deleted. */
  deleteByUser(sub: string): Promise<string[]>;
  /** Resolves when the store answers. */
  ping(): Promise<void>;
}

/** What instances tell each other so their session caches never outlive a revocation. */
export type InvalidationEvent =
  | { readonly type: 'session'; readonly idHash: string; readonly reason?: string }
  | { readonly type: 'user'; readonly sub: string; readonly notBefore?: number; readonly reason?: string };

export interface InvalidationBus {
  publish(event: InvalidationEvent): Promise<void>;
  /** `onEvent` gets every event (own ones too); `onGap` is called when events may have been missed. Several subscribers may register. */
  subscribe(onEvent: (e: InvalidationEvent) => void, onGap: () => void): void;
  /** False while the subscription is down: the session cache must not be used then. */
  readonly connected: boolean;
  close(): Promise<void>;
}
