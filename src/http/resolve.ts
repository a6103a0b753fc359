// What every request goes through before its route's stages, HTTP and WebSocket alike: limits,
// framing checks, target and host normalization, forwarded-for, route match.
import type { BlockList } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.js';
import { forwardedInfo } from '../forward/headers.js';
import type { Exchange } from '../pipeline/exchange.js';
import type { CompiledRoute } from '../pipeline/route.js';
import { normalizeHost, normalizeTarget } from '../routing/normalize.js';
import type { RouteTable } from '../routing/table.js';

export interface ResolveDeps {
  /** The active route table; replaced as a whole on reload, so a request keeps the one it started with. */
  readonly routes: { readonly current: RouteTable<CompiledRoute> };
  readonly maxUrlLength: number;
  readonly trustedProxies: BlockList | undefined;
}

/**
 * Request smuggling shapes (RFC 9112 §6.3): Node's parser already refuses Content-Length with
 * Transfer-Encoding and differing duplicate lengths; this also refuses repeated Content-Length
 * lines and any transfer coding other than a single `chunked`, which upstreams parse differently.
 */
export function checkFraming(req: IncomingMessage): void {
  const te = req.headers['transfer-encoding'];
  const cl = req.headers['content-length'];
  if (te !== undefined) {
    if (cl !== undefined || te.trim().toLowerCase() !== 'chunked') throw new GatewayError('request_smuggling');
  }
  if (cl !== undefined || te !== undefined) {
    let lengths = 0;
    let encodings = 0;
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const name = (raw[i] as string).toLowerCase();
      if (name === 'content-length') lengths++;
      else if (name === 'transfer-encoding') encodings++;
    }
    if (lengths > 1 || encodings > 1) throw new GatewayError('request_smuggling');
  }
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
  const target = normalizeTarget(url);
  ex.path = target.path;
  ex.encodedPath = target.encodedPath;
  ex.query = target.query;
  ex.host = normalizeHost(req.headers.host);
  const fwd = forwardedInfo(req.headers, ex.peerIp, 'encrypted' in req.socket, deps.trustedProxies);
  ex.clientIp = fwd.clientIp;
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
