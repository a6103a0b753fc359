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
import { createExchange, type Exchange } from '../pipeline/exchange.js';
import { removeCookies } from '../wire/cookies.js';
import { admitRequest, matchRoute, runStages, type ResolveDeps } from './resolve.js';

export const DECIDE_PATH = '/auth/decide';

/** Headers an edge proxy sets on its own (the forwarded request, its hop): read here, never refused. */
const EDGE_SET: ReadonlySet<string> = new Set([
  'host',
  'connection',
  'keep-alive',
  'upgrade',
  'proxy-connection',
  'proxy-authorization',
  'trailer',
  'content-length',
  'transfer-encoding',
  'te',
  'expect',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-uri',
  'x-forwarded-method',
  'x-forwarded-prefix',
  'x-forwarded-server',
  'x-original-url',
  'x-original-uri',
  'x-original-method',
  'x-real-ip',
  'x-request-id',
  'x-envoy-internal',
  'x-envoy-expected-rq-timeout-ms',
]);

/** Headers of the original request the upstream gets from the edge, set by this answer instead. */
const ANSWERED: ReadonlySet<string> = new Set(['cookie', 'authorization']);

/** The original request, as the edge describes it. */
interface Original {
  readonly method: string;
  readonly uri: string;
  readonly host: string;
  readonly proto: string;
}

function one(v: string | string[] | undefined): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * Method, URI, host and scheme from what each edge sends: X-Forwarded-Method/-Uri/-Host/-Proto
 * (Caddy, Traefik, the documented nginx snippet), X-Original-URL/-Method (nginx's usual
 * auth_request set-up, ingress-nginx), or, for Envoy's ext_authz, the request itself with the
 * original path after /auth/decide.
 */
function readOriginal(req: IncomingMessage, path: string): Original {
  const h = req.headers;
  let uri = one(h['x-forwarded-uri']);
  let host = one(h['x-forwarded-host']);
  let proto = one(h['x-forwarded-proto']);
  const originalUrl = one(h['x-original-url']);
  if (uri === undefined && originalUrl !== undefined) {
    if (originalUrl.startsWith('/')) uri = originalUrl;
    else {
      let u: URL;
      try {
        u = new URL(originalUrl);
      } catch {
        throw new GatewayError('bad_request', { detail: 'X-Original-URL is not a URL' });
      }
      uri = u.pathname + u.search;
      host ??= u.host;
      proto ??= u.protocol.slice(0, -1);
    }
  }
  if (uri === undefined && path.startsWith(`${DECIDE_PATH}/`)) {
    const raw = req.url ?? '';
    uri = raw.slice(raw.toLowerCase().indexOf(DECIDE_PATH) + DECIDE_PATH.length);
  }
  if (uri === undefined || !uri.startsWith('/')) throw new GatewayError('bad_request', { detail: 'no original URI (X-Forwarded-Uri or X-Original-URL)' });
  const method = (one(h['x-forwarded-method']) ?? one(h['x-original-method']) ?? req.method ?? 'GET').toUpperCase();
  if (!/^[A-Z]{1,16}$/.test(method)) throw new GatewayError('bad_request', { detail: 'original method' });
  if (proto !== 'http' && proto !== 'https') proto = 'http';
  return { method, uri, host: host ?? one(h.host) ?? '', proto };
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
export async function decide(deps: ResolveDeps, ex: Exchange): Promise<void> {
  if (!ex.trustedPeer) throw new GatewayError('decide_refused');
  const o = readOriginal(ex.req, ex.path);
  const orig = createExchange(originalRequest(ex.req, o), ex.res, ex.startedAt, () => ex.requestId);
  let route;
  try {
    admitRequest(deps, orig);
    route = matchRoute(deps, orig);
    ex.route = route;
    refuseBelievedHeaders(orig, route.headerPolicy);
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
  // gateway's cookies on any: the edge sets both from this answer (empty: removed).
  if (route.auth !== 'public') out.authorization ??= '';
  const cookie = one(ex.req.headers.cookie);
  out['x-gateway-cookie'] = cookie === undefined ? '' : (removeCookies(cookie, route.ownedCookies) ?? '');
  ex.res.writeHead(200, { ...out, 'content-length': '0' });
  ex.res.end();
}

/**
 * Headers the route's policy would drop in proxy mode, which the edge would pass on: an identity
 * header, an underscore spelling, a method or routing override, an internal token.
 */
function refuseBelievedHeaders(ex: Exchange, policy: Parameters<typeof passes>[0]): void {
  const raw = ex.req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (EDGE_SET.has(name)) continue;
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
