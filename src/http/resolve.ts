// What every request goes through before its route's stages, HTTP and WebSocket alike: limits,
// request-shape checks, target and host normalization, forwarded-for, route match.
import type { BlockList } from 'node:net';
import { GatewayError } from '../errors.js';
import { forwardedInfo } from '../forward/headers.js';
import type { Exchange } from '../pipeline/exchange.js';
import type { CompiledRoute } from '../pipeline/exchange.js';
import { normalizeHost, normalizeTarget } from '../routing/normalize.js';
import type { RouteTable } from '../routing/table.js';
import { checkFraming, checkHeaders, checkQueryOverride, type HeaderLimits } from './request-shape.js';

export interface ResolveDeps {
  /** The active route table; replaced as a whole on reload, so a request keeps the one it started with. */
  readonly routes: { readonly current: RouteTable<CompiledRoute> };
  readonly maxUrlLength: number;
  readonly trustedProxies: BlockList | undefined;
  /** Header count limit and the cookies whose duplicates are refused. */
  readonly headerLimits: HeaderLimits;
}

// Node parses pipelined requests ahead of the answers: once one request on a connection had
// ambiguous framing, whatever follows on that connection is what an attacker smuggled in.
const FRAMING_BROKEN = Symbol('framingBroken');
type MarkedSocket = { [FRAMING_BROKEN]?: true };

/** Checks limits and framing, fills the exchange's path, query and client address; throws GatewayError to refuse. */
export function prepare(deps: ResolveDeps, ex: Exchange): void {
  const req = ex.req;
  const url = req.url ?? '/';
  const socket = req.socket as unknown as MarkedSocket;
  if (socket[FRAMING_BROKEN]) throw new GatewayError('request_smuggling');
  try {
    checkFraming(req);
  } catch (err) {
    socket[FRAMING_BROKEN] = true;
    throw err;
  }
  if (url.length > deps.maxUrlLength) throw new GatewayError('url_too_long');
  checkHeaders(req, deps.headerLimits);
  const target = normalizeTarget(url);
  ex.path = target.path;
  ex.encodedPath = target.encodedPath;
  ex.query = target.query;
  checkQueryOverride(req.method, target.query);
  ex.host = normalizeHost(req.headers.host);
  const fwd = forwardedInfo(req.headers, ex.peerIp, 'encrypted' in req.socket, deps.trustedProxies);
  ex.clientIp = fwd.clientIp;
  ex.trustedPeer = fwd.trusted;
  ex.upstreamHeaders.push(
    'x-forwarded-for',
    fwd.forwardedFor,
    'x-forwarded-proto',
    fwd.proto,
    'x-forwarded-host',
    fwd.host,
    'x-request-id',
    ex.requestId,
  );
}

/** The route for a prepared exchange; throws route_not_found or method_not_allowed. */
export function matchRoute(deps: ResolveDeps, ex: Exchange): CompiledRoute {
  const m = deps.routes.current.match(ex.host, ex.path, ex.req.method ?? 'GET');
  if (m.kind === 'none') throw new GatewayError('route_not_found');
  if (m.kind === 'method_not_allowed') throw new GatewayError('method_not_allowed', { headers: { allow: m.allow } });
  // A backend that ignores case (or trailing dots, or reads compatibility characters as ASCII) would
  // see the path of another route: refuse rather than guess which policy applies.
  if (m.kind === 'ambiguous') throw new GatewayError('ambiguous_path', { detail: `lenient reading selects ${m.lenient?.name ?? 'no route'}` });
  ex.route = m.route;
  return m.route;
}

/** Run the route's stages in order; synchronous stages cost no extra tick. */
export async function runStages(route: CompiledRoute, ex: Exchange): Promise<void> {
  for (const stage of route.stages) {
    const pending = stage(ex);
    if (pending) await pending;
  }
}
