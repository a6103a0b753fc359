// WebSocket upgrades through http-proxy, after the same resolution and stages as any request.
// The upgrade request's headers go through the same filter as HTTP ones (strip before inject);
// only Connection and Upgrade are put back, since the handshake needs them.
import type { ClientRequest, IncomingMessage } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { setsCookie } from '../wire/cookies.js';
import type { Duplex } from 'node:stream';
import httpProxy from 'http-proxy';
import { GatewayError } from '../errors.js';
import { filterRequestHeaders } from './headers.js';
import type { LiveSockets, PendingSocket, SocketSession } from './live-sockets.js';
import { classifyUpstreamError } from './upstream-errors.js';
import { upstreamPath, type ForwardExchange, type ForwardRoute } from './proxy.js';
import type { UpstreamTls } from './pools.js';
import type { UpstreamTarget } from './upstream-group.js';

export interface WebSocketRoute extends ForwardRoute {
  readonly websocket: boolean;
}

export type WebSocketOutcome = 'proxied' | 'error';

// What the proxyReqWs listener needs of the request it is called with (http-proxy passes only it).
const UPGRADE = Symbol('upgrade');
interface UpgradeState {
  readonly ownedCookies: readonly string[];
  /** The registered socket (live-sockets.ts); undefined without a registry. */
  readonly pending: PendingSocket | undefined;
}
type UpgradeRequest = IncomingMessage & { [UPGRADE]?: UpgradeState };

/** Who opened an upgraded connection: what ends it (live-sockets.ts). */
export interface SocketOwner {
  /** undefined on public routes. */
  readonly sub: string | undefined;
  /** The native session, when a session cookie authenticated the upgrade. */
  readonly session: SocketSession | undefined;
  /** Session absolute expiry or bearer token exp (ms); Infinity when unknown (express-session mode). */
  readonly expiresAt: number;
}

export class WebSocketProxy {
  private readonly proxy = httpProxy.createProxyServer({ ws: true, xfwd: false, ignorePath: true });

  /** `live`: where proxied sockets are registered, so that revocation and expiry end them. */
  constructor(private readonly live: LiveSockets | undefined = undefined) {
    // Errors are handled per call through the callback; this keeps an unhandled 'error' from
    // crashing the process if http-proxy ever emits one without it.
    this.proxy.on('error', () => undefined);
    // http-proxy copies the upstream's 101 (or refusal) headers to the client as they are; this
    // listener runs before its own, so the gateway's cookies an upstream tries to set are dropped there too.
    this.proxy.on('proxyReqWs', (proxyReq: ClientRequest, req: IncomingMessage) => {
      const state = (req as UpgradeRequest)[UPGRADE];
      if (state === undefined) return;
      const clean = (res: IncomingMessage) => {
        const set = res.headers['set-cookie'];
        if (set) res.headers['set-cookie'] = set.filter((line) => !state.ownedCookies.some((c) => setsCookie(line, c)));
      };
      proxyReq.once('upgrade', (res: IncomingMessage, upstream: Duplex) => {
        clean(res);
        // Ended while the upstream was answering (a logout in between): attach() closes its socket.
        state.pending?.attach(upstream);
      });
      proxyReq.once('response', (res: IncomingMessage) => {
        clean(res);
        state.pending?.failed();
      });
    });
  }

  /** Refuses (throws) when the route does not take WebSockets or the upgrade is not one (RFC 6455 §4.1: a GET). */
  check(route: WebSocketRoute, req: IncomingMessage): void {
    if (!route.websocket || req.method !== 'GET' || (req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      throw new GatewayError('upgrade_not_allowed');
    }
  }

  /** Proxy the upgrade; `done` reports whether it failed before the upstream answered. */
  proxyUpgrade(
    route: WebSocketRoute,
    ex: ForwardExchange,
    socket: Duplex,
    head: Buffer,
    owner: SocketOwner,
    done: (outcome: WebSocketOutcome, err?: Error) => void,
  ): void {
    const req = ex.req;
    const target = route.upstream.pick();
    ex.upstreamOrigin = target.origin;
    const flat: string[] = [];
    filterRequestHeaders(req, route.headerPolicy, flat, route.ownedCookies, ex.trustedPeer);
    flat.push('host', route.preserveHost ? (req.headers.host ?? target.host) : (route.hostOverride ?? target.host));
    for (const h of route.requestHeaders) flat.push(h);
    for (const h of ex.upstreamHeaders) flat.push(h);
    const headers: Record<string, string> = {};
    for (let i = 0; i < flat.length; i += 2) {
      const name = flat[i] as string;
      const value = flat[i + 1] as string;
      // Repeated lines become one (http-proxy takes an object); cookies join with `; ` (RFC 6265 §5.4).
      headers[name] = headers[name] === undefined ? value : `${headers[name]}${name === 'cookie' ? '; ' : ', '}${value}`;
    }
    headers.connection = 'Upgrade';
    headers.upgrade = 'websocket';
    req.headers = headers;
    // Registered before the request goes upstream, so a revocation while the upstream is slow to
    // answer is not missed; a client already gone is not proxied at all.
    const pending = this.live?.track({ route: route.name, ...owner, client: socket });
    if (this.live && !pending) return;
    (req as UpgradeRequest)[UPGRADE] = { ownedCookies: route.ownedCookies, pending };
    let failed = false;
    this.proxy.ws(req, socket, head, proxyTarget(target, upstreamPath(route, target, ex)), (err: Error) => {
      if (failed) return;
      failed = true;
      pending?.failed();
      if (classifyUpstreamError(err).beforeSend) route.upstream.eject(target);
      done('error', err);
    });
    socket.once('close', () => {
      if (!failed) done('proxied');
    });
  }
}

/**
 * http-proxy's target: the URL, and for https:// upstreams the route's TLS settings (CA bundle,
 * client certificate, server name; `secure: false` only with insecureSkipVerify). http-proxy copies
 * no server name from its target, so a route that sets one gets an agent that carries it: SNI and
 * the name verified are then that name, as for the route's plain requests (pools.ts).
 */
function proxyTarget(target: UpstreamTarget, path: string): httpProxy.ServerOptions {
  if (!target.secure || !target.tls) return { target: target.origin + path };
  const u = new URL(target.origin);
  const { ca, cert, key, rejectUnauthorized, servername } = target.tls;
  const options: httpProxy.ServerOptions = { target: { protocol: u.protocol, host: u.hostname, port: u.port || '443', path, ca, cert, key } as unknown as httpProxy.ServerOptions['target'], secure: rejectUnauthorized };
  if (servername !== undefined) options.agent = namedAgent(target.tls);
  return options;
}

// One agent per upstream TLS settings (they live as long as the route table that holds them).
const agents = new WeakMap<UpstreamTls, HttpsAgent>();
function namedAgent(tls: UpstreamTls): HttpsAgent {
  let agent = agents.get(tls);
  if (!agent) {
    // No keep-alive: an upgraded socket is never handed back to a pool.
    agent = new HttpsAgent({ keepAlive: false, servername: tls.servername, ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.rejectUnauthorized });
    agents.set(tls, agent);
  }
  return agent;
}
