// The gateway's own /auth/* endpoints, beside the proxy path: sign in, sign out, sign out
// everywhere, list and end sessions, hand out the CSRF token. Errors are thrown as GatewayErrors and
// written by the one renderer, like every other answer.
import { createHash } from 'node:crypto';
import { GatewayError } from '../../errors.js';
import { readFields } from '../../http/body.js';
import { clearCookie, readCookie, serializeCookie, type CookieAttributes } from '../../wire/cookies.js';
import { sendEmpty, sendJson } from '../../http/json-response.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { Authenticator } from '../../pipeline/authn/authenticator.js';
import { sameOriginRequest } from '../../pipeline/csrf/csrf.js';
import type { Endpoint, EndpointLookup } from '../../http/handler.js';
import type { Exchange } from '../../pipeline/exchange.js';
import type { TokenMinter } from '../../pipeline/mint/minter.js';
import type { Principal } from '../../pipeline/principal.js';
import type { RefreshService } from '../../refresh/service.js';
import type { RateLimitStore } from '../../rate-limit/store.js';
import type { SessionService } from '../../sessions/service.js';
import type { Clock } from '../../clock.js';
import type { GatewayConfig } from '../../config/schema.js';
import type { SessionIdp } from '../../sessions/store.js';
import { addressKey } from './address-key.js';
import { devicesPage, signOutDevice, signOutEverywhere, signOutOthers, type PageAssets } from './devices.js';
import { pageCsp, sendHtml } from './pages/html.js';
import { renderSignIn, signInMessage, type SignInMessage, type SignInProvider } from './pages/sign-in.js';
import { buildStylesheet, sendStylesheet } from './pages/theme.js';
import { newSession } from './new-session.js';
import { safeRedirect } from './redirects.js';
import type { VerifyCredentials } from './verify.js';

export interface AuthEndpointDeps {
  readonly sessions: SessionService;
  /** Sign-in counters (rate-limit/store.ts), failures already 503. */
  readonly rateLimits: RateLimitStore;
  readonly minter: TokenMinter;
  readonly sessionAuth: Authenticator;
  readonly cookie: { readonly name: string; readonly attrs: CookieAttributes };
  readonly verify: VerifyCredentials;
  readonly rateLimit: {
    readonly perAddress: { readonly max: number; readonly window: number };
    readonly perUsername: { readonly max: number; readonly window: number };
  };
  /** publicOrigins: accepted as Origin of the gateway's own pages. */
  readonly allowedOrigins: ReadonlySet<string>;
  /** publicOrigins and login.allowedRedirectOrigins: where a post-login redirect may go. */
  readonly redirectOrigins: ReadonlySet<string>;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Ends every session, refresh family and access token of a user, on every instance. */
  readonly revokeUser: (sub: string, reason: string) => Promise<number>;
  /** The gateway's own access and refresh tokens. */
  readonly refresh: RefreshService;
  /** HttpOnly cookie for refresh tokens, scoped to /auth/refresh. */
  readonly refreshCookie: string;
  /** Times shown on the devices page ("5 minutes ago"). */
  readonly clock: Clock;
  /** gateway.yaml `pages`: product name, logo and colours of the sign-in and devices pages. */
  readonly pages: GatewayConfig['pages'];
  /** The OpenID Connect providers the sign-in page offers (login.oidc), in order. */
  readonly signInProviders: readonly SignInProvider[];
  /** Whether the sign-in page shows the password form (login.password). */
  readonly passwordSignIn: boolean;
  /** The provider's end-session URL for a session signed in through OpenID Connect (RP-initiated logout), if any. */
  readonly endSession?: (idp: SessionIdp) => Promise<string | undefined>;
}

export type EndpointHandler = Endpoint;

const MAX_FIELD = 1024;

function requireSameOrigin(ex: Exchange, deps: AuthEndpointDeps): void {
  if (!sameOriginRequest(ex, deps.allowedOrigins)) throw new GatewayError('csrf_failed', { detail: 'origin' });
}

async function signedIn(ex: Exchange, deps: AuthEndpointDeps): Promise<Principal> {
  const p = await deps.sessionAuth.authenticate(ex);
  if (!p?.session) throw new GatewayError('unauthenticated', { headers: { 'www-authenticate': `Cookie realm="gateway"` } });
  return p;
}

// Characters a credential check may ignore when comparing names (zero-width and other default-ignorables).
const IGNORABLE = /\p{Default_Ignorable_Code_Point}/gu;

/**
 * The rate-limit key of a username: its spellings that a lenient credential check (a
 * case-insensitive, accent-insensitive database collation, NFKC) would take as one user share one
 * budget. Accents are dropped too, at the price of sharing a budget between `rené` and `rene`.
 */
function userKey(username: string): string {
  const canonical = username.normalize('NFKC').replace(IGNORABLE, '').trim().toLowerCase().normalize('NFKD').replace(/\p{M}/gu, '');
  return `user:${createHash('sha256').update(canonical).digest('base64url')}`;
}

function retryAfter(ms: number): Record<string, string> {
  return { 'retry-after': String(Math.max(1, Math.ceil(ms / 1000))) };
}

type Checked = { ok: true; sub: string; claims: Record<string, unknown>; userKey: string } | { ok: false };

/**
 * Rate limits, then the credential check. The attempt is counted before the check (INCR in Redis),
 * so concurrent guesses cannot exceed the limit for one username (in its canonical spelling, see
 * userKey) or address: each gets its own count, and only those within it reach the credential service. A success clears the username's counter and gives the address back
 * its attempt (an office behind one NAT signs in all day); an unavailable check gives both back.
 * Throws 429, 502 or 400.
 */
async function checkCredentials(ex: Exchange, deps: AuthEndpointDeps, fields: Record<string, string>): Promise<Checked> {
  const { username, password } = fields;
  if (!username || !password || username.length > MAX_FIELD || password.length > MAX_FIELD) {
    throw new GatewayError('invalid_body', { detail: 'username and password are required' });
  }
  const ipKey = `ip:${addressKey(ex.clientIp)}`;
  const uKey = userKey(username);
  const { perAddress, perUsername } = deps.rateLimit;
  const [byIp, byUser] = await Promise.all([deps.rateLimits.hit(ipKey, perAddress.window), deps.rateLimits.hit(uKey, perUsername.window)]);
  if (byIp.count > perAddress.max || byUser.count > perUsername.max) {
    const limit = byIp.count > perAddress.max ? 'address' : 'username';
    deps.metrics.rateLimited.labels(limit).inc();
    deps.metrics.loginAttempts.labels('rate_limited').inc();
    throw new GatewayError('rate_limited', { headers: retryAfter(limit === 'address' ? byIp.resetInMs : byUser.resetInMs) });
  }
  const result = await deps.verify(username, password);
  if (!result.ok) {
    if (result.reason === 'unavailable') {
      await Promise.all([deps.rateLimits.release(ipKey), deps.rateLimits.release(uKey)]);
      deps.metrics.loginAttempts.labels('error').inc();
      throw new GatewayError('login_unavailable');
    }
    deps.metrics.loginAttempts.labels('invalid_credentials').inc();
    deps.logger.info({ requestId: ex.requestId, client: ex.clientIp }, 'sign-in refused');
    return { ok: false };
  }
  await Promise.all([deps.rateLimits.clear(uKey), deps.rateLimits.release(ipKey)]);
  deps.metrics.loginAttempts.labels('success').inc();
  return { ok: true, sub: result.sub, claims: result.claims, userKey: uKey };
}

async function login(ex: Exchange, deps: AuthEndpointDeps): Promise<void> {
  requireSameOrigin(ex, deps);
  const { kind, fields } = await readFields(ex.req, 16 * 1024);
  let result: Checked;
  try {
    result = await checkCredentials(ex, deps, fields);
  } catch (err) {
    // A browser's form gets the sign-in page back with the reason; JSON clients keep the error answer.
    const word = kind === 'form' ? signInFailure(err) : undefined;
    if (word === undefined) throw err;
    ex.errorCode = (err as GatewayError).code;
    return backToSignIn(ex, word, fields.redirect);
  }
  if (!result.ok) {
    if (kind === 'form') return backToSignIn(ex, 'invalid_credentials', fields.redirect);
    throw new GatewayError('invalid_credentials');
  }

  const { id, session } = await newSession(ex, deps.sessions, deps.cookie.name, result);
  deps.logger.info({ requestId: ex.requestId, sub: result.sub, session: session.handle }, 'signed in');
  const cookie = serializeCookie(deps.cookie.name, id, deps.cookie.attrs);
  const redirect = safeRedirect(fields.redirect, deps.redirectOrigins);
  if (kind === 'form') {
    ex.res.writeHead(303, { location: redirect, 'set-cookie': cookie, 'cache-control': 'no-store' });
    ex.res.end();
    return;
  }
  sendJson(ex.res, 200, { sub: result.sub, session: session.handle, expiresAt: new Date(session.expiresAt).toISOString(), redirect }, { 'set-cookie': cookie });
}

/** The sign-in page's message for a failed form sign-in, or undefined when the error is answered as such. */
function signInFailure(err: unknown): SignInMessage | undefined {
  if (!(err instanceof GatewayError)) return undefined;
  if (err.code === 'rate_limited') return 'rate_limited';
  if (err.code === 'login_unavailable' || err.code === 'session_store_unavailable') return 'unavailable';
  return undefined;
}

function backToSignIn(ex: Exchange, word: SignInMessage, redirect: string | undefined): void {
  ex.res.writeHead(303, { location: `/auth/login?error=${word}&return=${encodeURIComponent(redirect ?? '/')}`, 'cache-control': 'no-store' });
  ex.res.end();
}

async function logout(ex: Exchange, deps: AuthEndpointDeps): Promise<void> {
  requireSameOrigin(ex, deps);
  const p = await signedIn(ex, deps);
  await deps.sessions.revoke(p.session?.idHash as string, 'logout');
  deps.minter.forget(p.sessionHandle);
  const cleared = { 'set-cookie': clearCookie(deps.cookie.name, deps.cookie.attrs) };
  // Signed in through a provider: its session ends too (RP-initiated logout), when configured.
  const idp = p.session?.idp;
  const endSession = idp && deps.endSession ? await deps.endSession(idp).catch(() => undefined) : undefined;
  // A form posted by a page navigates; a script gets where to send the browser.
  const form = (ex.req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
  if (form) {
    ex.req.resume();
    ex.res.writeHead(303, { ...cleared, location: endSession ?? '/auth/login?error=signed_out', 'cache-control': 'no-store' });
    ex.res.end();
    return;
  }
  if (endSession) sendJson(ex.res, 200, { endSessionUrl: endSession }, cleared);
  else sendEmpty(ex.res, 204, cleared);
}

async function logoutAll(ex: Exchange, deps: AuthEndpointDeps): Promise<void> {
  requireSameOrigin(ex, deps);
  const p = await signedIn(ex, deps);
  const revoked = await deps.revokeUser(p.sub, 'logout_all');
  sendJson(ex.res, 200, { revoked }, { 'set-cookie': clearCookie(deps.cookie.name, deps.cookie.attrs) });
}

async function listSessions(ex: Exchange, deps: AuthEndpointDeps): Promise<void> {
  const p = await signedIn(ex, deps);
  const sessions = await deps.sessions.list(p.sub);
  sendJson(ex.res, 200, {
    sessions: sessions
      .sort((a, b) => b.lastSeenAt - a.lastSeenAt)
      .map((s) => ({
        handle: s.handle,
        createdAt: new Date(s.createdAt).toISOString(),
        lastSeenAt: new Date(s.lastSeenAt).toISOString(),
        expiresAt: new Date(s.expiresAt).toISOString(),
        clientIp: s.clientIp,
        userAgent: s.userAgent,
        current: s.handle === p.sessionHandle,
      })),
  });
}

async function deleteSession(ex: Exchange, deps: AuthEndpointDeps, handle: string): Promise<void> {
  requireSameOrigin(ex, deps);
  const p = await signedIn(ex, deps);
  const target = (await deps.sessions.list(p.sub)).find((s) => s.handle === handle);
  if (!target) throw new GatewayError('session_not_found');
  await deps.sessions.revoke(target.idHash, 'session_deleted');
  deps.minter.forget(handle);
  const headers: Record<string, string> = handle === p.sessionHandle ? { 'set-cookie': clearCookie(deps.cookie.name, deps.cookie.attrs) } : {};
  sendEmpty(ex.res, 204, headers);
}

async function csrfToken(ex: Exchange, deps: AuthEndpointDeps): Promise<void> {
  const p = await signedIn(ex, deps);
  sendJson(ex.res, 200, { csrfToken: p.session?.csrfToken, header: 'X-CSRF-Token' });
}

/** POST /auth/token: credentials in, the gateway's own access and refresh tokens out. */
async function token(ex: Exchange, deps: AuthEndpointDeps): Promise<void> {
  const { fields } = await readFields(ex.req, 16 * 1024);
  // Asking for the refresh cookie makes this a browser endpoint that sets a credential: same rules
  // as sign-in (a cross-site page must not plant tokens, nor test passwords through the browser).
  if (wantsRefreshCookie(fields)) requireSameOrigin(ex, deps);
  const result = await checkCredentials(ex, deps, fields);
  if (!result.ok) throw new GatewayError('invalid_credentials');
  const pair = await deps.refresh.issue(result.sub, result.claims);
  deps.logger.info({ requestId: ex.requestId, sub: result.sub }, 'tokens issued');
  sendJson(ex.res, 200, pair, refreshCookieHeader(deps, fields, pair.refresh_token));
}

function wantsRefreshCookie(fields: Record<string, string>): boolean {
  return fields.refresh_cookie === 'true' || fields.refresh_cookie === '1';
}

function refreshCookieHeader(deps: AuthEndpointDeps, fields: Record<string, string>, refreshToken: string): Record<string, string> {
  if (!wantsRefreshCookie(fields)) return {};
  const attrs = { ...deps.cookie.attrs, path: '/auth/refresh', domain: undefined, sameSite: 'strict' as const };
  return { 'set-cookie': serializeCookie(deps.refreshCookie, refreshToken, attrs) };
}

/** POST /auth/refresh: rotate a refresh token (from the body or the refresh cookie, never the query). */
async function refresh(ex: Exchange, deps: AuthEndpointDeps): Promise<void> {
  if (/(?:^|[?&])refresh_token=/.test(ex.query)) throw new GatewayError('invalid_grant', { detail: 'refresh token in the query string' });
  let fields: Record<string, string> = {};
  if (ex.req.headers['content-type'] !== undefined) fields = (await readFields(ex.req, 16 * 1024)).fields;
  const fromCookie = readCookie(ex.req.headers.cookie, deps.refreshCookie);
  const presented = fields.refresh_token ?? fromCookie;
  if (!presented) throw new GatewayError('invalid_grant', { detail: 'no refresh token' });
  if (fromCookie && !fields.refresh_token) requireSameOrigin(ex, deps);
  const pair = await deps.refresh.refresh(presented);
  const viaCookie = fromCookie !== undefined && !fields.refresh_token;
  sendJson(ex.res, 200, pair, viaCookie ? refreshCookieHeader(deps, { refresh_cookie: 'true' }, pair.refresh_token) : {});
}

async function loginPage(ex: Exchange, deps: AuthEndpointDeps, assets: PageAssets): Promise<void> {
  const params = new URLSearchParams(ex.query.slice(1));
  const html = renderSignIn({
    ...assets,
    providers: deps.signInProviders,
    password: deps.passwordSignIn,
    // Only a path or an allowed origin is ever written into the page.
    returnTo: safeRedirect(params.get('return') ?? '/', deps.redirectOrigins),
    message: signInMessage(params),
  });
  sendHtml(ex.res, 200, html, pageCsp(deps.redirectOrigins));
}

const SESSION_PATH = /^\/auth\/sessions\/([A-Za-z0-9_-]{22})$/;

/** The endpoint for a method and normalized path, or undefined: the request goes down the proxy path. */
export function authEndpoints(deps: AuthEndpointDeps): EndpointLookup {
  const stylesheet = buildStylesheet(deps.pages.colors);
  const assets: PageAssets = { theme: deps.pages, stylesheetPath: stylesheet.path };
  const table = new Map<string, EndpointHandler>([
    ['GET /auth/login', (ex) => loginPage(ex, deps, assets)],
    ['GET /auth/devices', (ex) => devicesPage(ex, deps, assets)],
    ['POST /auth/devices/sign-out', (ex) => signOutDevice(ex, deps)],
    ['POST /auth/devices/sign-out-others', (ex) => signOutOthers(ex, deps)],
    ['POST /auth/devices/sign-out-everywhere', (ex) => signOutEverywhere(ex, deps)],
    // The pages' stylesheet, at a path named by its content's hash (any other /auth/assets/ path is 404).
    [`GET ${stylesheet.path}`, async (ex) => sendStylesheet(ex.res, stylesheet)],
    ['POST /auth/login', (ex) => login(ex, deps)],
    ['POST /auth/logout', (ex) => logout(ex, deps)],
    ['POST /auth/logout-all', (ex) => logoutAll(ex, deps)],
    ['GET /auth/sessions', (ex) => listSessions(ex, deps)],
    ['GET /auth/csrf', (ex) => csrfToken(ex, deps)],
    ['POST /auth/token', (ex) => token(ex, deps)],
    ['POST /auth/refresh', (ex) => refresh(ex, deps)],
  ]);
  // login.password: false: no password sign-in at all, not only no form. A page-less POST would
  // otherwise sign in around the providers' second factor with a guessed legacy password.
  if (!deps.passwordSignIn) {
    table.delete('POST /auth/login');
    table.delete('POST /auth/token');
  }
  const paths = new Set([...table.keys()].map((k) => k.slice(k.indexOf(' ') + 1)));
  const refuse = (code: 'method_not_allowed' | 'route_not_found'): EndpointHandler => async () => {
    throw new GatewayError(code);
  };
  return (method, path) => {
    if (!path.startsWith('/auth/')) return undefined;
    const direct = table.get(`${method === 'HEAD' ? 'GET' : method} ${path}`);
    if (direct) return { label: path, run: direct };
    const m = SESSION_PATH.exec(path);
    if (m) {
      const handle = m[1] as string;
      return { label: '/auth/sessions/{handle}', run: method === 'DELETE' ? (ex) => deleteSession(ex, deps, handle) : refuse('method_not_allowed') };
    }
    // /auth/ belongs to the gateway: nothing under it goes upstream.
    return paths.has(path) ? { label: path, run: refuse('method_not_allowed') } : { label: '/auth/*', run: refuse('route_not_found') };
  };
}
