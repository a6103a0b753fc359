// Sessions an Express app keeps with express-session: what the gateway reads from them. The reader
// (the signed cookie, the record in Redis) is adapters/redis/express-session.ts.

export interface ExpressSessionSettings {
  readonly secrets: readonly string[];
  readonly prefix: string;
  /** Dotted path of the user id in the record. */
  readonly subject: string;
  /** Claim name → dotted path in the record. */
  readonly claims: Readonly<Record<string, string>>;
}

export interface ExpressSessionPrincipal {
  readonly sub: string;
  readonly claims: Record<string, unknown>;
  /** Public handle: a hash of the session id, never the id. */
  readonly handle: string;
  /** A digest of sub and claims: changes whenever the Express app rewrites them. */
  readonly contentKey: string;
}

export interface ExpressSessionLookup {
  /** 'invalid': no valid session (bad signature, unknown, expired, no user). Store failures throw 503. */
  read(cookieValue: string): Promise<ExpressSessionPrincipal | 'invalid'>;
}
