// The session-cookie authenticator: the browser's opaque cookie → the session in the store.
import { GatewayError } from '../../errors.js';
import { clearCookie, readCookie, type CookieAttributes } from '../../wire/cookies.js';
import type { ResolveResult, SessionService } from '../../sessions/service.js';
import type { Principal } from '../principal.js';
import type { Authenticator } from './authenticator.js';

export function sessionCookieAuthenticator(sessions: SessionService, cookieName: string, attrs: CookieAttributes): Authenticator {
  const cleared = clearCookie(cookieName, attrs);
  const principalOf = (result: ResolveResult): Principal => {
    if (result.kind === 'invalid') {
      throw new GatewayError('session_invalid', { detail: result.reason, headers: { 'set-cookie': cleared } });
    }
    const s = result.session;
    // Claims that login.claimsUrl changed must not be served from a token minted before. A user
    // signed in through a provider was vouched for by it: its issuer travels as src_iss, and a
    // route's `issuers` policy can require it (the gateway itself vouches for password users).
    const issuer = s.idp?.issuer;
    if (issuer !== undefined) return { sub: s.sub, claims: s.claims, via: 'session', sessionHandle: s.handle, session: s, contentKey: s.claimsDigest, issuer };
    return { sub: s.sub, claims: s.claims, via: 'session', sessionHandle: s.handle, session: s, contentKey: s.claimsDigest };
  };
  return {
    id: 'session',
    authenticate(ex) {
      const value = readCookie(ex.req.headers.cookie, cookieName);
      if (value === undefined || value === '') return undefined;
      // A cached session answers at once; a store read is waited for.
      const result = sessions.resolve(value);
      return result instanceof Promise ? result.then(principalOf) : principalOf(result);
    },
  };
}
