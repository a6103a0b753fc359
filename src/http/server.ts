// The public listener: node:http (or node:https) with bounded header size and timeouts, the request handler, the
// WebSocket upgrade path, and answers for what Node's parser refuses (431, 400, 408), written by
// the same renderer as every other error.
import { createServer, ServerResponse, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { SecureContextOptions } from 'node:tls';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Server as NetServer, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { GatewayError, type ErrorCode } from '../errors.js';
import type { SocketOwner, WebSocketProxy } from '../forward/websocket.js';
import { NO_ROUTE } from '../metrics/metrics.js';
import { createExchange } from '../pipeline/exchange.js';
import type { Principal } from '../pipeline/principal.js';
import { rawErrorResponse } from './error-response.js';
import { createH2Server, type H2Server, type H2Settings } from './h2.js';
import type { HandlerDeps } from './handler.js';
import { createRequestHandler } from './handler.js';
import { admitRequest, matchRoute, runStages } from './resolve.js';

export interface ServerLimits {
  readonly maxHeaderSize: number;
  /** limits.maxHeaderCount: checked in request-shape.ts. */
  readonly maxHeaderCount: number;
  readonly requestTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
}

/** Node parser error codes → our stable codes. */
function parserErrorCode(code: string | undefined): ErrorCode {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return 'headers_too_large';
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return 'request_timeout';
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_INVALID_TRANSFER_ENCODING':
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
    case 'HPE_INVALID_CHUNK_SIZE':
      return 'request_smuggling';
    default:
      return 'bad_request';
  }
}

/**
 * Whether a header overflow is about the count, not the size: from Node 22 on, more lines than
 * maxHeadersCount is a parser error of its own (HPE_HEADER_OVERFLOW, like too many bytes), where
 * Node 20 silently dropped the extra lines. The packet that failed tells which.
 */
function tooManyLines(err: NodeJS.ErrnoException & { rawPacket?: Buffer }, maxHeaderCount: number): boolean {
  const packet = err.rawPacket;
  if (!packet) return false;
  const end = packet.indexOf('\r\n\r\n');
  const head = packet.subarray(0, end === -1 ? packet.length : end);
  let lines = 0;
  for (let i = head.indexOf('\r\n'); i !== -1; i = head.indexOf('\r\n', i + 2)) lines++;
  return lines > maxHeaderCount;
}

/** What the rest of the gateway needs of the public listener, whichever protocols it speaks. */
export type PublicServer = NetServer & { closeIdleConnections(): void; closeAllConnections(): void };

/**
 * The public listener: plain HTTP, HTTPS, or (tls with `h2`) HTTPS offering HTTP/2 and HTTP/1.1 by
 * ALPN. Every kind gets the same handler, limits, parser-error answers and upgrade path.
 */
export function createPublicServer(deps: HandlerDeps, limits: ServerLimits, websockets: WebSocketProxy, tls?: SecureContextOptions, h2?: H2Settings): PublicServer {
  const handler = createRequestHandler(deps);
  const http1 = {
    maxHeaderSize: limits.maxHeaderSize,
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout: limits.headersTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Node looks for connections past headersTimeout/requestTimeout only every 30 s by default, so
    // a 5 s limit held for up to 35 s: look often enough that every limit holds within a second.
    connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4))),
    // Duplicate headers stay separate in rawHeaders; the merged object is only read for single-valued ones.
    joinDuplicateHeaders: false,
    requireHostHeader: true,
    // Node silently drops header lines past maxHeadersCount, which would hide a duplicate Host or a
    // second session cookie behind the limit: keep one more than allowed, so too many is refused.
    maxHeadersCount: limits.maxHeaderCount + 1,
  };
  let server: Server | H2Server;
  if (tls && h2) {
    server = createH2Server(tls, http1, h2, limits.maxHeaderCount);
    server.on('request', handler);
  } else {
    // HTTPS is the same server with a TLS socket under it: same parser, limits and handlers.
    const { maxHeadersCount, ...options } = http1;
    server = tls ? createHttpsServer({ ...options, ...tls, ALPNProtocols: ['http/1.1'] }, handler) : createServer(options, handler);
    server.maxHeadersCount = maxHeadersCount;
  }
  // Expect: 100-continue is answered by the handler once the route's checks passed (size limit,
  // authentication, policy): a refused upload is never invited (handler.ts). Without this listener
  // Node answers 100 Continue to every request at once.
  server.on('checkContinue', handler);

  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const code = err.code === 'HPE_HEADER_OVERFLOW' && tooManyLines(err, limits.maxHeaderCount) ? 'too_many_headers' : parserErrorCode(err.code);
    deps.metrics.clientErrors.labels(code).inc();
    deps.logger.info({ code, parserError: err.code }, 'client error');
    // A response already started on this socket (a body that broke mid-stream) cannot be replaced.
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
    if (inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    socket.end(rawErrorResponse(code, deps.newRequestId()));
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    handleUpgrade(deps, websockets, req, socket, head).catch((err: unknown) => {
      const gwErr = err instanceof GatewayError ? err : new GatewayError('internal_error', { cause: err });
      if (!(err instanceof GatewayError)) deps.logger.error({ err }, 'upgrade failed');
      if (socket.writable) socket.end(rawErrorResponse(gwErr.code, deps.newRequestId(), gwErr.headers));
      else socket.destroy();
    });
  });

  return server;
}

async function handleUpgrade(
  deps: HandlerDeps,
  websockets: WebSocketProxy,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): Promise<void> {
  socket.on('error', () => socket.destroy());
  // Stages take an exchange with a response; an upgrade has none to write, so it gets a detached one.
  const ex = createExchange(req, new ServerResponse(req), performance.now(), deps.newRequestId);
  let route;
  try {
    admitRequest(deps, ex);
    // /auth/ and the JWKS belong to the gateway: an upgrade there is never proxied, whatever route
    // would match the path, in whatever case it is spelt.
    const lower = ex.path.toLowerCase();
    if (lower === '/auth' || lower.startsWith('/auth/') || deps.endpoints(req.method ?? 'GET', lower) !== undefined) {
      throw new GatewayError('upgrade_not_allowed', { detail: 'gateway endpoint' });
    }
    route = matchRoute(deps, ex);
    websockets.check(route, req);
    // The route's stages include the Origin check of cookie-authenticated upgrades (csrf.ts).
    await runStages(route, ex);
  } catch (err) {
    const label = ex.route?.name ?? NO_ROUTE;
    deps.metrics.websocketUpgrades.labels(label, 'refused').inc();
    if (err instanceof GatewayError) deps.logger.info({ requestId: ex.requestId, route: label, code: err.code }, 'upgrade refused');
    throw err;
  }
  const name = route.name;
  websockets.proxyUpgrade(route, ex, socket, head, socketOwner(ex.principal), (outcome, err) => {
    deps.metrics.websocketUpgrades.labels(name, outcome).inc();
    if (outcome === 'error') {
      deps.logger.warn({ requestId: ex.requestId, route: name, cause: (err as NodeJS.ErrnoException | undefined)?.code }, 'websocket upstream failed');
      if (socket.writable) socket.end(rawErrorResponse('upstream_unavailable', ex.requestId));
    }
  });
}

/** What ends an upgraded connection, from what authenticated it (nothing but shutdown on public routes). */
function socketOwner(p: Principal | undefined): SocketOwner {
  if (!p) return { sub: undefined, session: undefined, expiresAt: Number.POSITIVE_INFINITY };
  const s = p.session;
  return {
    sub: p.sub,
    session: s ? { idHash: s.idHash, lastSeenAt: s.lastSeenAt, expiresAt: s.expiresAt } : undefined,
    expiresAt: s?.expiresAt ?? p.expiresAt ?? Number.POSITIVE_INFINITY,
  };
}

const ACME = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]{1,128})$/;

/**
 * listen.tls.redirectHttpPort: a plain listener that only sends clients to HTTPS (308 keeps the
 * method), except ACME HTTP-01 challenges when acmeChallengeDir is set: a token (letters, digits,
 * `-`, `_` only, so no path can leave the directory) is answered with its file, anything else 404.
 */
export function createRedirectServer(httpsPort: () => number, acmeDir?: string): Server {
  return createServer((req, res) => {
    req.resume();
    const token = acmeDir && req.method === 'GET' ? ACME.exec((req.url ?? '').split('?')[0] as string)?.[1] : undefined;
    if (acmeDir && token) {
      readFile(join(acmeDir, token)).then(
        (body) => res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length }).end(body),
        () => res.writeHead(404, { 'content-length': '0' }).end(),
      );
      return;
    }
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    // A Host the gateway cannot vouch for is not echoed into a Location.
    if (!/^[A-Za-z0-9.-]{1,253}$/.test(host)) {
      res.writeHead(400, { 'content-type': 'text/plain', connection: 'close' }).end('bad host');
      return;
    }
    const port = httpsPort();
    const target = `https://${host}${port === 443 ? '' : `:${port}`}${(req.url ?? '/').startsWith('/') ? req.url : '/'}`;
    res.writeHead(308, { location: target, 'content-length': '0', connection: 'close' }).end();
  });
}
