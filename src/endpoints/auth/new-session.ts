// A sign-in's session, whichever way the user signed in (password form, OpenID Connect): the
// browser's previous session ended first (no fixation), then a new one made.
import type { Exchange } from '../../pipeline/exchange.js';
import { hashSessionId, isSessionIdShape } from '../../sessions/ids.js';
import type { ActiveSession, SessionService } from '../../sessions/service.js';
import type { SessionIdp } from '../../sessions/store.js';
import { readCookie } from '../../wire/cookies.js';

export async function newSession(
  ex: Exchange,
  sessions: SessionService,
  cookieName: string,
  user: { readonly sub: string; readonly claims: Record<string, unknown>; readonly idp?: SessionIdp },
): Promise<{ id: string; session: ActiveSession }> {
  const previous = readCookie(ex.req.headers.cookie, cookieName);
  if (previous && isSessionIdShape(previous)) await sessions.revoke(hashSessionId(previous), 'login_replaced');
  return sessions.create({
    sub: user.sub,
    claims: user.claims,
    clientIp: ex.clientIp,
    userAgent: typeof ex.req.headers['user-agent'] === 'string' ? ex.req.headers['user-agent'] : '',
    ...(user.idp ? { idp: user.idp } : {}),
  });
}
