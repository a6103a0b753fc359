// The public listener's request handler: resolve the route, run its stages, forward; on failure
// render the stable error; at the end, one access-log line and the request metrics.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors.js';
import type { ForwardHooks } from '../forward/proxy.js';
import { forward } from '../forward/proxy.js';
import type { Logger } from '../log.js';
import { methodLabel, NO_ROUTE, type Metrics } from '../metrics/metrics.js';
import { createExchange, type Exchange } from '../pipeline/exchange.js';
import { renderError } from './error-response.js';
import { matchRoute, prepare, runStages, type ResolveDeps } from './resolve.js';

/** A gateway endpoint beside the proxy path (`/auth/*`, JWKS); it answers through ex.res or throws. */
export type Endpoint = (ex: Exchange) => Promise<void>;
export type EndpointLookup = (method: string, path: string) => Endpoint | undefined;

export interface HandlerDeps extends ResolveDeps {
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Write one access-log line per request. */
  readonly accessLog: boolean;
  /** Set when shutdown began: answers carry Connection: close. */
  readonly lifecycle: { readonly draining: boolean };
  readonly newRequestId: () => string;
  /** The gateway's own endpoints, looked up before the route table. */
  readonly endpoints: EndpointLookup;
}

// The exchange is kept on the response so the 'close' listener can be one shared function.
const EXCHANGE = Symbol('exchange');
type TrackedResponse = ServerResponse & { [EXCHANGE]?: Exchange };

export function createRequestHandler(deps: HandlerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const hooks: ForwardHooks = {
    onUpstreamError: (route, kind) => deps.metrics.upstreamErrors.labels(route, kind).inc(),
  };
  function onClose(this: TrackedResponse): void {
    const ex = this[EXCHANGE];
    if (ex) finish(deps, ex);
  }
  return (req, res) => {
    const ex = createExchange(req, res, performance.now(), deps.newRequestId);
    (res as TrackedResponse)[EXCHANGE] = ex;
    res.once('close', onClose);
    deps.metrics.inFlight.inc();
    if (deps.lifecycle.draining) res.shouldKeepAlive = false;
    handle(deps, ex, hooks).catch((err: unknown) => fail(deps, ex, err));
  };
}

async function handle(deps: HandlerDeps, ex: Exchange, hooks: ForwardHooks): Promise<void> {
  prepare(deps, ex);
  const method = ex.req.method ?? 'GET';
  const endpoint = deps.endpoints(method, ex.path);
  if (endpoint) {
    ex.endpoint = ex.path.startsWith('/auth/sessions/') ? '/auth/sessions/{handle}' : ex.path;
    await endpoint(ex);
    return;
  }
  const route = matchRoute(deps, ex);
  await runStages(route, ex);
  await forward(route, ex, hooks);
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
  renderError(ex.req, ex.res, gwErr, ex.requestId);
}

function causeText(cause: unknown): string | undefined {
  if (!cause) return undefined;
  const e = cause as { code?: string; message?: string };
  return e.code ?? e.message;
}

function finish(deps: HandlerDeps, ex: Exchange): void {
  const { metrics } = deps;
  metrics.inFlight.dec();
  const res = ex.res;
  const route = ex.route?.name ?? (ex.endpoint ? `gateway:${ex.endpoint}` : NO_ROUTE);
  // 499 (nginx's "client closed request") when the client left before an answer was sent.
  const status = res.headersSent ? res.statusCode : 499;
  const seconds = (performance.now() - ex.startedAt) / 1000;
  metrics.requests.labels(route, methodLabel(ex.req.method), String(status)).inc();
  metrics.requestDuration.labels(route).observe(seconds);
  if (ex.upstreamHeadersAt !== undefined) {
    metrics.upstreamDuration.labels(route).observe((ex.upstreamHeadersAt - ex.startedAt) / 1000);
  }
  if (deps.accessLog) {
    deps.logger.info(
      {
        requestId: ex.requestId,
        route,
        method: ex.req.method,
        path: ex.path || undefined,
        status,
        durationMs: Math.round(seconds * 1e6) / 1000,
        upstream: ex.upstreamOrigin,
        upstreamMs: ex.upstreamHeadersAt === undefined ? undefined : Math.round((ex.upstreamHeadersAt - ex.startedAt) * 1000) / 1000,
        client: ex.clientIp,
        error: ex.errorCode,
        completed: res.writableFinished,
      },
      'request',
    );
  }
}
