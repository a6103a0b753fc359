// `gateway explain` and `gateway check-config`'s route warnings, from a configuration. explain
// builds what `gateway start` builds for a request (the auth layer on the same Redis, keys and
// issuers; the route table with the same compile options) without listening, explains one request
// through the proxy path (http/explain.ts), and closes it all again. The running gateway's admin
// listener explains with explainDeps over its live table and auth layer instead.
import { Registry } from 'prom-client';
import { systemClock } from '../clock.js';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { Readiness } from '../endpoints/readiness.js';
import { PoolRegistry } from '../forward/pools.js';
import { explainRequest, type AuthSummary, type ExplainDeps, type ExplainInput, type ExplainReport } from '../http/explain.js';
import type { EndpointLookup } from '../http/handler.js';
import type { ResolveDeps } from '../http/resolve.js';
import { createLogger } from '../log.js';
import { createMetrics } from '../metrics/metrics.js';
import { compileRoutes, routeMatchables } from '../pipeline/route.js';
import { routeOverlaps, type RouteWarning } from '../routing/overlap.js';
import { buildAuthLayer } from './auth.js';
import { gatewayErrorPage, routeCompileOptions, trustedProxyList } from './routes.js';

export { ExplainInputError, type ExplainInput, type ExplainReport } from '../http/explain.js';
export { formatExplanation } from '../http/explain-text.js';
export type { RouteWarning } from '../routing/overlap.js';

/** How the configuration authenticates, for the report's words. */
export function authSummary(config: LoadedConfig): AuthSummary {
  const gw = config.gateway;
  const es = gw.session.format === 'express-session' ? gw.session.expressSession : undefined;
  return {
    sessionCookie: es ? es.cookieName : gw.session.cookie.name,
    sessionStore: es ? 'express-session' : gw.session.store,
    ownIssuer: gw.tokens.issuer,
    ownAudience: gw.accessTokens.audience,
    issuers: gw.issuers.map((i) => i.issuer),
    loginRedirect: gw.login.redirect,
    allowedOrigins: gw.publicOrigins.map((o) => new URL(o).origin),
  };
}

/** What a running gateway explains with: its handler's own dependencies (the live route table) and its configuration. */
export function explainDeps(config: LoadedConfig, handler: ResolveDeps & { readonly endpoints: EndpointLookup; readonly forwardAuth?: unknown }): ExplainDeps {
  return {
    routes: handler.routes,
    maxUrlLength: handler.maxUrlLength,
    trustedProxies: handler.trustedProxies,
    headerLimits: handler.headerLimits,
    endpoints: handler.endpoints,
    forwardAuth: handler.forwardAuth,
    auth: authSummary(config),
  };
}

/**
 * Explain one request with the gateway gateway.yaml describes, as a separate process: sessions are
 * looked up in its Redis (never a memory fallback), bearer tokens verified with its issuers' JWKS.
 * Log lines (Redis not answering...) go to stderr, at error level.
 */
export async function explainFromConfig(configPath: string, input: ExplainInput, env: NodeJS.ProcessEnv = process.env): Promise<ExplainReport> {
  const config = await loadConfig(configPath, env);
  const gw = config.gateway;
  const cfg = { ...config, gateway: { ...gw, session: { ...gw.session, memoryFallback: false } } };
  const clock = systemClock;
  const logger = createLogger('error', process.stderr);
  const auth = await buildAuthLayer({
    config: cfg,
    env,
    clock,
    logger,
    metrics: createMetrics(new Registry(), { defaultMetrics: false }),
    readiness: new Readiness(),
  });
  const pools = new PoolRegistry({ connections: 1, connectTimeoutMs: gw.upstreams.connectTimeout, keepAliveTimeoutMs: gw.upstreams.keepAliveTimeout });
  try {
    const table = compileRoutes(config.routes, routeCompileOptions(config, { auth: auth.routeDeps, pools, clock, logger, errorPage: gatewayErrorPage(config) }));
    const deps = explainDeps(config, {
      routes: { current: table },
      maxUrlLength: gw.limits.maxUrlLength,
      trustedProxies: trustedProxyList(gw.trustedProxies),
      headerLimits: { maxHeaderCount: gw.limits.maxHeaderCount, ownedCookies: auth.routeDeps.ownedCookies },
      endpoints: auth.endpoints,
      forwardAuth: gw.forwardAuth.enabled,
    });
    return await explainRequest(deps, input);
  } finally {
    await pools.close();
    await auth.close();
  }
}

/** Routes no request reaches, and overlaps whose winner depends on subtle precedence (routing/overlap.ts). */
export function routeWarnings(config: LoadedConfig): RouteWarning[] {
  return routeOverlaps(routeMatchables(config.routes, config.gateway.routing), { refuseAmbiguous: config.gateway.routing.refuseAmbiguousPaths });
}
