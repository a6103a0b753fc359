// The public listener's request handler: resolve the route, run its stages, forward; on failure
// render the stable error; at the end, one access-log line and the request metrics.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors.js';
import type { ForwardHooks } from '../forward/proxy.js';
import { forward } from '../forward/proxy.js';
import type { AccessLog, Logger } from '../log.js';
import { methodLabel, NO_ROUTE, type Metrics } from '../metrics/metrics.js';
import { createExchange, type Exchange } from '../pipeline/exchange.js';
import { renderError } from './error-response.js';
import { matchRoute, prepare, runStages, type ResolveDeps } from './resolve.js';

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
}

// The exchange is kept on the response so the 'close' listener can be one shared function.
const EXCHANGE = Symbol('exchange');
type TrackedResponse = ServerResponse & { [EXCHANGE]?: Exchange };

/** Label children per route label, resolved once: prom-client's labels() hashes its arguments on every call. */
interface RouteMetrics {
  readonly duration: { observe(v: number): void };
  readonly upstream: { observe(v: number): void };
  readonly byMethodStatus: Map<string, { inc(): void }>;
}

function routeMetrics(cache: Map<string, RouteMetrics>, metrics: Metrics, route: string): RouteMetrics {
  let m = cache.get(route);
  if (!m) {
    m = { duration: metrics.requestDuration.labels(route), upstream: metrics.upstreamDuration.labels(route), byMethodStatus: new Map() };
    cache.set(route, m);
  }
  return m;
}

export function createRequestHandler(deps: HandlerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const children = new Map<string, RouteMetrics>();
  const hooks: ForwardHooks = {
    onUpstreamError: (route, kind) => deps.metrics.upstreamErrors.labels(route, kind).inc(),
  };
  function onClose(this: TrackedResponse): void {
    const ex = this[EXCHANGE];
    if (ex) finish(deps, ex, children);
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
    ex.endpoint = endpoint.label;
    await endpoint.run(ex);
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

function finish(deps: HandlerDeps, ex: Exchange, children: Map<string, RouteMetrics>): void {
  const { metrics } = deps;
  metrics.inFlight.dec();
  const res = ex.res;
  const route = ex.route?.name ?? (ex.endpoint ? `gateway:${ex.endpoint}` : NO_ROUTE);
  // 499 (nginx's "client closed request") when the client left before an answer was sent.
  const status = res.headersSent ? res.statusCode : 499;
  const seconds = (performance.now() - ex.startedAt) / 1000;
  const rm = routeMetrics(children, metrics, route);
  const method = methodLabel(ex.req.method);
  const key = `${method} ${status}`;
  let counter = rm.byMethodStatus.get(key);
  if (!counter) rm.byMethodStatus.set(key, (counter = metrics.requests.labels(route, method, String(status))));
  counter.inc();
  rm.duration.observe(seconds);
  if (ex.upstreamHeadersAt !== undefined) rm.upstream.observe((ex.upstreamHeadersAt - ex.startedAt) / 1000);
  if (deps.accessLog) {
    deps.accessLog({
      requestId: ex.requestId,
      route,
      method: ex.req.method ?? '',
      path: ex.path,
      status,
      durationMs: Math.round(seconds * 1e6) / 1000,
      upstream: ex.upstreamOrigin,
      upstreamMs: ex.upstreamHeadersAt === undefined ? undefined : Math.round((ex.upstreamHeadersAt - ex.startedAt) * 1000) / 1000,
      client: ex.clientIp,
      error: ex.errorCode,
      completed: res.writableFinished,
    });
  }
}
