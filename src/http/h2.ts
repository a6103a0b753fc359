// HTTP/2 beside HTTP/1.1 on the HTTPS listener, chosen by ALPN. One node:http2 secure server with
// allowHTTP1: an `http/1.1` connection goes through node:http's own connection handling (the same
// parser, limits, 'clientError', 'checkContinue' and 'upgrade' as the plain server, configured
// here as properties), an `h2` one becomes a session whose streams reach the same request handler
// through Node's compatibility API. What differs for HTTP/2 is handled in three places only:
// checkH2Request below (authority and header list size, at admission), the error renderer (no
// connection-specific headers) and the forwarder (a broken answer resets its stream, never the
// connection its neighbours share).
import { constants, createSecureServer, type Http2SecureServer, type Http2Session, type ServerHttp2Stream } from 'node:http2';
import { Server as Http1Server, type IncomingMessage } from 'node:http';
import type { SecureContextOptions } from 'node:tls';
import type { Duplex } from 'node:stream';
import { GatewayError } from '../errors.js';
import { errorBody, rawErrorResponse } from './error-response.js';
import { normalizeHost } from '../routing/normalize.js';

export interface H2Settings {
  readonly maxConcurrentStreams: number;
  readonly idleTimeoutMs: number;
  /** Streams a client may reset in one second before its connection is cut (rapid reset, CVE-2023-44487). */
  readonly maxResetsPerSecond: number;
  /** Told when a connection is cut for resetting too many streams (metrics, a log line). */
  readonly onResetFlood: (peer: string) => void;
  /** limits.requestTimeout: a stream whose request body has not arrived whole by then is reset. */
  readonly requestTimeoutMs: number;
}

/** node:http's per-server settings, which its connection handling reads from the server object. */
export interface Http1Properties {
  readonly maxHeaderSize: number;
  readonly maxHeadersCount: number;
  readonly requestTimeout: number;
  readonly headersTimeout: number;
  readonly keepAliveTimeout: number;
  readonly connectionsCheckingInterval: number;
  readonly joinDuplicateHeaders: boolean;
  /** HTTP/1.1 without Host is a 400 (RFC 9112 §3.2), as on the plain listener. */
  readonly requireHostHeader: boolean;
}

/** The listener with what shutdown needs of both protocols (node:http's names). */
export type H2Server = Http2SecureServer & { closeIdleConnections(): void; closeAllConnections(): void };

export function createH2Server(tls: SecureContextOptions, http1: Http1Properties, h2: H2Settings, maxHeaderCount: number): H2Server {
  const server = createSecureServer({
    ...tls,
    allowHTTP1: true,
    settings: {
      maxConcurrentStreams: h2.maxConcurrentStreams,
      maxHeaderListSize: http1.maxHeaderSize,
      // The gateway never pushes, and never accepts RFC 8441 WebSocket streams: WebSockets use HTTP/1.1.
      enablePush: false,
      enableConnectProtocol: false,
    },
    // Pseudo-headers (4) and one more than allowed: checkHeaders answers 431 for one too many, a
    // flood beyond that is reset by nghttp2 (ENHANCE_YOUR_CALM) before it costs any work.
    maxHeaderListPairs: maxHeaderCount + 5,
    // Streams refused past maxConcurrentStreams before the session is torn down (Node's default 100).
    maxSessionRejectedStreams: 100,
  }) as H2Server;
  Object.assign(server, http1);
  // Node's default 'tlsClientError' listener re-emits TLS handshake failures as 'clientError',
  // whose listener writes an HTTP/1.1 answer: a socket that never finished its handshake gets none.
  server.removeAllListeners('tlsClientError');
  server.on('tlsClientError', (_err: Error, socket: { destroy(): void }) => socket.destroy());

  const sessions = new Set<Http2Session>();
  server.on('session', (session: Http2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    // Idle: no frame at all for the idle time. close() sends GOAWAY and lets open streams finish.
    session.setTimeout(h2.idleTimeoutMs, () => session.close());
    watchResets(session, h2);
  });
  // limits.requestTimeout per stream: the session's idle timer is kept alive by any frame, so a
  // client dripping bodies on many streams would hold as many upstream requests open for ever.
  server.on('stream', (stream: ServerHttp2Stream) => {
    if (stream.endAfterHeaders) return;
    const timer = setTimeout(() => stream.close(constants.NGHTTP2_CANCEL), h2.requestTimeoutMs);
    timer.unref();
    const done = () => clearTimeout(timer);
    stream.once('end', done);
    stream.once('close', done);
  });
  // CONNECT opens a tunnel: never one through the gateway. Over HTTP/2 it is a stream with a
  // response object; over HTTP/1.1 (node:http's 'connect') a raw socket, answered and closed.
  server.on('connect', (req: IncomingMessage, target: unknown) => {
    try {
      if (req.httpVersionMajor === 2) {
        const res = target as { writeHead(s: number, h: object): { end(b: string): void } };
        res.writeHead(405, { 'content-type': 'application/json', 'x-gateway-error': 'method_not_allowed', 'cache-control': 'no-store' }).end(errorBody('method_not_allowed', ''));
      } else {
        const socket = target as Duplex;
        socket.on('error', () => socket.destroy());
        socket.end(rawErrorResponse('method_not_allowed', ''));
      }
    } catch {
      (target as { destroy?: () => void }).destroy?.();
    }
  });

  const closeIdleHttp1 = server.closeIdleConnections.bind(server);
  // Shutdown: every session is told GOAWAY (its open streams finish, no new ones), idle HTTP/1.1
  // connections are closed; at the drain deadline, everything goes.
  server.closeIdleConnections = () => {
    closeIdleHttp1();
    for (const s of sessions) s.close();
  };
  server.closeAllConnections = () => {
    // node:http's list of HTTP/1.1 connections is kept on this server too (from its 'listening' on).
    Http1Server.prototype.closeAllConnections.call(server);
    for (const s of sessions) s.destroy();
  };
  return server;
}

/**
 * Rapid reset: a client opens streams and cancels each at once, so it never has more than a few
 * open (maxConcurrentStreams does not hold it back) while every one starts a request's work here
 * and upstream. Node's own guard reacts only to thousands; a connection whose client resets more
 * than maxResetsPerSecond streams in a second is told GOAWAY (ENHANCE_YOUR_CALM) and cut. A browser
 * cancels a few streams when a page is left, never hundreds.
 */
function watchResets(session: Http2Session, h2: H2Settings): void {
  let windowStart = 0;
  let resets = 0;
  session.on('stream', (stream: ServerHttp2Stream) => {
    stream.once('aborted', () => {
      const now = Date.now();
      if (now - windowStart >= 1000) {
        windowStart = now;
        resets = 0;
      }
      if (++resets <= h2.maxResetsPerSecond || session.destroyed) return;
      h2.onResetFlood(session.socket?.remoteAddress ?? '');
      // GOAWAY first (nghttp2 then ignores the client's new streams), and the connection closed
      // once it is written; destroying at once would drop the GOAWAY with the socket's buffer.
      session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM);
      session.close();
      setTimeout(() => session.destroy(), 1000).unref();
    });
  });
}

/**
 * HTTP/2's own shapes, at admission: the authority is `:authority`, and a Host header beside it that
 * names another is refused (RFC 9113 §8.3.1: an upstream reading Host would route elsewhere than the
 * gateway did). From here on the request's `host` header is the authority, so everything reads one
 * name on both protocols. (Header list size needs no check here: Node resets a stream whose list
 * outgrows SETTINGS_MAX_HEADER_LIST_SIZE, counted as HPACK counts it, before it reaches a handler.)
 */
export function checkH2Request(req: IncomingMessage): void {
  const headers = req.headers as IncomingMessage['headers'] & { ':authority'?: string };
  const authority = headers[':authority'];
  if (authority === undefined) return;
  const host = headers.host;
  if (host !== undefined && normalizeHost(host) !== normalizeHost(authority)) throw new GatewayError('duplicate_header', { detail: 'host and :authority differ' });
  headers.host = authority;
}
