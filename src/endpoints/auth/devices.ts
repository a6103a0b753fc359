// The "your devices" page and its three actions: sign out one session, every other one, or all of
// them. Each action is a form post that must pass the same-origin check of every state-changing
// /auth/* endpoint and carry the session's CSRF token. Revocations go through the session service
// and revokeUser, so they take effect on every instance at once.
import { timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../clock.js';
import { GatewayError } from '../../errors.js';
import { readFields } from '../../http/body.js';
import type { Logger } from '../../log.js';
import type { Authenticator } from '../../pipeline/authn/authenticator.js';
import { sameOriginRequest } from '../../pipeline/csrf/csrf.js';
import type { Exchange } from '../../pipeline/exchange.js';
import type { TokenMinter } from '../../pipeline/mint/minter.js';
import type { Principal } from '../../pipeline/principal.js';
import type { SessionService } from '../../sessions/service.js';
import { clearCookie, type CookieAttributes } from '../../wire/cookies.js';
import { devicesMessage, renderDevices } from './pages/devices.js';
import { sendHtml, type PageTheme } from './pages/html.js';

/** What the devices endpoints need of AuthEndpointDeps (declared here: endpoints.ts imports this file). */
export interface DevicesDeps {
  readonly sessions: SessionService;
  readonly minter: TokenMinter;
  readonly sessionAuth: Authenticator;
  readonly cookie: { readonly name: string; readonly attrs: CookieAttributes };
  readonly allowedOrigins: ReadonlySet<string>;
  readonly revokeUser: (sub: string, reason: string) => Promise<number>;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** The theme and stylesheet every page is rendered with. */
export interface PageAssets {
  readonly theme: PageTheme;
  readonly stylesheetPath: string;
}

const DEVICES = '/auth/devices';
const SIGN_IN_FIRST = `/auth/login?return=${encodeURIComponent(DEVICES)}`;
const SIGNED_OUT = '/auth/login?error=signed_out';

function seeOther(ex: Exchange, location: string, headers: Readonly<Record<string, string>> = {}): void {
  ex.res.writeHead(303, { ...headers, location, 'cache-control': 'no-store' });
  ex.res.end();
}

/**
 * The signed-in principal; or, for no session or a dead one, the headers of the way to the sign-in
 * page (clearing a dead cookie). A store failure stays a 503.
 */
async function signedIn(ex: Exchange, deps: DevicesDeps): Promise<{ principal: Principal } | { headers: Readonly<Record<string, string>> }> {
  try {
    const p = await deps.sessionAuth.authenticate(ex);
    return p?.session ? { principal: p } : { headers: {} };
  } catch (err) {
    if (err instanceof GatewayError && err.status === 401) return { headers: err.headers ?? {} };
    throw err;
  }
}

function sameToken(sent: string | undefined, expected: string | undefined): boolean {
  if (!sent || !expected) return false;
  const a = Buffer.from(sent);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function displayName(p: Principal): string {
  for (const key of ['email', 'name']) {
    const v = p.claims[key];
    if (typeof v === 'string' && v.trim() !== '') return v.slice(0, 200);
  }
  return p.sub;
}

/** GET /auth/devices */
export async function devicesPage(ex: Exchange, deps: DevicesDeps, assets: PageAssets): Promise<void> {
  const who = await signedIn(ex, deps);
  if (!('principal' in who)) return seeOther(ex, SIGN_IN_FIRST, who.headers);
  const p = who.principal;
  const sessions = await deps.sessions.list(p.sub);
  const html = renderDevices({
    ...assets,
    who: displayName(p),
    sessions: sessions.map((s) => ({ handle: s.handle, createdAt: s.createdAt, lastSeenAt: s.lastSeenAt, clientIp: s.clientIp, userAgent: s.userAgent, current: s.handle === p.sessionHandle })),
    csrfToken: p.session?.csrfToken ?? '',
    now: deps.clock.now(),
    message: devicesMessage(new URLSearchParams(ex.query.slice(1))),
  });
  sendHtml(ex.res, 200, html);
}

/**
 * The checks of every action: Origin (as the other /auth/* endpoints), a session, and its CSRF token
 * in the form. Undefined when the browser was sent to sign in instead.
 */
async function authorize(ex: Exchange, deps: DevicesDeps): Promise<{ p: Principal; fields: Record<string, string> } | undefined> {
  if (!sameOriginRequest(ex, deps.allowedOrigins)) throw new GatewayError('csrf_failed', { detail: 'origin' });
  const { fields } = await readFields(ex.req, 4 * 1024);
  const who = await signedIn(ex, deps);
  if (!('principal' in who)) {
    seeOther(ex, SIGN_IN_FIRST, who.headers);
    return undefined;
  }
  if (!sameToken(fields.csrf, who.principal.session?.csrfToken)) throw new GatewayError('csrf_failed', { detail: 'token' });
  return { p: who.principal, fields };
}

function signedOutHere(ex: Exchange, deps: DevicesDeps): void {
  seeOther(ex, SIGNED_OUT, { 'set-cookie': clearCookie(deps.cookie.name, deps.cookie.attrs) });
}

/** POST /auth/devices/sign-out: one session of this user, by its handle (`session`). */
export async function signOutDevice(ex: Exchange, deps: DevicesDeps): Promise<void> {
  const ok = await authorize(ex, deps);
  if (!ok) return;
  const handle = ok.fields.session ?? '';
  // Only this user's sessions are found: another user's handle is 404, like an unknown one.
  const target = (await deps.sessions.list(ok.p.sub)).find((s) => s.handle === handle);
  if (!target) throw new GatewayError('session_not_found');
  await deps.sessions.revoke(target.idHash, 'session_deleted');
  deps.minter.forget(handle);
  deps.logger.info({ requestId: ex.requestId, sub: ok.p.sub, session: handle }, 'device signed out');
  if (handle === ok.p.sessionHandle) return signedOutHere(ex, deps);
  seeOther(ex, `${DEVICES}?done=session`);
}

/** POST /auth/devices/sign-out-others: every session of this user but this one. */
export async function signOutOthers(ex: Exchange, deps: DevicesDeps): Promise<void> {
  const ok = await authorize(ex, deps);
  if (!ok) return;
  const others = (await deps.sessions.list(ok.p.sub)).filter((s) => s.handle !== ok.p.sessionHandle);
  await Promise.all(others.map((s) => deps.sessions.revoke(s.idHash, 'session_deleted')));
  for (const s of others) deps.minter.forget(s.handle);
  deps.logger.info({ requestId: ex.requestId, sub: ok.p.sub, revoked: others.length }, 'other devices signed out');
  seeOther(ex, `${DEVICES}?done=others`);
}

/** POST /auth/devices/sign-out-everywhere: every session, refresh family and access token of this user. */
export async function signOutEverywhere(ex: Exchange, deps: DevicesDeps): Promise<void> {
  const ok = await authorize(ex, deps);
  if (!ok) return;
  const sessions = await deps.sessions.list(ok.p.sub);
  const revoked = await deps.revokeUser(ok.p.sub, 'logout_all');
  for (const s of sessions) deps.minter.forget(s.handle);
  deps.logger.info({ requestId: ex.requestId, sub: ok.p.sub, revoked }, 'signed out everywhere');
  signedOutHere(ex, deps);
}
