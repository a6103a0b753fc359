// Sign-in with OpenID Connect providers (login.oidc) and their back-channel logout:
//   GET  /auth/oidc/<name>/start     → 303 to the provider (state, nonce, PKCE kept one-use in the store,
//                                       bound to this browser by a short-lived cookie)
//   GET  /auth/oidc/<name>/callback  → the code exchanged, a gateway session made, 303 to the return path
//   POST /auth/oidc/backchannel-logout → a logout token from a provider ends the sessions it names,
//                                       on every instance (Back-Channel Logout 1.0)
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { GatewayError } from '../../../errors.js';
import { readFields } from '../../../http/body.js';
import type { EndpointLookup } from '../../../http/handler.js';
import type { Logger } from '../../../log.js';
import type { Exchange } from '../../../pipeline/exchange.js';
import type { RateLimitStore } from '../../../rate-limit/store.js';
import type { IdpStore } from '../../../sessions/idp-store.js';
import type { SessionService } from '../../../sessions/service.js';
import { clearCookie, readCookie, serializeCookie, type CookieAttributes } from '../../../wire/cookies.js';
import { addressKey } from '../address-key.js';
import { newSession } from '../new-session.js';
import { safeRedirect } from '../redirects.js';
import { claimedIssuer, SignInRefused, type Flow, type OidcProvider } from './provider.js';

export interface OidcEndpointDeps {
  readonly providers: ReadonlyMap<string, OidcProvider>;
  readonly store: IdpStore;
  readonly sessions: SessionService;
  /** The session cookie (name and attributes) a sign-in sets. */
  readonly cookie: { readonly name: string; readonly attrs: CookieAttributes };
  readonly redirectOrigins: ReadonlySet<string>;
  /** Where a refused sign-in sends the browser (the sign-in page); `error=provider_error` is appended. */
  readonly signInPage: string;
  /** Forget tokens minted for a session that ended. */
  readonly forget: (handle: string) => void;
  readonly observe: {
    signIn(provider: string, result: string): void;
    backchannel(provider: string, result: string): void;
    /** A sign-in start refused for its address's budget. */
    rateLimited(): void;
  };
  /**
   * Sign-in starts per address and window: each writes a flow to Redis, so an anonymous flood
   * would fill it (with noeviction, every write then fails: no sign-in for anyone).
   */
  readonly startLimit: { readonly store: RateLimitStore; readonly max: number; readonly window: number };
  readonly logger: Logger;
}

// A sign-in has this long between leaving for the provider and coming back.
const FLOW_TTL_MS = 10 * 60_000;
const PROMPTS = new Set(['none', 'login', 'consent', 'select_account']);
const NAME = /^\/auth\/oidc\/([a-z0-9][a-z0-9-]{0,31})\/(start|callback)$/;

const digest = (v: string) => createHash('sha256').update(v).digest('base64url');

/** The flow cookie: `__Host-` whenever cookies are Secure (one host, path /, no Domain), ten minutes. */
export function flowCookieName(attrs: CookieAttributes): string {
  return attrs.secure ? '__Host-gw-oidc' : 'gw-oidc';
}

function flowCookieAttrs(attrs: CookieAttributes): CookieAttributes {
  // Lax: the provider's redirect back is a top-level GET from another site.
  return { sameSite: 'lax', secure: attrs.secure, path: '/' };
}

async function start(ex: Exchange, deps: OidcEndpointDeps, provider: OidcProvider): Promise<void> {
  const limit = deps.startLimit;
  const hit = await limit.store.hit(`oidc:${addressKey(ex.clientIp)}`, limit.window);
  if (hit.count > limit.max) {
    deps.observe.rateLimited();
    ex.res.writeHead(303, { location: `${deps.signInPage}?error=rate_limited`, 'retry-after': String(Math.max(1, Math.ceil(hit.resetInMs / 1000))), 'cache-control': 'no-store', 'x-gateway-error': 'rate_limited' });
    ex.res.end();
    return;
  }
  const params = new URLSearchParams(ex.query.slice(1));
  const asked = params.get('return') ?? undefined;
  // The return path is kept with the flow: bounded, so a flow stays a few hundred bytes.
  const returnTo = asked !== undefined && asked.length > 2048 ? '/' : safeRedirect(asked, deps.redirectOrigins);
  const prompt = params.get('prompt') ?? undefined;
  const loginHint = params.get('login_hint') ?? undefined;
  const { url, flow } = await provider.start(returnTo, {
    ...(prompt && PROMPTS.has(prompt) ? { prompt } : {}),
    ...(loginHint && loginHint.length <= 256 ? { loginHint } : {}),
  });
  const id = randomBytes(32).toString('base64url');
  await deps.store.putFlow(digest(id), JSON.stringify(flow), FLOW_TTL_MS);
  ex.res.writeHead(303, {
    location: url.href,
    'set-cookie': serializeCookie(flowCookieName(deps.cookie.attrs), id, flowCookieAttrs(deps.cookie.attrs), FLOW_TTL_MS / 1000),
    'cache-control': 'no-store',
  });
  ex.res.end();
}

async function callback(ex: Exchange, deps: OidcEndpointDeps, provider: OidcProvider): Promise<void> {
  const name = provider.settings.name;
  const cookieName = flowCookieName(deps.cookie.attrs);
  const clearFlow = clearCookie(cookieName, flowCookieAttrs(deps.cookie.attrs));
  let user;
  let flow: Flow | undefined;
  try {
    // One use: the flow is removed as it is read, so a replayed callback finds nothing.
    const id = readCookie(ex.req.headers.cookie, cookieName);
    const kept = id && id.length <= 64 ? await deps.store.takeFlow(digest(id)) : undefined;
    flow = kept ? (JSON.parse(kept) as Flow) : undefined;
    if (!flow || flow.provider !== name) throw new SignInRefused('state_mismatch', new Error(flow ? 'flow of another provider' : 'no sign-in under way in this browser'));
    const state = new URLSearchParams(ex.query.slice(1)).get('state') ?? '';
    if (!sameText(state, flow.state)) throw new SignInRefused('state_mismatch', new Error('state'));
    user = await provider.finish(ex.query, flow);
  } catch (err) {
    if (!(err instanceof SignInRefused)) throw err;
    deps.observe.signIn(name, err.why);
    deps.logger.info({ requestId: ex.requestId, provider: name, why: err.why, cause: causeText(err.cause) }, 'OIDC sign-in refused');
    ex.res.writeHead(303, { location: `${deps.signInPage}?error=provider_error`, 'set-cookie': clearFlow, 'cache-control': 'no-store', 'x-gateway-error': 'sign_in_failed' });
    ex.res.end();
    return;
  }
  const { id, session } = await newSession(ex, deps.sessions, deps.cookie.name, user);
  // A back-channel logout may name only the provider's session: remember whose it is, as long as a session can live.
  if (user.idp.sid) await deps.store.linkSession(sidKey(name, user.idp.sid), user.sub, Math.max(1, session.expiresAt - session.createdAt));
  deps.observe.signIn(name, 'success');
  deps.logger.info({ requestId: ex.requestId, provider: name, sub: user.sub, session: session.handle }, 'signed in');
  ex.res.writeHead(303, {
    location: flow.returnTo,
    'set-cookie': [serializeCookie(deps.cookie.name, id, deps.cookie.attrs), clearFlow],
    'cache-control': 'no-store',
  });
  ex.res.end();
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function sidKey(provider: string, sid: string): string {
  return `${provider}:${digest(sid)}`;
}

function causeText(cause: unknown): string | undefined {
  if (!cause) return undefined;
  const e = cause as { code?: string; message?: string; error?: string };
  return e.error ?? e.code ?? e.message;
}

/**
 * Back-Channel Logout 1.0 §2.8: the provider POSTs a logout token; 200 once the sessions it names
 * are ended (none found is still 200: they may have ended already), 400 for a token that fails a
 * check or was seen before. Server to server: no cookie, no Origin check; the token is the proof.
 */
async function backchannel(ex: Exchange, deps: OidcEndpointDeps): Promise<void> {
  const { fields } = await readFields(ex.req, 16 * 1024);
  const token = fields.logout_token;
  if (!token) throw new GatewayError('invalid_logout_token', { detail: 'no logout_token' });
  const iss = claimedIssuer(token);
  const candidates = [...deps.providers.values()].filter((p) => p.settings.backchannel && p.settings.issuer === iss);
  if (candidates.length === 0) throw new GatewayError('invalid_logout_token', { detail: 'unknown issuer' });
  let verified: Awaited<ReturnType<OidcProvider['verifyLogoutToken']>> | undefined;
  let provider: OidcProvider | undefined;
  let failure: unknown;
  // Several clients at one issuer: the one whose client id is the token's audience verifies it.
  for (const p of candidates) {
    try {
      verified = await p.verifyLogoutToken(token);
      provider = p;
      break;
    } catch (err) {
      failure = err;
    }
  }
  if (!verified || !provider) {
    deps.observe.backchannel(candidates[0]?.settings.name ?? 'unknown', 'invalid');
    throw failure;
  }
  const name = provider.settings.name;
  // Remembered until well past the token's own life, so a replay within it is refused.
  const ttl = Math.max(60_000, verified.exp * 1000 - Date.now() + 10 * 60_000);
  if (!(await deps.store.claimOnce(`${name}:${digest(verified.jti)}`, ttl))) {
    deps.observe.backchannel(name, 'replayed');
    throw new GatewayError('invalid_logout_token', { detail: 'jti already used' });
  }
  // Every configured name for this issuer and client: one provider session, whichever name signed it in.
  const names = new Set(candidates.filter((p) => p.settings.clientId === provider.settings.clientId).map((p) => p.settings.name));
  let sub = verified.sub !== undefined ? provider.subject(verified.sub) : undefined;
  for (const n of names) if (sub === undefined && verified.sid !== undefined) sub = await deps.store.userOfSession(sidKey(n, verified.sid));
  let ended = 0;
  if (sub !== undefined) {
    for (const s of await deps.sessions.list(sub)) {
      if (!s.idp || !names.has(s.idp.provider) || (verified.sid !== undefined && s.idp.sid !== verified.sid)) continue;
      await deps.sessions.revoke(s.idHash, 'backchannel_logout');
      deps.forget(s.handle);
      ended++;
    }
  }
  deps.observe.backchannel(name, ended > 0 ? 'ended' : 'no_session');
  deps.logger.info({ requestId: ex.requestId, provider: name, sessions: ended }, 'back-channel logout');
  ex.res.writeHead(200, { 'cache-control': 'no-store', 'content-length': '0' });
  ex.res.end();
}

/** The OIDC endpoints for a method and path, or undefined. */
export function oidcEndpoints(deps: OidcEndpointDeps): EndpointLookup {
  return (method, path) => {
    if (path === '/auth/oidc/backchannel-logout') {
      if (method !== 'POST') return { label: path, run: async () => Promise.reject(new GatewayError('method_not_allowed', { headers: { allow: 'POST' } })) };
      return { label: path, run: (ex) => backchannel(ex, deps) };
    }
    const m = NAME.exec(path);
    const provider = m ? deps.providers.get(m[1] as string) : undefined;
    if (!m || !provider) return undefined;
    const label = `/auth/oidc/${provider.settings.name}/${m[2] as string}`;
    if (method !== 'GET' && method !== 'HEAD') return { label, run: async () => Promise.reject(new GatewayError('method_not_allowed', { headers: { allow: 'GET' } })) };
    return { label, run: (ex) => (m[2] === 'start' ? start(ex, deps, provider) : callback(ex, deps, provider)) };
  };
}
