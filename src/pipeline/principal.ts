// Who a request is, once an authenticator has said so.
import type { ActiveSession } from '../sessions/service.js';

export interface Principal {
  /** The user (or client) id: `sub` of the internal token. */
  readonly sub: string;
  /** Claims available to policies and to the internal token. */
  readonly claims: Readonly<Record<string, unknown>>;
  /** Which credential proved it; CSRF checks apply to cookies only. */
  readonly via: 'session' | 'bearer';
  /** Public session handle (`sid`), also the key of the minted-token cache. */
  readonly sessionHandle: string;
  /** The session, when `via` is session. */
  readonly session?: ActiveSession;
  /** When a bearer token's access ends (its exp, ms): what an upgraded connection may outlive it by is nothing. */
  readonly expiresAt?: number;
}
