// Composition root: load configuration, build the adapters, wire the stages, listen. The only
// module that knows every other one; tests build whole gateways through startGateway().
import { randomUUID } from 'node:crypto';
import { dirname } from 'node:path';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BlockList, isIP } from 'node:net';
import { Registry } from 'prom-client';
import { buildAuthLayer } from './compose/auth.js';
import { buildLiveSockets } from './compose/live-sockets.js';
import { developmentSettings } from './config/development.js';
import { loadConfig, loadRoutesFile, type LoadedConfig } from './config/load.js';
import type { VerifyCredentials } from './endpoints/auth/verify.js';
import type { JwksFetch } from './keys/remote-jwks.js';
import { DEFAULT_IDENTITY_HEADERS } from './config/header-names.js';
import { contentHash, watchRoutesFile, type RoutesWatcher } from './config/watch.js';
import { createAdminServer } from './endpoints/admin.js';
import { AdminGuard, loadAdminCredential } from './endpoints/admin-guard.js';
import { Readiness } from './endpoints/readiness.js';
import { ConfigError, formatProblem } from './errors.js';
import { PoolRegistry } from './forward/pools.js';
import { systemClock, type Clock } from './clock.js';
import { WebSocketProxy } from './forward/websocket.js';
import { watchAcceptErrors } from './http/accept-errors.js';
import { createPublicServer } from './http/server.js';
import type { DestinationStream } from 'pino';
import { createAccessLog, createLogger, type Logger } from './log.js';
import { LineStream } from './log-stream.js';
import { watchDescriptors } from './metrics/fd-watch.js';
import { createMetrics } from './metrics/metrics.js';
import type { CompiledRoute } from './pipeline/exchange.js';
import { compileRoutes, originsOf } from './pipeline/route.js';
import type { RouteTable } from './routing/table.js';

export interface StartOptions {
  /** Path of gateway.yaml. */
  readonly configPath: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Where log lines go (default: stdout, asynchronously). */
  readonly logDestination?: DestinationStream;
  readonly clock?: Clock;
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
  /** Drain and stop: readiness 503, stop accepting, let in-flight requests finish (bounded), close. */
  shutdown(): Promise<void>;
  /** Write out buffered log lines now (before a process-level failure ends the process). */
  flushLogs(): void;
}


function trustedProxyList(cidrs: readonly string[]): BlockList | undefined {
  if (cidrs.length === 0) return undefined;
  const list = new BlockList();
  for (const c of cidrs) {
    const [addr, bits] = c.split('/') as [string, string | undefined];
    const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return list;
}

function listen(server: Server, host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address() as AddressInfo;
      const shown = addr.family === 'IPv6' ? `[${addr.address === '::' ? '::1' : addr.address}]` : addr.address === '0.0.0.0' ? '127.0.0.1' : addr.address;
      resolve(`http://${shown}:${addr.port}`);
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
  const logger = createLogger(gw.log.level, destination);
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
  const auth = await buildAuthLayer({ config, clock, logger, metrics, readiness, verify: opts.verify, jwksFetch: opts.jwksFetch, production: opts.production });
  const compileOptions = {
    auth: auth.routeDeps,
    pools,
    clock,
    ejectForMs: gw.upstreams.ejectFor,
    defaultMaxBodySize: gw.limits.maxBodySize,
    identityHeaders: [...DEFAULT_IDENTITY_HEADERS, ...gw.identityHeaders],
    trustedProxyHeaders: gw.trustedProxyHeaders,
    routing: gw.routing,
  };
  let routes: { current: RouteTable<CompiledRoute> };
  try {
    routes = { current: compileRoutes(config.routes, compileOptions) };
  } catch (err) {
    await auth.close();
    throw err;
  }
  metrics.routes.set(routes.current.routes.length);
  metrics.configLastReloadSuccess.set(clock.now() / 1000);
  readiness.configLoaded = true;
  if (routes.current.routes.length === 0) logger.warn({ file: config.routesFile }, 'no routes: every request will be answered 404');

  const live = buildLiveSockets(auth, gw, clock, metrics, logger);
  const lifecycle = { draining: false };
  const newRequestId = () => randomUUID();
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
  );
  const guard = new AdminGuard({ allowedHosts: gw.admin.allowedHosts, credential: admin.credential });
  const adminServer = createAdminServer({ registry, readiness, logger, newRequestId, guard }, auth.adminEndpoints);
  watchAcceptErrors(publicServer, 'public', { logger, counter: metrics.acceptErrors, clock });
  watchAcceptErrors(adminServer, 'admin', { logger, counter: metrics.acceptErrors, clock });
  const descriptors = watchDescriptors({ logger, counter: metrics.fdHigh, clock });

  let reloading: Promise<boolean> = Promise.resolve(true);
  const reloadOnce = async (): Promise<boolean> => {
    try {
      const file = await loadRoutesFile(config.routesFile, env);
      // A file emptied by accident (truncated, half-written) would answer 404 for everything, or,
      // more dangerously, drop protected routes: an empty table replaces a running one only on purpose.
      if (file.routes.length === 0 && routes.current.routes.length > 0 && !file.allowEmpty) {
        throw new ConfigError([{ file: config.routesFile, line: 0, column: 0, path: 'routes', message: 'is empty; write allowEmpty: true to mean it (the running table is kept)' }]);
      }
      const next = compileRoutes(file.routes, compileOptions);
      routes.current = next;
      metrics.configReloads.labels('success').inc();
      metrics.configLastReloadSuccess.set(clock.now() / 1000);
      metrics.routes.set(next.routes.length);
      logger.info({ file: config.routesFile, routes: next.routes.length }, 'routes reloaded');
      // Requests that resolved on the old table may still be on their way to an origin that is
      // gone from the new one: close unused pools only after the drain time.
      setTimeout(() => void pools.retain(originsOf(routes.current)), gw.shutdown.drainTimeout).unref();
      return true;
    } catch (err) {
      metrics.configReloads.labels('failure').inc();
      const problems = err instanceof ConfigError ? err.problems.map(formatProblem) : [String(err)];
      logger.error({ file: config.routesFile, problems }, 'routes reload failed; keeping the previous table');
      return false;
    }
  };
  // Reloads are serialized so two quick edits cannot swap tables out of order.
  const reloadRoutes = () => (reloading = reloading.then(reloadOnce));

  let watcher: RoutesWatcher | undefined;
  if (opts.watchRoutes ?? gw.reload.watchFile) {
    watcher = watchRoutesFile(config.routesFile, await contentHash(config.routesFile), () => void reloadRoutes());
  }

  let url: string;
  let adminUrl: string;
  try {
    url = await listen(publicServer, gw.listen.host, opts.listenPort ?? gw.listen.port);
    adminUrl = await listen(adminServer, gw.admin.host, opts.adminPort ?? gw.admin.port);
  } catch (err) {
    // A port in use: release what started, so the caller's exit is not held up by a Redis client.
    watcher?.close();
    descriptors.stop();
    publicServer.close();
    await pools.close();
    await auth.close();
    throw err;
  }
  logger.info({ url, adminUrl, routes: routes.current.routes.length }, 'gateway listening');

  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      readiness.draining = true;
      watcher?.close();
      descriptors.stop();
      // Load balancers notice /readyz only at their next probe: keep serving meanwhile, so no request
      // meets a closed port (what Kubernetes' preStop sleep is for).
      if (gw.shutdown.readinessDelay > 0) {
        logger.info({ readinessDelayMs: gw.shutdown.readinessDelay }, 'not ready; serving until the load balancer stops sending');
        await new Promise((r) => setTimeout(r, gw.shutdown.readinessDelay));
      }
      lifecycle.draining = true;
      logger.info({ drainTimeoutMs: gw.shutdown.drainTimeout, websockets: live.size }, 'draining');
      // Upgraded connections are not requests that finish: tell their clients to reconnect elsewhere
      // now (close 1001), or one open socket would hold the process for as long as its client stays.
      live.closeAll();
      const closed = new Promise<void>((resolve) => publicServer.close(() => resolve()));
      // Keep-alive connections become idle as their last request finishes: close them as they do.
      publicServer.closeIdleConnections();
      const sweep = setInterval(() => publicServer.closeIdleConnections(), 50);
      const timedOut = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), gw.shutdown.drainTimeout).unref());
      if ((await Promise.race([closed, timedOut])) === 'timeout') {
        logger.warn('drain time over; closing remaining connections');
        publicServer.closeAllConnections();
        await closed;
      }
      clearInterval(sweep);
      await pools.close();
      await auth.close();
      adminServer.closeAllConnections();
      await new Promise<void>((resolve) => adminServer.close(() => resolve()));
      logger.info('stopped');
      stdout?.close();
    })());

  return { config, url, adminUrl, registry, logger, auth, reloadRoutes, shutdown, flushLogs: () => stdout?.flushSync() };
}

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
