// CSRF for cookie-authenticated requests with unsafe methods (OWASP CSRF cheat sheet):
// 1. Fetch Metadata: `Sec-Fetch-Site` other than same-origin or none is refused;
// 2. `Origin` (or, without it, `Referer`) must be one of publicOrigins or the gateway's own origin;
// 3. routes with `csrf: token` also need `X-CSRF-Token` equal to the session's token (GET /auth/csrf).
// Bearer-authenticated requests carry no ambient credential and skip all of it.
import { timingSafeEqual } from 'node:crypto';
import { GatewayError } from '../../errors.js';
import type { Exchange } from '../exchange.js';
import type { Stage } from '../exchange.js';

const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

function originOf(value: string): string | undefined {
  try {
    const u = new URL(value);
    return u.origin === 'null' ? undefined : u.origin;
  } catch {
    return undefined;
  }
}

/** Whether the request's Origin/Referer/Sec-Fetch-Site say it came from one of our own pages. */
export function sameOriginRequest(ex: Exchange, allowedOrigins: ReadonlySet<string>): boolean {
  const h = ex.req.headers;
  const site = h['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  const origin = h.origin;
  const claimed = origin !== undefined ? (origin === 'null' ? undefined : originOf(origin)) : h.referer ? originOf(h.referer) : null;
  // Neither header: not a browser's cross-site request (browsers send Origin on unsafe cross-site requests).
  if (claimed === null) return true;
  if (claimed === undefined) return false;
  if (allowedOrigins.has(claimed)) return true;
  // The gateway's own origin as the browser addressed it (behind a trusted proxy, its X-Forwarded-Proto/-Host).
  return claimed === ex.publicOrigin;
}

function tokenMatches(sent: string | string[] | undefined, expected: string | undefined): boolean {
  // A principal without a token (an express-session one) never passes: two empty values are no proof.
  if (typeof sent !== 'string' || !expected) return false;
  const a = Buffer.from(sent);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface CsrfOptions {
  /** Check cookie-authenticated unsafe methods (route `csrf: true` or `token`). */
  readonly unsafeMethods: boolean;
  /** Also require X-CSRF-Token on them (route `csrf: token`). */
  readonly requireToken: boolean;
}

/**
 * Cookie-authenticated unsafe requests, and every cookie-authenticated WebSocket upgrade whatever the
 * route's `csrf` says: browsers send cookies with a WebSocket handshake from any page, and the
 * same-origin policy does not guard the socket (cross-site WebSocket hijacking). Runs before the
 * token is minted, so a refused request costs no signature.
 */
export function csrfStage(allowedOrigins: ReadonlySet<string>, opts: CsrfOptions): Stage {
  return (ex) => {
    const principal = ex.principal;
    if (!principal || principal.via !== 'session') return;
    // Node's parser sets `upgrade` on requests it hands to the 'upgrade' event (not in @types/node).
    const upgrade = (ex.req as { upgrade?: boolean }).upgrade === true;
    if (!upgrade && (!opts.unsafeMethods || SAFE_METHODS.has(ex.req.method ?? 'GET'))) return;
    if (!sameOriginRequest(ex, allowedOrigins)) throw new GatewayError('csrf_failed', { detail: upgrade ? 'websocket origin' : 'origin' });
    // A WebSocket handshake cannot carry custom headers: its Origin is the whole check.
    if (!upgrade && opts.requireToken && !tokenMatches(ex.req.headers['x-csrf-token'], principal.session?.csrfToken)) {
      throw new GatewayError('csrf_failed', { detail: 'token' });
    }
  };
}
