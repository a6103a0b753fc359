// Forward-auth: `/auth/decide` answers an edge proxy (nginx auth_request, Caddy forward_auth,
// Traefik ForwardAuth, Envoy ext_authz) "may this request through, and as whom?". The original
// request is rebuilt from the edge's headers (believed only from trustedProxies) and goes through
// the very steps of proxy mode: admitRequest, matchRoute, the route's stages. Then, instead of
// forwarding, the answer carries what the edge must set on the upstream request:
//   200  the internal token header and identity headers, X-Gateway-Cookie (the Cookie header
//        without the gateway's cookies), for the edge to copy upstream;
//   401  not signed in, with X-Gateway-Sign-In: the sign-in URL for a browser;
//   403  signed in but not allowed (forbidden, csrf_failed), or a header the upstream would trust;
//   503  Redis or an issuer cannot answer: never an allow.
// The edge passes the client's own headers to the upstream, where proxy mode would have dropped
// some: a request carrying one the upstream would believe (an identity header, a method override,
// an underscore spelling, an internal token) is refused here, since it cannot be stripped.
import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.js';
import { isInternalBearer, passes } from '../forward/headers.js';
import { createExchange, type CompiledRoute, type Exchange } from '../pipeline/exchange.js';
import { removeCookies } from '../wire/cookies.js';
import { admitRequest, matchRoute, runStages, type ResolveDeps } from './resolve.js';

export const DECIDE_PATH = '/auth/decide';

export type EdgeKind = 'nginx' | 'caddy' | 'traefik' | 'envoy';

/** Whether a request target is the decision endpoint as written: `/auth/decide`, or Envoy's `/auth/decide/<path>`. */
export function isDecidePath(target: string): boolean {
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  return path === DECIDE_PATH || path.startsWith(`${DECIDE_PATH}/`);
}

/** Headers of any hop (framing, the connection): never the client's word about the request. */
const HOP: readonly string[] = ['host', 'connection', 'keep-alive', 'content-length', 'transfer-encoding', 'te', 'expect', 'upgrade', 'proxy-connection', 'proxy-authorization', 'trailer', 'x-request-id'];

/**
 * What each edge sets on the decision request itself (overwriting a client's copy): read here, not
 * refused. Any other routing or forwarding header in a decision request came from the client (the
 * edges pass the client's headers on), and would reach the upstream too: refused.
 */
const EDGE_SET: Readonly<Record<EdgeKind, ReadonlySet<string>>> = {
  // The documented snippet (ingress-nginx also sends X-Auth-Request-Redirect, an identity-prefix
  // name a client could send too: refused, so ingress-nginx needs the documented snippet instead).
  nginx: new Set([...HOP, 'x-original-url', 'x-original-method', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']),
  caddy: new Set([...HOP, 'x-forwarded-method', 'x-forwarded-uri', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']),
  traefik: new Set([...HOP, 'x-forwarded-method', 'x-forwarded-uri', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-forwarded-server', 'x-real-ip']),
  envoy: new Set([...HOP, 'x-forwarded-for', 'x-forwarded-proto', 'x-envoy-internal', 'x-envoy-expected-rq-timeout-ms', 'x-forwarded-client-cert']),
};

/** Headers of the original request the upstream gets from the edge, set by this answer instead. */
const ANSWERED: ReadonlySet<string> = new Set(['cookie', 'authorization']);

/** The original request, as the edge describes it. `rawPath` is its path exactly as the upstream will get it. */
interface Original {
  readonly method: string;
  readonly uri: string;
  readonly rawPath: string;
  readonly host: string;
  readonly proto: string;
}

function one(v: string | string[] | undefined): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

// An absolute URL split by hand: a WHATWG parse would resolve `..` and `%2e` before the gateway
// decides, while the edge sends the upstream the path as the client wrote it.
const ABSOLUTE = /^(https?):\/\/([^/?#\s]+)(\/[^#\s]*)?$/i;

/**
 * Method, URI, host and scheme from the headers of the configured edge only: nginx's
 * X-Original-URL/-Method (the URL absolute, so host and scheme come with it), Caddy's and Traefik's
 * X-Forwarded-Method/-Uri/-Host/-Proto, Envoy's request itself with the original path after
 * /auth/decide.
 */
function readOriginal(req: IncomingMessage, path: string, edge: EdgeKind): Original {
  const h = req.headers;
  let uri: string | undefined;
  let host: string | undefined;
  let proto: string | undefined;
  let method: string | undefined;
  if (edge === 'nginx') {
    const m = ABSOLUTE.exec(one(h['x-original-url']) ?? '');
    if (!m) throw new GatewayError('bad_request', { detail: 'X-Original-URL must be the absolute URL ($scheme://$http_host$request_uri)' });
    proto = (m[1] as string).toLowerCase();
    host = m[2] as string;
    uri = m[3] ?? '/';
    method = one(h['x-original-method']);
  } else if (edge === 'envoy') {
    if (!path.startsWith(`${DECIDE_PATH}/`)) throw new GatewayError('bad_request', { detail: 'Envoy asks with the original path after /auth/decide' });
    const raw = req.url ?? '';
    uri = raw.slice(DECIDE_PATH.length);
    host = one(h.host);
    proto = one(h['x-forwarded-proto']);
    method = req.method;
  } else {
    uri = one(h['x-forwarded-uri']);
    host = one(h['x-forwarded-host']);
    proto = one(h['x-forwarded-proto']);
    method = one(h['x-forwarded-method']);
  }
  if (uri === undefined || !uri.startsWith('/')) throw new GatewayError('bad_request', { detail: 'no original URI' });
  const m = (method ?? req.method ?? 'GET').toUpperCase();
  if (!/^[A-Z]{1,16}$/.test(m)) throw new GatewayError('bad_request', { detail: 'original method' });
  const q = uri.indexOf('?');
  return { method: m, uri, rawPath: q === -1 ? uri : uri.slice(0, q), host: host ?? '', proto: proto === 'https' ? 'https' : 'http' };
}

/** The original request: the edge's subrequest seen through the original method, URI, Host and scheme. */
function originalRequest(req: IncomingMessage, o: Original): IncomingMessage {
  const headers = { ...req.headers, host: o.host, 'x-forwarded-proto': o.proto, 'x-forwarded-host': o.host };
  return Object.create(req, {
    method: { value: o.method },
    url: { value: o.uri },
    headers: { value: headers },
  }) as IncomingMessage;
}

/** Answer a decision request; `ex` is the edge's own request, already admitted. */
export async function decide(deps: ResolveDeps, ex: Exchange, edge: EdgeKind): Promise<void> {
  if (!ex.trustedPeer) throw new GatewayError('decide_refused');
  const o = readOriginal(ex.req, ex.path, edge);
  const orig = createExchange(originalRequest(ex.req, o), ex.res, ex.startedAt, () => ex.requestId);
  let route;
  try {
    admitRequest(deps, orig);
    // Proxy mode sends the upstream the path it normalized; here the edge sends the client's own.
    // A path that is not already in its normalized form could mean one thing to the gateway and
    // another to the upstream (`/admin/%2e%2e/pub`): refused.
    if (orig.encodedPath !== o.rawPath) throw new GatewayError('bad_path', { detail: 'not in normalized form' });
    route = matchRoute(deps, orig);
    ex.route = route;
    refuseBelievedHeaders(orig, route.headerPolicy, EDGE_SET[edge]);
    await runStages(route, orig);
  } catch (err) {
    throw asDecision(err, o);
  }
  const out: Record<string, string> = { 'cache-control': 'no-store', 'x-request-id': ex.requestId };
  // What the gateway would have added upstream, less what the edge sets itself.
  const added = orig.upstreamHeaders;
  for (let i = 0; i < added.length; i += 2) {
    const name = added[i] as string;
    if (name === 'x-forwarded-for' || name === 'x-forwarded-proto' || name === 'x-forwarded-host' || name === 'x-request-id') continue;
    out[name] = added[i + 1] as string;
  }
  // The upstream never sees the client's Authorization on an authenticated route, nor the
  // gateway's cookies on any: the edge sets both from this answer (empty: removed). A public
  // route keeps the client's own, as in proxy mode.
  if (route.auth === 'public') {
    const own = one(ex.req.headers.authorization);
    out.authorization ??= own !== undefined && !isInternalBearer(own) ? own : '';
  } else out.authorization ??= '';
  // Every identity header any route sets is answered, empty when this route sets none: an edge
  // copying a header the answer lacks may send something of its own (Caddy 2.6 sends its
  // placeholder text) where the client's was removed.
  for (const name of identityNames(deps.routes.current.routes)) out[name] ??= '';
  const cookie = one(ex.req.headers.cookie);
  out['x-gateway-cookie'] = cookie === undefined ? '' : (removeCookies(cookie, route.ownedCookies) ?? '');
  ex.res.writeHead(200, { ...out, 'content-length': '0' });
  ex.res.end();
}

/**
 * Headers the route's policy would drop in proxy mode, which the edge would pass on: an identity
 * header, an underscore spelling, a method or routing override, an internal token.
 */
function refuseBelievedHeaders(ex: Exchange, policy: Parameters<typeof passes>[0], edgeSet: ReadonlySet<string>): void {
  const raw = ex.req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (edgeSet.has(name)) continue;
    if (ANSWERED.has(name)) {
      if (name === 'authorization' && isInternalBearer(raw[i + 1] as string)) throw new GatewayError('header_refused', { detail: 'internal token' });
      continue;
    }
    if (!passes(policy, name, false)) throw new GatewayError('header_refused', { detail: name });
  }
}

/** A refusal as the edge needs it: a sign-in redirect becomes 401 with the URL in X-Gateway-Sign-In. */
function asDecision(err: unknown, o: Original): unknown {
  if (!(err instanceof GatewayError) || err.status !== 302) return err;
  const location = err.headers?.location ?? '/auth/login';
  const absolute = location.startsWith('/') ? `${o.proto}://${o.host}${location}` : location;
  return new GatewayError('unauthenticated', { headers: { 'x-gateway-sign-in': absolute, ...(err.headers?.['www-authenticate'] ? { 'www-authenticate': err.headers['www-authenticate'] } : {}) } });
}

// The identity header names of a route table, worked out once per table (a reload makes a new one).
const IDENTITY_NAMES = new WeakMap<readonly CompiledRoute[], readonly string[]>();
function identityNames(routes: readonly CompiledRoute[]): readonly string[] {
  let names = IDENTITY_NAMES.get(routes);
  if (!names) {
    names = [...new Set(routes.flatMap((r) => Object.keys(r.config.identityHeaders).map((n) => n.toLowerCase())))];
    IDENTITY_NAMES.set(routes, names);
  }
  return names;
}
