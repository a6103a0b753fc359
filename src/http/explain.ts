// `gateway explain` and the admin listener's POST /explain: what the gateway would do with one
// request, and why. The request is a real IncomingMessage on an unconnected socket, and it goes
// through the very steps of proxy mode, in handler.ts's order: admitRequest (shape checks,
// normalization, client), the gateway's own endpoints, matchRoute, the route's stages
// (authenticate, authorize, CSRF, identity headers, mint). Only the forwarding is left out. What
// the report says about each step is read from the same code: normalization's own trace
// (routing/normalize.ts explainTarget), the route table's walk (routing/table.ts explain), the
// route's header policy (forward/headers.ts), and the stages' answer. The internal token is
// decoded for its claims; it, the session cookie and a bearer token are never in the report.
import { randomUUID } from 'node:crypto';
import { IncomingMessage, METHODS, ServerResponse, validateHeaderName, validateHeaderValue } from 'node:http';
import { Socket } from 'node:net';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { CLIENT_ADDRESS_HEADERS, ROUTING_HEADERS } from '../config/header-names.js';
import type { PolicyConfig } from '../config/policy-schema.js';
import { ERRORS, GatewayError } from '../errors.js';
import { cgiSpelling, connectionNamed, filterRequestHeaders, GATEWAY_SET, HOP_BY_HOP, isInternalBearer, passes } from '../forward/headers.js';
import { upstreamPath } from '../forward/proxy.js';
import { describePolicy } from '../pipeline/authz/describe.js';
import { createExchange, type CompiledRoute, type Exchange } from '../pipeline/exchange.js';
import { fold, needsFold } from '../routing/fold.js';
import { explainTarget, normalizeHost, type NormalizeStep } from '../routing/normalize.js';
import type { TableExplanation } from '../routing/table.js';
import { DECIDE_PATH, isDecidePath } from './decide.js';
import type { EndpointLookup } from './handler.js';
import { admitRequest, matchRoute, runStages, type ResolveDeps } from './resolve.js';

/** The address an explained request comes from: a documentation address (RFC 5737), never a trusted proxy. */
export const EXPLAIN_CLIENT = '192.0.2.1';

/** How the gateway authenticates, from gateway.yaml: what the report says would be tried. */
export interface AuthSummary {
  /** The cookie session routes read (session.cookie.name, or express-session's cookieName). */
  readonly sessionCookie: string;
  /** Where that cookie's sessions are looked up. */
  readonly sessionStore: 'redis' | 'memory' | 'express-session';
  /** tokens.issuer and accessTokens.audience: the gateway's own access tokens. */
  readonly ownIssuer: string;
  readonly ownAudience: string;
  /** issuers[].issuer: other issuers whose bearer JWTs are accepted. */
  readonly issuers: readonly string[];
  /** login.redirect: where browsers go to sign in. */
  readonly loginRedirect: string | undefined;
  /** publicOrigins: Origin values CSRF checks accept (besides the gateway's own origin). */
  readonly allowedOrigins: readonly string[];
}

export interface ExplainDeps extends ResolveDeps {
  /** The gateway's own endpoints, which answer before any route. */
  readonly endpoints: EndpointLookup;
  /** handler.ts's forwardAuth: when set (truthy), /auth/decide answers before any route. */
  readonly forwardAuth?: unknown;
  readonly auth: AuthSummary;
}

/** The request to explain. */
export interface ExplainInput {
  readonly method: string;
  /** `http://host/path?query`, `https://...`, or an origin-form `/path?query` (Host from the headers). */
  readonly url: string;
  /** Header lines, in order, as a client would send them. */
  readonly headers?: readonly (readonly [string, string])[] | undefined;
  /** The value of the session cookie (sent as `<session cookie>=<value>`). Never printed. */
  readonly cookie?: string | undefined;
  /** A bearer token (sent as `Authorization: Bearer <token>`). Never printed. */
  readonly bearer?: string | undefined;
}

/** The input cannot be made into a request (a bad method, URL or header line). */
export class ExplainInputError extends Error {
  override readonly name = 'ExplainInputError';
}

export type DecisionResult = 'allowed' | 'unauthenticated' | 'forbidden' | 'unavailable' | 'refused' | 'answered_by_gateway' | 'error';

export interface Decision {
  /** allowed: forwarded upstream; answered_by_gateway: one of the gateway's endpoints (or a CORS preflight) answers. */
  readonly result: DecisionResult;
  /** What proxy mode answers (302 for a browser sent to sign in); absent when forwarded. */
  readonly status?: number;
  /** The stable error code (docs/errors.md). */
  readonly code?: string;
  readonly message?: string;
  /** A policy's reason word (role, claim, scope...). */
  readonly reason?: string;
  /** What the refusing check said (for operators; clients only see the code). */
  readonly detail?: string;
  /** Where a browser is sent to sign in (the Location of the 302). */
  readonly signIn?: string;
  readonly wwwAuthenticate?: string;
  readonly allow?: string;
  readonly retryAfter?: string;
  /** The step that answered: admission, endpoint, route, stages. */
  readonly at: 'admission' | 'endpoint' | 'route' | 'stages';
}

export interface ExplainReport {
  readonly request: {
    readonly method: string;
    readonly url: string;
    readonly scheme: 'http' | 'https';
    /** The request-target as sent. */
    readonly target: string;
    /** The client address the request is explained from (an untrusted client). */
    readonly client: string;
    /** The header names sent, in order (values are not repeated: they may be credentials). */
    readonly headers: readonly string[];
    /** Whether a session cookie and a bearer token were given (never their values). */
    readonly cookie: boolean;
    readonly bearer: boolean;
    readonly requestId: string;
  };
  readonly normalization: {
    readonly target: string;
    readonly steps: readonly NormalizeStep[];
    readonly path?: string;
    /** What the upstream receives (before stripPrefix). */
    readonly encodedPath?: string;
    /** Passed upstream untouched; never used to route. */
    readonly query?: string;
    /** The path as caseInsensitive routes and the lenient check compare it, when it differs. */
    readonly folded?: string;
    readonly host: { readonly header: string | undefined; readonly normalized?: string; readonly refused?: string };
    readonly refused?: { readonly code: string; readonly detail: string; readonly segment?: string };
  };
  readonly route?: RouteReport;
  readonly policy?: { readonly auth: string; readonly require: PolicyConfig | null; readonly words: readonly string[] };
  readonly authentication?: {
    readonly mode: string;
    readonly tried: readonly { readonly credential: 'bearer' | 'session_cookie' | 'express_session'; readonly words: string }[];
    readonly unauthenticated: string;
    /** Where browsers asking for a page go when not signed in (undefined: always 401). */
    readonly signIn?: string;
    readonly words: readonly string[];
    /** Who the request authenticated as, when it did. */
    readonly principal?: { readonly sub: string; readonly via: string; readonly issuer?: string };
  };
  readonly csrf?: { readonly mode: boolean | 'token'; readonly websocket: boolean; readonly appliesHere: boolean; readonly words: string };
  readonly headers?: {
    readonly dropped: readonly { readonly name: string; readonly reason: string }[];
    /** The gateway's cookies removed from Cookie (names only). */
    readonly cookiesRemoved: readonly string[];
    /** The client's header lines that go upstream (credentials shown by name or scheme only). */
    readonly forwarded: readonly { readonly name: string; readonly value: string }[];
    /** What the gateway adds, in the order it adds them. */
    readonly added: readonly { readonly name: string; readonly value: string; readonly source: string }[];
  };
  readonly decision: Decision;
  /** The internal token that would be minted: its header and claims, never the token. */
  readonly token?: { readonly header: string; readonly alg?: string; readonly kid?: string; readonly typ?: string; readonly claims: Record<string, unknown> };
  readonly notes: readonly string[];
}

export interface RouteReport {
  readonly result: 'route' | 'none' | 'method_not_allowed' | 'ambiguous' | 'endpoint';
  readonly name?: string;
  /** Why, in words. */
  readonly reason: string;
  readonly host?: string;
  readonly path?: string;
  readonly method?: string;
  readonly allow?: string;
  /** The lenient reading (case, trailing dots, compatibility characters ignored): compared, and what it selects. */
  readonly lenient?: { readonly checked: boolean; readonly route?: string | null };
  /** The host tables that apply, most specific first, and the routes at each level of the path. */
  readonly tiers?: readonly {
    readonly tier: string;
    readonly host: string | null;
    readonly consulted: boolean;
    readonly decided: boolean;
    readonly levels: readonly {
      readonly prefix: string;
      readonly routes: readonly { readonly name: string; readonly methods: readonly string[] | null; readonly caseInsensitive: boolean; readonly takesMethod: boolean }[];
    }[];
  }[];
  readonly endpoint?: string;
  readonly upstream?: { readonly targets: readonly string[]; readonly url: string; readonly host: string; readonly stripPrefix: boolean };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const UNSAFE = (m: string) => !['GET', 'HEAD', 'OPTIONS', 'TRACE'].includes(m);

/** The request as Node's parser would hand it over: a real IncomingMessage, on a socket that never connects. */
function syntheticRequest(input: ExplainInput, auth: AuthSummary): { req: IncomingMessage; socket: Socket; target: string; scheme: 'http' | 'https' } {
  const method = input.method.toUpperCase();
  if (!METHODS.includes(method)) throw new ExplainInputError(`"${input.method}" is not an HTTP method Node accepts`);
  let scheme: 'http' | 'https' = 'http';
  let authority: string | undefined;
  let target: string;
  // The target is taken as written: WHATWG URL parsing would already resolve "..", "%2e" and "\".
  const abs = /^(https?):\/\/([^/?#\\]*)(.*)$/i.exec(input.url);
  if (abs) {
    scheme = (abs[1] as string).toLowerCase() as 'http' | 'https';
    authority = abs[2] as string;
    target = abs[3] as string;
    if (authority.includes('@')) throw new ExplainInputError('the URL must not carry credentials');
    if (authority === '') throw new ExplainInputError('the URL names no host');
    if (target === '' || target.startsWith('?')) target = `/${target}`;
  } else if (input.url.startsWith('/')) {
    target = input.url;
  } else {
    throw new ExplainInputError('the URL must be absolute (http://host/path) or a path (/path)');
  }
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f]/.test(target)) throw new ExplainInputError('the request-target holds a space or control character (Node refuses it before the gateway sees it)');
  const raw: string[] = [];
  const lines = input.headers ?? [];
  if (authority !== undefined && !lines.some(([n]) => n.toLowerCase() === 'host')) raw.push('Host', authority);
  const push = (name: string, value: string) => {
    try {
      validateHeaderName(name);
      validateHeaderValue(name, value);
    } catch (err) {
      throw new ExplainInputError(`header ${JSON.stringify(name)}: ${(err as Error).message}`);
    }
    raw.push(name, value);
  };
  for (const [name, value] of lines) push(name, value);
  if (input.cookie !== undefined) {
    // The value alone, or `name=value` as copied from a browser.
    const value = input.cookie.startsWith(`${auth.sessionCookie}=`) ? input.cookie.slice(auth.sessionCookie.length + 1) : input.cookie;
    push('Cookie', `${auth.sessionCookie}=${value}`);
  }
  if (input.bearer !== undefined) push('Authorization', `Bearer ${input.bearer}`);

  const socket = new Socket();
  Object.defineProperty(socket, 'remoteAddress', { value: EXPLAIN_CLIENT });
  // What the gateway reads of a TLS connection ("encrypted" in the socket): the scheme.
  if (scheme === 'https') Object.defineProperty(socket, 'encrypted', { value: true });
  const req = new IncomingMessage(socket);
  req.method = method;
  req.url = target;
  req.httpVersion = '1.1';
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  // Node's own header folding (duplicates joined, the first Host kept, cookies joined with "; ").
  const parsed = req as unknown as { _addHeaderLines?: (headers: string[], n: number) => void };
  if (typeof parsed._addHeaderLines === 'function') parsed._addHeaderLines(raw, raw.length);
  else {
    req.rawHeaders = raw;
    const headers: Record<string, string> = {};
    for (let i = 0; i < raw.length; i += 2) {
      const name = (raw[i] as string).toLowerCase();
      const value = raw[i + 1] as string;
      if (headers[name] === undefined) headers[name] = value;
      else if (name === 'cookie') headers[name] += `; ${value}`;
      else if (name !== 'host' && name !== 'authorization') headers[name] += `, ${value}`;
    }
    req.headers = headers;
  }
  req.complete = true;
  req.push(null);
  return { req, socket, target, scheme };
}

/** What a refusal (a GatewayError, or a bug) means as a decision. */
function decisionOf(err: unknown, at: Decision['at']): Decision {
  if (!(err instanceof GatewayError)) {
    return { result: 'error', status: 500, code: 'internal_error', message: ERRORS.internal_error.message, detail: err instanceof Error ? err.message : String(err), at };
  }
  const base = ERRORS[err.code].status;
  const result: DecisionResult = base === 401 ? 'unauthenticated' : base === 403 ? 'forbidden' : base === 503 ? 'unavailable' : base >= 500 ? 'error' : 'refused';
  const h = err.headers ?? {};
  return {
    result,
    status: err.status,
    code: err.code,
    message: err.publicMessage,
    ...(err.reason !== undefined ? { reason: err.reason } : {}),
    ...(err.message !== err.publicMessage ? { detail: err.message } : {}),
    ...(err.status === 302 && h.location !== undefined ? { signIn: h.location } : {}),
    ...(h['www-authenticate'] !== undefined ? { wwwAuthenticate: h['www-authenticate'] } : {}),
    ...(h.allow !== undefined ? { allow: h.allow } : {}),
    ...(h['retry-after'] !== undefined ? { retryAfter: h['retry-after'] } : {}),
    at,
  };
}

function normalizationOf(target: string, hostHeader: string | undefined): Mutable<ExplainReport['normalization']> & { steps: NormalizeStep[] } {
  const t = explainTarget(target);
  let host: ExplainReport['normalization']['host'];
  try {
    host = { header: hostHeader, normalized: normalizeHost(hostHeader) };
  } catch (err) {
    host = { header: hostHeader, refused: err instanceof GatewayError ? err.code : String(err) };
  }
  const out: Mutable<ExplainReport['normalization']> & { steps: NormalizeStep[] } = { target, steps: [...t.steps], host };
  if (t.result) {
    out.path = t.result.path;
    out.encodedPath = t.result.encodedPath;
    out.query = t.result.query;
    if (needsFold(t.result.path) && fold(t.result.path) !== t.result.path) out.folded = fold(t.result.path);
  }
  if (t.refused) out.refused = t.refused.segment === undefined ? { code: t.refused.code, detail: t.refused.detail } : { ...t.refused };
  return out;
}

export function hostWords(tier: string, host: string | undefined): string {
  return tier === 'exact' ? `routes for host ${host}` : tier === 'wildcard' ? `routes for ${host}` : 'routes for any host';
}

function routeReportOf(explained: TableExplanation<CompiledRoute>, host: string, path: string, method: string): RouteReport {
  const tiers = explained.tiers.map((t) => ({
    tier: t.tier,
    host: t.host ?? null,
    consulted: t.consulted,
    decided: t.decided,
    levels: t.levels.map((l) => ({
      prefix: l.prefix,
      routes: l.routes.map(({ route, folded }) => ({
        name: route.name,
        methods: route.methods ? [...route.methods].sort() : null,
        caseInsensitive: folded,
        takesMethod: route.methods === null || route.methods.has(method),
      })),
    })),
  }));
  const decided = explained.tiers.find((t) => t.decided);
  const level = decided?.levels[0];
  const skipped = explained.tiers.filter((t) => t.consulted && !t.decided).map((t) => hostWords(t.tier, t.host));
  const where = decided
    ? `${hostWords(decided.tier, decided.host)}${skipped.length > 0 ? ` (${skipped.join(', ')}: none for this path)` : ''}`
    : '';
  const shorter = (decided?.levels.slice(1) ?? []).map((l) => `${l.prefix} (${l.routes.map((r) => r.route.name).join(', ')})`);
  const longest = level ? `longest prefix ${level.prefix}${shorter.length > 0 ? `, before ${shorter.join(', ')}` : ''}` : '';
  const base = { host, path, method, tiers, lenient: { checked: explained.lenientChecked } };
  const r = explained.result;
  switch (r.kind) {
    case 'route': {
      const folded = level?.routes.find((x) => x.route === r.route)?.folded === true;
      return {
        result: 'route',
        name: r.route.name,
        reason: `${where}; ${longest}; the first route there that takes ${method}: ${r.route.name}${folded ? ` (caseInsensitive: matched as ${explained.foldedPath})` : ''}${explained.lenientChecked ? '; the lenient reading selects the same route' : ''}`,
        ...base,
        lenient: { checked: explained.lenientChecked, ...(explained.lenientChecked ? { route: r.route.name } : {}) },
      };
    }
    case 'method_not_allowed':
      return {
        result: 'method_not_allowed',
        reason: `${where}; ${longest}; no route there takes ${method}: 405 with Allow: ${r.allow} (a shorter prefix or a less specific host is never tried)`,
        allow: r.allow,
        ...base,
      };
    case 'ambiguous':
      return {
        result: 'ambiguous',
        name: r.route.name,
        reason: `the exact path selects ${r.route.name}, but a backend that ignores case, trailing dots or compatibility characters reads it as ${explained.foldedPath}, which selects ${r.lenient?.name ?? 'no route'}: refused (400 ambiguous_path) rather than guessing which policy applies`,
        ...base,
        lenient: { checked: true, route: r.lenient?.name ?? null },
      };
    default:
      return { result: 'none', reason: `no route's prefix covers ${path} for host ${host === '' ? '(none)' : host} (${explained.tiers.map((t) => hostWords(t.tier, t.host)).join(', ')}): 404`, ...base };
  }
}

function policyOf(route: CompiledRoute): NonNullable<ExplainReport['policy']> {
  const c = route.config;
  if (c.auth === 'public') return { auth: c.auth, require: null, words: ['public: anyone, no authentication (the request is forwarded after header hygiene)'] };
  if (!c.require) return { auth: c.auth, require: null, words: ['anyone authenticated (no require)'] };
  return { auth: c.auth, require: c.require, words: ['allowed when every one of these holds:', ...describePolicy(c.require)] };
}

/** Where a browser goes when not signed in: the authenticate stage's own rule (pipeline/route.ts compileStages). */
function signInOf(route: CompiledRoute, auth: AuthSummary): string | undefined {
  const c = route.config;
  if (c.auth === 'bearer' || c.unauthenticated === 'deny') return undefined;
  return c.signIn ? `/auth/oidc/${c.signIn}/start` : auth.loginRedirect;
}

function authenticationOf(route: CompiledRoute, auth: AuthSummary, ex: Exchange): NonNullable<ExplainReport['authentication']> {
  const c = route.config;
  const bearer = {
    credential: 'bearer' as const,
    words: `Authorization: Bearer <JWT>: the gateway's own access tokens (iss ${auth.ownIssuer}, aud ${auth.ownAudience})${auth.issuers.length > 0 ? `, or tokens of ${auth.issuers.join(', ')} (verified with their cached JWKS)` : ''}; another issuer is refused`,
  };
  const cookie =
    auth.sessionStore === 'express-session'
      ? { credential: 'express_session' as const, words: `the Express app's signed ${auth.sessionCookie} cookie, its session read from Redis` }
      : { credential: 'session_cookie' as const, words: `the session cookie ${auth.sessionCookie}, looked up in ${auth.sessionStore === 'redis' ? 'Redis (503 when Redis cannot answer)' : 'this process\'s memory store'}` };
  const tried = c.auth === 'public' ? [] : c.auth === 'session' ? [cookie] : c.auth === 'bearer' ? [bearer] : [bearer, cookie];
  const signIn = signInOf(route, auth);
  const words: string[] = [];
  if (c.auth === 'public') words.push('none: a public route authenticates nobody');
  else {
    words.push(`tried in order: ${tried.map((t) => t.credential).join(', then ')}; the first credential present decides, and a wrong one is refused (401), never passed over`);
    if (signIn === undefined) words.push('not authenticated: 401 with WWW-Authenticate, never a redirect');
    else if (c.unauthenticated === 'redirect') words.push(`not authenticated: every GET and HEAD is redirected (302) to ${signIn}, other methods get 401`);
    else words.push(`not authenticated: a browser asking for a page (GET or HEAD, Accept: text/html) is redirected (302) to ${signIn}; anything else gets 401`);
  }
  const p = ex.principal;
  return {
    mode: c.auth,
    tried,
    unauthenticated: c.unauthenticated,
    ...(signIn !== undefined ? { signIn } : {}),
    words,
    ...(p ? { principal: { sub: p.sub, via: p.via, ...(p.issuer !== undefined ? { issuer: p.issuer } : {}) } } : {}),
  };
}

function csrfOf(route: CompiledRoute, auth: AuthSummary, ex: Exchange): NonNullable<ExplainReport['csrf']> {
  const c = route.config;
  const method = ex.req.method ?? 'GET';
  const origins = [...auth.allowedOrigins, 'the origin the request addressed'].join(', ');
  let words: string;
  if (c.auth === 'public') words = 'none: a public route has no session to protect';
  else if (c.csrf === false) words = `off for requests${c.websocket ? '; a cookie-authenticated WebSocket upgrade still needs an allowed Origin' : ''}`;
  else {
    words = `a cookie-authenticated POST, PUT, PATCH or DELETE must come from an allowed origin (Sec-Fetch-Site same-origin or none; Origin or Referer one of ${origins})${c.csrf === 'token' ? ', and carry X-CSRF-Token equal to the session\'s token (GET /auth/csrf)' : ''}; bearer requests carry no ambient credential and skip it`;
  }
  const applies = c.auth !== 'public' && c.csrf !== false && ex.principal?.via === 'session' && UNSAFE(method);
  return { mode: c.csrf, websocket: c.websocket, appliesHere: applies, words };
}


/** Why the route's header policy drops a header it drops (passes() said so; this names the list it is on). */
function dropReason(route: CompiledRoute, name: string): string {
  const c = route.config;
  const spelt = cgiSpelling(name);
  if (spelt !== undefined && !route.headerPolicy.keepUnderscores) {
    return `its name holds "_" or other punctuation: CGI-style servers (WSGI, Rack, PHP) would read it as ${spelt} (keepUnderscoreHeaders: false)`;
  }
  const key = spelt ?? name;
  if (HOP_BY_HOP.includes(key)) return 'hop-by-hop (RFC 9110 §7.6.1): for this connection only';
  if (key === 'host') return "the upstream gets the Host the route says (see added)";
  if (GATEWAY_SET.includes(key)) return 'the gateway sets it itself';
  if ((ROUTING_HEADERS as readonly string[]).includes(key)) return 'a backend would route, rewrite or change the method by it (passed only from trustedProxies listed in trustedProxyHeaders)';
  if ((CLIENT_ADDRESS_HEADERS as readonly string[]).includes(key)) return 'a client address a backend might believe (passed only from trustedProxies listed in trustedProxyHeaders)';
  if (c.auth !== 'public' && key === 'authorization') return "the client's own credential: never forwarded on an authenticated route";
  if (c.auth !== 'public' && key === c.token.header) return "the route's internal-token header: only the gateway sets it";
  const lower = (names: Iterable<string>) => [...names].map((n) => n.toLowerCase());
  if (lower(Object.keys(c.identityHeaders)).includes(key)) return "one of the route's identity headers: only the gateway fills it";
  if (lower(Object.keys(c.headers.request.set)).includes(key)) return 'headers.request.set replaces it';
  if (lower(c.headers.request.remove).includes(key)) return 'headers.request.remove drops it';
  return 'an identity or internal-token header (identityHeaders): a client must never say who it is';
}

/** Cookie names only: `a=…; b=…`. */
function cookieNames(value: string): string[] {
  return value
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((p) => (p.includes('=') ? p.slice(0, p.indexOf('=')).trim() : p));
}

/** A header value as the report may show it: credentials by name or scheme only. */
function shownValue(name: string, value: string, route: CompiledRoute): string {
  if (name === 'cookie') return cookieNames(value).map((n) => `${n}=…`).join('; ');
  if (name === 'authorization' || name === 'proxy-authorization' || name === route.config.token.header) return `${value.split(' ')[0] ?? ''} … (not shown)`;
  return value;
}

function headersOf(route: CompiledRoute, ex: Exchange): NonNullable<ExplainReport['headers']> {
  const req = ex.req;
  const raw = req.rawHeaders;
  const named = connectionNamed(req.headers.connection);
  const dropped: { name: string; reason: string }[] = [];
  const cookiesRemoved: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const sent = raw[i] as string;
    const name = sent.toLowerCase();
    const value = raw[i + 1] as string;
    if (!passes(route.headerPolicy, name, ex.trustedPeer)) dropped.push({ name: sent, reason: dropReason(route, name) });
    else if (named?.has(name)) dropped.push({ name: sent, reason: 'named in Connection: hop-by-hop for this message' });
    else if (name === 'authorization' && isInternalBearer(value)) dropped.push({ name: sent, reason: "one of the gateway's internal tokens: never accepted from a client" });
    else if (name === 'cookie') {
      const owned = cookieNames(value).filter((n) => route.ownedCookies.includes(n));
      cookiesRemoved.push(...owned);
      if (owned.length > 0 && cookieNames(value).every((n) => route.ownedCookies.includes(n))) dropped.push({ name: sent, reason: `holds only the gateway's own cookies (${owned.join(', ')}): removed` });
    }
  }
  // What goes upstream is forward/headers.ts's own answer, not a re-reading of it.
  const out: string[] = [];
  filterRequestHeaders(req, route.headerPolicy, out, route.ownedCookies, ex.trustedPeer);
  const forwarded: { name: string; value: string }[] = [];
  for (let i = 0; i < out.length; i += 2) forwarded.push({ name: out[i] as string, value: shownValue(out[i] as string, out[i + 1] as string, route) });

  const c = route.config;
  const target = route.upstream.targets[0];
  const added: { name: string; value: string; source: string }[] = [];
  if (target) {
    const host = route.preserveHost ? (req.headers.host ?? target.host) : (route.hostOverride ?? target.host);
    added.push({ name: 'host', value: host, source: route.preserveHost ? 'upstream.preserveHost: the client\'s' : route.hostOverride ? 'upstream.host' : 'the upstream URL' });
  }
  // Configured values may come from the environment (an upstream's API key in ${ENV}): named, never shown.
  for (let i = 0; i < route.requestHeaders.length; i += 2) added.push({ name: route.requestHeaders[i] as string, value: '<configured value, not shown>', source: 'headers.request.set' });
  const identity = new Set(Object.keys(c.identityHeaders).map((n) => n.toLowerCase()));
  const up = ex.upstreamHeaders;
  for (let i = 0; i < up.length; i += 2) {
    const name = up[i] as string;
    const value = up[i + 1] as string;
    if (c.auth !== 'public' && c.token.send && name === c.token.header) added.push({ name, value: name === 'authorization' ? 'Bearer <the internal token: not shown, its claims are under token>' : '<the internal token: not shown, its claims are under token>', source: 'the internal token (token)' });
    else if (identity.has(name)) added.push({ name, value, source: `identityHeaders (${JSON.stringify(identityFrom(c.identityHeaders, name))})` });
    else added.push({ name, value, source: name === 'x-request-id' ? 'the request id' : 'the gateway (X-Forwarded-*: from the connection, or believed from a trusted proxy)' });
  }
  return { dropped, cookiesRemoved, forwarded, added };
}

function identityFrom(headers: CompiledRoute['config']['identityHeaders'], lowerName: string): string {
  const entry = Object.entries(headers).find(([n]) => n.toLowerCase() === lowerName)?.[1];
  return entry === undefined ? '' : typeof entry === 'string' ? entry : entry.from;
}

/** The minted token's header and claims, read from the header the mint stage added. */
function tokenOf(route: CompiledRoute, ex: Exchange): { report: NonNullable<ExplainReport['token']>; token: string } | undefined {
  const c = route.config;
  if (c.auth === 'public' || !c.token.send) return undefined;
  const up = ex.upstreamHeaders;
  for (let i = 0; i < up.length; i += 2) {
    if (up[i] !== c.token.header) continue;
    const value = up[i + 1] as string;
    const token = c.token.header === 'authorization' ? value.replace(/^Bearer /, '') : value;
    const header = decodeProtectedHeader(token);
    return {
      token,
      report: {
        header: c.token.header,
        ...(typeof header.alg === 'string' ? { alg: header.alg } : {}),
        ...(typeof header.kid === 'string' ? { kid: header.kid } : {}),
        ...(typeof header.typ === 'string' ? { typ: header.typ } : {}),
        claims: { ...decodeJwt(token) },
      },
    };
  }
  return undefined;
}

/** Every string of the report with a secret in it is replaced: a second line behind never putting one there. */
function scrub<T>(value: T, secrets: readonly string[]): T {
  if (secrets.length === 0) return value;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return secrets.some((s) => v.includes(s)) ? '[redacted]' : v;
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}

/** What the gateway would do with the request, and why. Throws ExplainInputError for input that is no request. */
export async function explainRequest(deps: ExplainDeps, input: ExplainInput): Promise<ExplainReport> {
  const { req, socket, target, scheme } = syntheticRequest(input, deps.auth);
  const cookieValue = input.cookie?.startsWith(`${deps.auth.sessionCookie}=`) ? input.cookie.slice(deps.auth.sessionCookie.length + 1) : input.cookie;
  const secrets = [cookieValue, input.bearer].filter((s): s is string => s !== undefined && s.length >= 6);
  try {
    const res = new ServerResponse(req);
    const ex = createExchange(req, res, performance.now(), randomUUID);
    const method = req.method as string;
    const notes: string[] = [];
    if (req.headers.upgrade !== undefined) {
      notes.push('explained as a plain HTTP request: a WebSocket upgrade takes the upgrade path (http/server.ts), which also refuses gateway endpoints and routes without websocket: true, and checks the Origin of every cookie-authenticated upgrade');
    }
    if (deps.auth.sessionStore === 'memory' && input.cookie !== undefined) {
      notes.push('session.store is memory: this process holds no sessions of a running gateway; ask the running instance (POST /explain on its admin listener)');
    }
    const normalization = normalizationOf(target, req.headers.host);
    const report: Mutable<ExplainReport> = {
      request: {
        method,
        url: input.url,
        scheme,
        target,
        client: EXPLAIN_CLIENT,
        headers: req.rawHeaders.filter((_, i) => i % 2 === 0),
        cookie: input.cookie !== undefined,
        bearer: input.bearer !== undefined,
        requestId: ex.requestId,
      },
      normalization,
      decision: { result: 'error', at: 'admission' },
      notes,
    };
    const done = () => scrub(report as ExplainReport, secrets);

    // http/handler.ts's steps, in its order.
    try {
      admitRequest(deps, ex);
    } catch (err) {
      report.decision = decisionOf(err, 'admission');
      return done();
    }
    if (deps.forwardAuth && isDecidePath(req.url ?? '')) {
      report.route = { result: 'endpoint', endpoint: DECIDE_PATH, reason: 'the forward-auth endpoint answers this path itself, before any route' };
      report.decision = { result: 'answered_by_gateway', detail: `the gateway's ${DECIDE_PATH} endpoint answers`, at: 'endpoint' };
      return done();
    }
    const endpoint = deps.endpoints(method, ex.path);
    if (endpoint) {
      report.route = { result: 'endpoint', endpoint: endpoint.label, reason: `the gateway's own endpoint ${endpoint.label} answers ${method} ${ex.path} itself, before any route` };
      report.decision = { result: 'answered_by_gateway', detail: `the gateway's ${endpoint.label} endpoint answers`, at: 'endpoint' };
      return done();
    }
    const table = deps.routes.current;
    const origin = req.headers.origin;
    const asked = req.headers['access-control-request-method'];
    if (method === 'OPTIONS' && origin !== undefined && typeof asked === 'string') {
      // A CORS preflight is matched with the method it asks about.
      report.route = routeReportOf(table.explain(ex.host, ex.path, asked), ex.host, ex.path, asked);
      let preflight: CompiledRoute;
      try {
        preflight = matchRoute(deps, ex, asked);
      } catch (err) {
        report.decision = decisionOf(err, 'route');
        return done();
      }
      if (preflight.cors) {
        report.decision = { result: 'answered_by_gateway', detail: `a CORS preflight for ${asked}: route ${preflight.name} has cors, so the gateway answers it`, at: 'endpoint' };
        return done();
      }
    }
    const routeReport: Mutable<RouteReport> = routeReportOf(table.explain(ex.host, ex.path, method), ex.host, ex.path, method);
    report.route = routeReport;
    let route: CompiledRoute;
    try {
      route = matchRoute(deps, ex);
    } catch (err) {
      report.decision = decisionOf(err, 'route');
      return done();
    }
    const level = routeReport.tiers?.find((t) => t.decided)?.levels[0]?.routes.find((r) => r.name === route.name);
    if (level?.caseInsensitive && normalization.path !== undefined) {
      normalization.steps.push({
        step: 'case_fold',
        detail: `route ${route.name} is caseInsensitive: the path is compared ignoring case, trailing dots and compatibility characters (routing/fold.ts); the upstream still gets it as it is`,
        path: fold(normalization.path),
      });
    }
    const first = route.upstream.targets[0];
    if (first) {
      routeReport.upstream = {
        targets: route.upstream.targets.map((t) => t.origin + t.basePath),
        url: first.origin + upstreamPath(route, first, ex),
        host: route.preserveHost ? (req.headers.host ?? first.host) : (route.hostOverride ?? first.host),
        stripPrefix: route.stripPrefix,
      };
    }
    report.policy = policyOf(route);
    let minted: string | undefined;
    try {
      await runStages(route, ex);
      const token = tokenOf(route, ex);
      if (token) {
        minted = token.token;
        report.token = token.report;
      }
      report.decision = {
        result: 'allowed',
        detail: ex.principal ? `forwarded upstream as ${ex.principal.sub} (via ${ex.principal.via})` : 'forwarded upstream (public route)',
        at: 'stages',
      };
    } catch (err) {
      report.decision = decisionOf(err, 'stages');
    }
    report.authentication = authenticationOf(route, deps.auth, ex);
    report.csrf = csrfOf(route, deps.auth, ex);
    report.headers = headersOf(route, ex);
    if (report.decision.result !== 'allowed' && route.config.auth !== 'public') notes.push('identity headers and the internal token are added only to allowed requests');
    return scrub(report as ExplainReport, minted === undefined ? secrets : [...secrets, minted]);
  } finally {
    req.destroy();
    socket.destroy();
  }
}

// ---- For people: the report as text. ----
