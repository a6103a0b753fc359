// The one per-request object, and the contract of what reads it: a stage, and the compiled route
// that holds the stages (compiled by route.ts). Stages read and add to the exchange; nothing else
// carries request state. Kept in one module so the pipeline has no import cycle.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorPage } from '../config/error-page.js';
import type { RouteConfig } from '../config/routes-schema.js';
import type { ForwardRoute } from '../forward/proxy.js';
import type { Matchable } from '../routing/table.js';
import type { CorsPolicy } from './cors.js';
import type { Principal } from './principal.js';

/** A stage runs before forwarding (HTTP and WebSocket alike); it throws GatewayError to refuse. */
export type Stage = (ex: Exchange) => void | Promise<void>;

export interface CompiledRoute extends Matchable, ForwardRoute {
  /** Its configuration (a rule's: expanded into a route of its own), for `gateway explain` to describe. */
  readonly config: RouteConfig;
  /** public | session | bearer | session_or_bearer. */
  readonly auth: RouteConfig['auth'];
  /** Whether WebSocket upgrades are proxied on this route. */
  readonly websocket: boolean;
  /** The pre-forwarding chain, in order (authenticate, authorize, csrf, mint as they are added). */
  readonly stages: readonly Stage[];
  /** CORS for pages of other origins (cors.ts), or undefined: the upstream handles CORS itself. */
  readonly cors: CorsPolicy | undefined;
  /** The HTML template of this route's error pages for browsers, or undefined for the built-in one. */
  readonly errorPage: ErrorPage | undefined;
  /** The methods answered in Allow on a 405. */
  readonly allow: string | undefined;
}

export interface Exchange {
  /** Accepted from X-Request-Id when well-formed, else generated; echoed on the response and in logs. */
  readonly requestId: string;
  /** The client's request, as Node parsed it. Never forwarded as-is: see forward/headers.ts. */
  readonly req: IncomingMessage;
  /** The response to the client; written by the forwarder or by http/error-response.ts only. */
  readonly res: ServerResponse;
  /** performance.now() when the request arrived, for durations. */
  readonly startedAt: number;
  /** The TCP peer's address (IPv4-mapped IPv6 unwrapped). */
  readonly peerIp: string;
  /** Whether the TCP peer is one of trustedProxies (its X-Forwarded-* and trustedProxyHeaders are believed). */
  trustedPeer: boolean;
  /** The client's address: the peer, or the first untrusted hop of X-Forwarded-For when the peer is a trusted proxy. */
  clientIp: string;
  /** The route the normalized path selected; undefined until matched (and for unmatched requests). */
  route: CompiledRoute | undefined;
  /** The Host header normalized (lower case, no port); '' when absent. */
  host: string;
  /**
   * The origin the client addressed (scheme and host), as the gateway's own pages have it: from the
   * connection, or from X-Forwarded-Proto/-Host when a trusted proxy sent them. CSRF checks compare with it.
   */
  publicOrigin: string;
  /** The gateway endpoint that answered (`/auth/login`...), for logs and metrics; undefined on the proxy path. */
  endpoint: string | undefined;
  /** Normalized, decoded path (what selected the route). */
  path: string;
  /** The same path canonically percent-encoded (what the upstream receives, before stripPrefix). */
  encodedPath: string;
  /** The raw query string with its `?`, or ''. */
  query: string;
  /** Who the request is, once authenticated; undefined on public routes and before authentication. */
  principal: Principal | undefined;
  /** Headers the gateway adds upstream after the client's were filtered: flat [name, value, ...]. */
  readonly upstreamHeaders: string[];
  /** The upstream origin the request was sent to, for the access log. */
  upstreamOrigin: string | undefined;
  /** performance.now() when the upstream's response headers arrived. */
  upstreamHeadersAt: number | undefined;
  /** The stable code when the gateway answered with an error itself. */
  errorCode: string | undefined;
  /** Set when the request body outgrew the route's limit while streaming. */
  bodyTooLarge: boolean;
  /** The upstream request in flight (forward/proxy.ts), aborted when the client goes away. */
  upstreamCall: { abortForClient(): void } | undefined;
}

const REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export function createExchange(
  req: IncomingMessage,
  res: ServerResponse,
  startedAt: number,
  newId: () => string,
): Exchange {
  const offered = req.headers['x-request-id'];
  const peer = req.socket.remoteAddress ?? '';
  const peerIp = peer.startsWith('::ffff:') ? peer.slice(7) : peer;
  return {
    requestId: typeof offered === 'string' && REQUEST_ID.test(offered) ? offered : newId(),
    req,
    res,
    startedAt,
    peerIp,
    trustedPeer: false,
    clientIp: peerIp,
    route: undefined,
    host: '',
    publicOrigin: '',
    endpoint: undefined,
    path: '',
    encodedPath: '',
    query: '',
    principal: undefined,
    upstreamHeaders: [],
    upstreamOrigin: undefined,
    upstreamHeadersAt: undefined,
    errorCode: undefined,
    bodyTooLarge: false,
    upstreamCall: undefined,
  };
}
