// What every request goes through before its route's stages, HTTP and WebSocket alike: limits,
// request-shape checks, target and host normalization, forwarded-for, route match.
import type { IncomingMessage } from 'node:http';
import type { BlockList } from 'node:net';
import { GatewayError } from '../errors.js';
import { forwardedInfo } from '../forward/headers.js';
import type { CompiledRoute, Exchange, Stage } from '../pipeline/exchange.js';
import { normalizeHost, normalizeTarget } from '../routing/normalize.js';
import type { RouteTable } from '../routing/table.js';
import { checkH2Request } from './h2.js';
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

/**
 * What every request goes through before its route is looked up: its shape checked, its target and
 * its client read. Throws GatewayError to refuse.
 */
export function admitRequest(deps: ResolveDeps, ex: Exchange): void {
  refuseBadShape(deps, ex.req);
  readTarget(ex);
  readClient(deps, ex);
}

/** Framing (sticky for the connection), URL length, header count, duplicates and names. */
function refuseBadShape(deps: ResolveDeps, req: IncomingMessage): void {
  if (req.httpVersionMajor === 2) checkH2Request(req);
  const socket = req.socket as unknown as MarkedSocket;
  if (socket[FRAMING_BROKEN]) throw new GatewayError('request_smuggling');
  try {
    checkFraming(req);
  } catch (err) {
    socket[FRAMING_BROKEN] = true;
    throw err;
  }
  if ((req.url ?? '/').length > deps.maxUrlLength) throw new GatewayError('url_too_long');
  checkHeaders(req, deps.headerLimits);
}

/** The normalized path, query and host the route is chosen by; a method override in the query is refused. */
function readTarget(ex: Exchange): void {
  const target = normalizeTarget(ex.req.url ?? '/');
  ex.path = target.path;
  ex.encodedPath = target.encodedPath;
  ex.query = target.query;
  checkQueryOverride(ex.req.method, target.query);
  ex.host = normalizeHost(ex.req.headers.host);
}

/** Who the client is (X-Forwarded-* believed from trusted proxies only), and the forwarded headers the upstream gets. */
function readClient(deps: ResolveDeps, ex: Exchange): void {
  const req = ex.req;
  const fwd = forwardedInfo(req.headers, ex.peerIp, 'encrypted' in req.socket, deps.trustedProxies);
  ex.clientIp = fwd.clientIp;
  ex.trustedPeer = fwd.trusted;
  ex.publicOrigin = `${fwd.proto}://${fwd.host}`;
  ex.upstreamHeaders.push('x-forwarded-for', fwd.forwardedFor, 'x-forwarded-proto', fwd.proto, 'x-forwarded-host', fwd.host, 'x-request-id', ex.requestId);
}

/** The route for an admitted exchange (for `method`, a preflight's requested one); throws route_not_found or method_not_allowed. */
export function matchRoute(deps: ResolveDeps, ex: Exchange, method = ex.req.method ?? 'GET'): CompiledRoute {
  const m = deps.routes.current.match(ex.host, ex.path, method);
  if (m.kind === 'none') throw new GatewayError('route_not_found');
  if (m.kind === 'method_not_allowed') throw new GatewayError('method_not_allowed', { headers: { allow: m.allow } });
  // A backend that ignores case (or trailing dots, or reads compatibility characters as ASCII) would
  // see the path of another route: refuse rather than guess which policy applies.
  if (m.kind === 'ambiguous') throw new GatewayError('ambiguous_path', { detail: `lenient reading selects ${m.lenient?.name ?? 'no route'}` });
  ex.route = m.route;
  return m.route;
}

/**
 * Run the route's stages in order. Synchronous while the stages are (a cache-hit request: no promise
 * at all); from the first stage that returns a promise, the rest run after it.
 */
export function runStages(route: CompiledRoute, ex: Exchange): void | Promise<void> {
  const stages = route.stages;
  for (let i = 0; i < stages.length; i++) {
    const pending = (stages[i] as Stage)(ex);
    if (pending) return runAfter(stages, i + 1, ex, pending);
  }
}

async function runAfter(stages: readonly Stage[], from: number, ex: Exchange, pending: Promise<void>): Promise<void> {
  await pending;
  for (let i = from; i < stages.length; i++) {
    const next = (stages[i] as Stage)(ex);
    if (next) await next;
  }
}
