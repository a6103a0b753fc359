// Composition root: load configuration, build the adapters, wire the stages, listen. The only
// module that knows every other one; tests build whole gateways through startGateway().
import { randomUUID } from 'node:crypto';
import { dirname } from 'node:path';
import type { AddressInfo, Server as NetServer } from 'node:net';
import { Registry } from 'prom-client';
import { adminTls, edgeTls, type EdgeTls } from './compose/edge-tls.js';
import { buildAuthLayer } from './compose/auth.js';
import { buildLiveSockets } from './compose/live-sockets.js';
import { explainDeps } from './compose/explain.js';
import { gatewayErrorPage, routeCompileOptions, trustedProxyList } from './compose/routes.js';
import { developmentSettings } from './config/development.js';
import { loadConfig, type LoadedConfig } from './config/load.js';
import type { VerifyCredentials } from './endpoints/auth/verify.js';
import type { JwksFetch } from './keys/remote-jwks.js';
import { contentHash, watchRoutesFile, type RoutesWatcher } from './config/watch.js';
import { createAdminServer } from './endpoints/admin.js';
import { isWorker, workerId, workerMetrics } from './workers.js';
import { adminExplainEndpoint } from './endpoints/admin-explain.js';
import { AdminGuard, loadAdminCredential } from './endpoints/admin-guard.js';
import { Readiness } from './endpoints/readiness.js';
import { ConfigError } from './errors.js';
import { PoolRegistry } from './forward/pools.js';
import { systemClock, type Clock } from './clock.js';
import { WebSocketProxy } from './forward/websocket.js';
import { watchAcceptErrors } from './http/accept-errors.js';
import { createPublicServer } from './http/server.js';
import { gracefulShutdown } from './http/shutdown.js';
import type { DestinationStream } from 'pino';
import { createAccessLog, createLogger, type Logger } from './log.js';
import { LineStream } from './log-stream.js';
import { watchDescriptors } from './metrics/fd-watch.js';
import { createMetrics } from './metrics/metrics.js';
import { compileRoutes } from './pipeline/route.js';
import { ActiveRoutes } from './pipeline/route-reload.js';

export interface StartOptions {
  /** Path of gateway.yaml. */
  readonly configPath: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Where log lines go (default: stdout, asynchronously). */
  readonly logDestination?: DestinationStream;
  readonly clock?: Clock;
  /** Override the plain-HTTP redirect listener's port (tests use 0). */
  readonly redirectPort?: number;
  /** Override the listeners' ports (tests use 0). */
  readonly listenPort?: number;
  readonly adminPort?: number;
  /** Watch the routes file for changes (default: reload.watchFile of gateway.yaml). */
  readonly watchRoutes?: boolean;
  /** Replaces the HTTP credential check of login.verifyUrl. */
  readonly verify?: VerifyCredentials;
  /** Replaces the HTTP fetch of issuers' JWKS. */
  readonly jwksFetch?: JwksFetch;
  /** Refuse to start on development settings (NODE_ENV=production); otherwise they are logged. */
  readonly production?: boolean;
}

export interface Gateway {
  readonly config: LoadedConfig;
  /** `http://127.0.0.1:PORT` of the public listener. */
  readonly url: string;
  /** `http://127.0.0.1:PORT` of the admin listener. */
  readonly adminUrl: string;
  readonly registry: Registry;
  readonly logger: Logger;
  /** The session layer, for tests and the CLI. */
  readonly auth: Awaited<ReturnType<typeof buildAuthLayer>>;
  /** Reload the routes file; resolves true when the new table is active. */
  reloadRoutes(): Promise<boolean>;
  /** Reload listen.tls's certificate and key; resolves true when the new pair is in use (false without TLS, or refused). */
  reloadCertificate(): Promise<boolean>;
  /** Drain and stop: readiness 503, stop accepting, let in-flight requests finish (bounded), close. */
  shutdown(): Promise<void>;
  /** Write out buffered log lines now (before a process-level failure ends the process). */
  flushLogs(): void;
}


function listen(server: NetServer, host: string, port: number, scheme = 'http'): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address() as AddressInfo;
      const shown = addr.family === 'IPv6' ? `[${addr.address === '::' ? '::1' : addr.address}]` : addr.address === '0.0.0.0' ? '127.0.0.1' : addr.address;
      resolve(`${scheme}://${shown}:${addr.port}`);
    });
  });
}

export async function startGateway(opts: StartOptions): Promise<Gateway> {
  const env = opts.env ?? process.env;
  const config = await loadConfig(opts.configPath, env);
  const gw = config.gateway;
  const development = developmentSettings(gw);
  if (opts.production && development.length > 0) {
    throw new ConfigError(development.map((d) => ({ file: config.gatewayFile, line: 0, column: 0, path: d.key, message: `${d.message} (NODE_ENV=production)` })));
  }
  const admin = await loadAdminCredential(gw.admin, dirname(config.gatewayFile), env);
  if (admin.problem) throw new ConfigError([{ file: config.gatewayFile, line: 0, column: 0, path: admin.problem.key, message: admin.problem.message }]);
  // One stream for both loggers, so their lines never interleave mid-line; batched and
  // asynchronous (log-stream.ts).
  const stdout = opts.logDestination ? undefined : new LineStream(1);
  const destination = opts.logDestination ?? (stdout as LineStream);
  // A worker of several (workers.ts) says which in every line.
  const worker = workerId();
  const logger = worker === undefined ? createLogger(gw.log.level, destination) : createLogger(gw.log.level, destination).child({ worker });
  for (const d of development) logger.warn({ key: d.key }, `development setting: ${d.message}`);
  const accessLog = gw.log.accessLog ? createAccessLog(gw.log.level, destination) : undefined;
  const clock = opts.clock ?? systemClock;
  const registry = new Registry();
  const metrics = createMetrics(registry, { defaultMetrics: true, logLinesDropped: () => stdout?.droppedTotal ?? 0 });
  const readiness = new Readiness();
  const pools = new PoolRegistry({
    connections: gw.upstreams.maxConnectionsPerOrigin,
    connectTimeoutMs: gw.upstreams.connectTimeout,
    keepAliveTimeoutMs: gw.upstreams.keepAliveTimeout,
  });
  const auth = await buildAuthLayer({ config, env, clock, logger, metrics, readiness, verify: opts.verify, jwksFetch: opts.jwksFetch, production: opts.production });
  const errorPage = gatewayErrorPage(config);
  const compileOptions = routeCompileOptions(config, { auth: auth.routeDeps, pools, clock, logger, errorPage });
  let routes: ActiveRoutes;
  try {
    routes = new ActiveRoutes(compileRoutes(config.routes, compileOptions), {
      routesFile: config.routesFile,
      env,
      compileOptions,
      pools,
      drainTimeoutMs: gw.shutdown.drainTimeout,
      metrics,
      logger,
      clock,
    });
  } catch (err) {
    await auth.close();
    throw err;
  }
  readiness.configLoaded = true;
  if (routes.current.routes.length === 0) logger.warn({ file: config.routesFile }, 'no routes: every request will be answered 404');

  const live = buildLiveSockets(auth, gw, clock, metrics, logger);
  const lifecycle = { draining: false };
  const newRequestId = () => randomUUID();
  let tls: EdgeTls;
  try {
    tls = await edgeTls(config, logger);
  } catch (err) {
    await auth.close();
    throw err;
  }
  const handlerDeps = {
    routes,
    maxUrlLength: gw.limits.maxUrlLength,
    trustedProxies: trustedProxyList(gw.trustedProxies),
    headerLimits: { maxHeaderCount: gw.limits.maxHeaderCount, ownedCookies: auth.routeDeps.ownedCookies },
    metrics,
    logger,
    accessLog,
    lifecycle,
    newRequestId,
    endpoints: auth.endpoints,
    errorPage,
    hsts: tls.hsts,
    clientCertificates: gw.listen.tls?.clientCertificates !== undefined,
    forwardAuth: gw.forwardAuth.enabled ? gw.forwardAuth.edge : undefined,
  };
  const publicServer = createPublicServer(
    handlerDeps,
    {
      maxHeaderSize: gw.limits.maxHeaderSize,
      maxHeaderCount: gw.limits.maxHeaderCount,
      requestTimeoutMs: gw.limits.requestTimeout,
      headersTimeoutMs: gw.limits.headersTimeout,
      keepAliveTimeoutMs: gw.limits.keepAliveTimeout,
    },
    new WebSocketProxy(live),
    tls.options,
    gw.listen.tls?.http2
      ? {
          maxConcurrentStreams: gw.listen.tls.http2.maxConcurrentStreams,
          idleTimeoutMs: gw.listen.tls.http2.idleTimeout,
          maxResetsPerSecond: gw.listen.tls.http2.maxResetsPerSecond,
          requestTimeoutMs: gw.limits.requestTimeout,
          onResetFlood: (peer) => {
            metrics.http2ResetFloods.inc();
            logger.warn({ peer }, 'HTTP/2 connection cut: too many streams reset by the client (rapid reset)');
          },
        }
      : undefined,
  );
  const guard = new AdminGuard({ allowedHosts: gw.admin.allowedHosts, credential: admin.credential });
  const adminCert = await adminTls(config, logger).catch(async (err: unknown) => {
    await auth.close();
    throw err;
  });
  const metricsText = isWorker() ? workerMetrics(registry) : undefined;
  // POST /explain answers from this instance's live route table and auth layer.
  const explain = adminExplainEndpoint(explainDeps(config, handlerDeps), logger);
  const adminServer = createAdminServer({ registry, readiness, logger, newRequestId, guard, metricsText }, (m, p) => explain(m, p) ?? auth.adminEndpoints(m, p), adminCert.options);
  const reloadAdminCertificate = adminCert.attach(adminServer);
  watchAcceptErrors(publicServer, 'public', { logger, counter: metrics.acceptErrors, clock });
  watchAcceptErrors(adminServer, 'admin', { logger, counter: metrics.acceptErrors, clock });
  const descriptors = watchDescriptors({ logger, counter: metrics.fdHigh, clock });

  const reloadRoutes = () => routes.reload();

  let watcher: RoutesWatcher | undefined;
  if (opts.watchRoutes ?? gw.reload.watchFile) {
    watcher = watchRoutesFile(config.routesFile, await contentHash(config.routesFile), () => void reloadRoutes());
  }

  const edge = await tls.attach(publicServer, opts.watchRoutes ?? gw.reload.watchFile);

  let url: string;
  let adminUrl: string;
  try {
    url = await listen(publicServer, gw.listen.host, opts.listenPort ?? gw.listen.port, tls.options ? 'https' : 'http');
    if (edge.redirect) await listen(edge.redirect, gw.listen.host, opts.redirectPort ?? gw.listen.tls?.redirectHttpPort ?? 0);
    adminUrl = await listen(adminServer, gw.admin.host, opts.adminPort ?? gw.admin.port, adminCert.options ? 'https' : 'http');
  } catch (err) {
    // A port in use: release what started, so the caller's exit is not held up by a Redis client.
    watcher?.close();
    descriptors.stop();
    edge.close();
    publicServer.close();
    await pools.close();
    await auth.close();
    throw err;
  }
  logger.info({ url, adminUrl, routes: routes.current.routes.length }, 'gateway listening');

  const shutdown = gracefulShutdown({
    publicServer,
    adminServer,
    readinessDelayMs: gw.shutdown.readinessDelay,
    drainTimeoutMs: gw.shutdown.drainTimeout,
    notReady: () => {
      readiness.draining = true;
      watcher?.close();
      edge.close();
      descriptors.stop();
    },
    startDraining: () => (lifecycle.draining = true),
    closeUpgraded: () => {
      const open = live.size;
      live.closeAll();
      return open;
    },
    release: async () => {
      await pools.close();
      await auth.close();
    },
    closeLogs: () => stdout?.close(),
    logger,
  });

  return { config, url, adminUrl, registry, logger, auth, reloadRoutes, reloadCertificate: async () => (await Promise.all([edge.reload(), reloadAdminCertificate()]))[0], shutdown, flushLogs: () => stdout?.flushSync() };
}

// `gateway explain` and check-config's route warnings (compose/explain.ts), for the CLI.
export { explainFromConfig, ExplainInputError, formatExplanation, routeWarnings, type ExplainInput, type ExplainReport, type RouteWarning } from './compose/explain.js';

/**
 * `gateway sessions revoke --user SUB`: end every session of a user through the same session
 * service (and invalidation channel) the running instances use.
 */
export async function revokeUser(configPath: string, sub: string, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const config = await loadConfig(configPath, env);
  if (config.gateway.session.store !== 'redis') {
    throw new ConfigError([{ file: config.gatewayFile, line: 0, column: 0, path: 'session.store', message: 'revocation from the command line needs the redis store' }]);
  }
  const cfg = { ...config, gateway: { ...config.gateway, session: { ...config.gateway.session, memoryFallback: false } } };
  const auth = await buildAuthLayer({
    config: cfg,
    clock: systemClock,
    logger: createLogger('warn'),
    metrics: createMetrics(new Registry(), { defaultMetrics: false }),
    readiness: new Readiness(),
  });
  try {
    return await auth.revokeUser(sub, 'user_revoked');
  } finally {
    await auth.close();
  }
}
