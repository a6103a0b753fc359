// Who a request is, once an authenticator has said so.
import type { ActiveSession } from '../sessions/service.js';

export interface Principal {
  /** The user (or client) id: `sub` of the internal token. */
  readonly sub: string;
  /** Claims available to policies and to the internal token. */
  readonly claims: Readonly<Record<string, unknown>>;
  /**
   * The external issuer that vouched for it (a trusted issuer's `iss`), set by the authenticator
   * alone; undefined when the gateway itself did (a session, its own access token). Never a claim:
   * claims come from login answers and tokens, which must not be able to name an issuer.
   */
  readonly issuer?: string;
  /** Which credential proved it; CSRF checks apply to cookies only. */
  readonly via: 'session' | 'bearer';
  /** Public session handle (`sid`), also the key of the minted-token cache. */
  readonly sessionHandle: string;
  /** The session, when `via` is session. */
  readonly session?: ActiveSession;
  /**
   * A digest of what the principal says (sub and claims) when it can change under the same handle
   * (express-session records): part of the minted-token cache key. Native sessions never change.
   */
  readonly contentKey?: string;
  /** When a bearer token's access ends (its exp, ms): what an upgraded connection may outlive it by is nothing. */
  readonly expiresAt?: number;
}
