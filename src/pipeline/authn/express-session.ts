// The express-session authenticator: the legacy app's signed `connect.sid` cookie → its session in
// Redis, read as express-session wrote it.
import { GatewayError } from '../../errors.js';
import { readCookie } from '../../wire/cookies.js';
import type { ExpressSessionLookup } from '../../sessions/express-session.js';
import type { Authenticator } from './authenticator.js';

export function expressSessionAuthenticator(reader: ExpressSessionLookup, cookieName: string): Authenticator {
  return {
    id: 'express-session',
    async authenticate(ex) {
      const value = readCookie(ex.req.headers.cookie, cookieName);
      if (value === undefined || value === '') return undefined;
      const found = await reader.read(value);
      // The cookie belongs to the Express app: the gateway reports it invalid but never clears it.
      if (found === 'invalid') throw new GatewayError('session_invalid');
      return { sub: found.sub, claims: found.claims, via: 'session', sessionHandle: found.handle, contentKey: found.contentKey };
    },
  };
}
