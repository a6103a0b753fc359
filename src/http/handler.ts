// The public listener's request handler: resolve the route, run its stages, forward; on failure
// render the stable error; at the end, one access-log line and the request metrics.
import type { ErrorPage } from '../config/error-page.js';
import { clientCertHeaders } from './tls.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors.js';
import type { ForwardHooks } from '../forward/proxy.js';
import { clientClosed, forward, invite } from '../forward/proxy.js';
import type { AccessLog, Logger } from '../log.js';
import { methodLabel, NO_ROUTE, type Metrics } from '../metrics/metrics.js';
import { createExchange, type Exchange } from '../pipeline/exchange.js';
import { renderError } from './error-response.js';
import { decide, DECIDE_PATH, isDecidePath, type EdgeKind } from './decide.js';
import { admitRequest, matchRoute, runStages, type ResolveDeps } from './resolve.js';

/** A gateway endpoint beside the proxy path (`/auth/*`, JWKS); it answers through ex.res or throws. */
export type Endpoint = (ex: Exchange) => Promise<void>;
/**
 * The endpoint for a method and normalized path, with a fixed label for logs and metrics (never the
 * raw path: `/auth/<anything>` must not create a metric series per client value).
 */
export type EndpointLookup = (method: string, path: string) => { readonly label: string; readonly run: Endpoint } | undefined;

export interface HandlerDeps extends ResolveDeps {
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Writes one access-log line per request; undefined when log.accessLog is off. */
  readonly accessLog: AccessLog | undefined;
  /** Set when shutdown began: answers carry Connection: close. */
  readonly lifecycle: { readonly draining: boolean };
  readonly newRequestId: () => string;
  /** The gateway's own endpoints, looked up before the route table. */
  readonly endpoints: EndpointLookup;
  /** errorPages.html of gateway.yaml, for answers before a route matched. */
  readonly errorPage: ErrorPage | undefined;
  /** Strict-Transport-Security for answers over HTTPS, or undefined. */
  readonly hsts?: string | undefined;
  /** listen.tls.clientCertificates is on: a verified certificate's subject goes upstream. */
  readonly clientCertificates?: boolean;
  /** forwardAuth (enabled): /auth/decide answers this kind of trusted edge proxy (decide.ts). */
  readonly forwardAuth?: EdgeKind | undefined;
}

export function createRequestHandler(deps: HandlerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const hooks: ForwardHooks<Exchange> = {
    onUpstreamError: (route, kind) => deps.metrics.upstreamErrors.labels(route, kind).inc(),
    failed: (ex, err) => fail(deps, ex, err),
  };
  return (req, res) => {
    const ex = createExchange(req, res, performance.now(), deps.newRequestId);
    // A closure per response rather than the exchange set on it: a property added to Node's
    // response objects changes their hidden class, which Node's own HTTP code then pays for.
    res.on('close', () => {
      clientClosed(ex);
      finish(deps, ex);
    });
    deps.metrics.request.inFlight++;
    if (deps.lifecycle.draining) res.shouldKeepAlive = false;
    // Synchronous as far as the request allows (a cache-hit request all the way to the upstream
    // dispatch): a promise only where a stage or an endpoint waits.
    try {
      const pending = handle(deps, ex, hooks);
      if (pending) pending.catch((err: unknown) => fail(deps, ex, err));
    } catch (err) {
      fail(deps, ex, err);
    }
  };
}

function handle(deps: HandlerDeps, ex: Exchange, hooks: ForwardHooks<Exchange>): void | Promise<void> {
  if (deps.hsts !== undefined && 'encrypted' in ex.req.socket) ex.res.setHeader('strict-transport-security', deps.hsts);
  admitRequest(deps, ex);
  if (deps.clientCertificates) ex.upstreamHeaders.push(...clientCertHeaders(ex.req.socket));
  const method = ex.req.method ?? 'GET';
  // Decided on the raw path, not the normalized one: a spelling that only normalizes to
  // /auth/decide (`/auth/x\..\decide`) slips past an edge's rule that keeps clients out of it.
  if (deps.forwardAuth && isDecidePath(ex.req.url ?? '')) {
    ex.endpoint = DECIDE_PATH;
    return decide(deps, ex, deps.forwardAuth);
  }
  const endpoint = deps.endpoints(method, ex.path);
  if (endpoint) {
    ex.endpoint = endpoint.label;
    // The gateway's endpoints read small bodies themselves (and refuse large ones while reading).
    invite(ex);
    return endpoint.run(ex);
  }
  const origin = ex.req.headers.origin;
  const asked = ex.req.headers['access-control-request-method'];
  if (method === 'OPTIONS' && origin !== undefined && typeof asked === 'string') {
    // A preflight: matched with the method it asks about; answered here when the route owns CORS.
    const target = matchRoute(deps, ex, asked);
    if (target.cors) {
      const headers = ex.req.headers['access-control-request-headers'];
      target.cors.preflight(origin, asked, typeof headers === 'string' ? headers : undefined, ex.res);
      return;
    }
  }
  const route = matchRoute(deps, ex);
  // Before the stages: a page must be able to read the gateway's own 401 or 403 too.
  route.cors?.decorate(origin, ex.res);
  const pending = runStages(route, ex);
  if (pending) return pending.then(() => forward(route, ex, hooks));
  forward(route, ex, hooks);
}

function fail(deps: HandlerDeps, ex: Exchange, err: unknown): void {
  let gwErr: GatewayError;
  if (err instanceof GatewayError) {
    gwErr = err;
    if (err.status >= 500) deps.logger.warn({ requestId: ex.requestId, code: err.code, cause: causeText(err.cause) }, 'upstream failure');
  } else {
    gwErr = new GatewayError('internal_error', { cause: err });
    deps.logger.error({ requestId: ex.requestId, err }, 'unhandled error');
  }
  ex.errorCode = gwErr.code;
  renderError(ex.req, ex.res, gwErr, ex.requestId, ex.route?.errorPage ?? deps.errorPage);
}

function causeText(cause: unknown): string | undefined {
  if (!cause) return undefined;
  const e = cause as { code?: string; message?: string };
  return e.code ?? e.message;
}

function finish(deps: HandlerDeps, ex: Exchange): void {
  const { request } = deps.metrics;
  request.inFlight--;
  const res = ex.res;
  const route = ex.route?.name ?? (ex.endpoint ? `gateway:${ex.endpoint}` : NO_ROUTE);
  // 499 (nginx's "client closed request") when the client left before an answer was sent.
  const status = res.headersSent ? res.statusCode : 499;
  const seconds = (performance.now() - ex.startedAt) / 1000;
  const upstreamMs = ex.upstreamHeadersAt === undefined ? undefined : ex.upstreamHeadersAt - ex.startedAt;
  const protocol = protocolOf(ex.req.httpVersion);
  request.record(route, methodLabel(ex.req.method), status, seconds, upstreamMs === undefined ? undefined : upstreamMs / 1000, protocol);
  if (deps.accessLog) {
    deps.accessLog({
      requestId: ex.requestId,
      route,
      method: ex.req.method ?? '',
      protocol,
      path: ex.path,
      status,
      durationMs: seconds * 1000,
      upstream: ex.upstreamOrigin,
      upstreamMs,
      client: ex.clientIp,
      error: ex.errorCode,
      completed: res.writableFinished,
    });
  }
}

/** The protocol as logs and metrics name it: a fixed few values, whatever a client sent as its version. */
function protocolOf(version: string): 'HTTP/2' | 'HTTP/1.1' | 'HTTP/1.0' {
  return version === '1.1' ? 'HTTP/1.1' : version === '2.0' ? 'HTTP/2' : 'HTTP/1.0';
}
