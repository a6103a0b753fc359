// Graceful stop: not ready first (and, with a readiness delay, still serving while load balancers
// notice), then upgraded connections told to reconnect elsewhere, the listener closed, idle
// keep-alive connections closed as they become idle, in-flight requests given the drain time, and
// only then everything else released. Idempotent: a second signal waits for the first stop.
import type { Server } from 'node:http';
import type { Logger } from '../log.js';
import type { PublicServer } from './server.js';

export interface ShutdownDeps {
  readonly publicServer: PublicServer;
  readonly adminServer: Server;
  /** shutdown.readinessDelay and shutdown.drainTimeout. */
  readonly readinessDelayMs: number;
  readonly drainTimeoutMs: number;
  /** /readyz answers 503 from now on; watchers stop. */
  notReady(): void;
  /** New requests get 503 `shutting_down` with Connection: close. */
  startDraining(): void;
  /** Close upgraded (WebSocket) connections with 1001; answers how many there were. */
  closeUpgraded(): number;
  /** Pools, Redis clients: after the last request. */
  release(): Promise<void>;
  /** The last log line has been written: flush and close the log stream. */
  closeLogs(): void;
  readonly logger: Logger;
}

export function gracefulShutdown(deps: ShutdownDeps): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () => (stopping ??= stop(deps));
}

async function stop(deps: ShutdownDeps): Promise<void> {
  const { publicServer, adminServer, logger } = deps;
  deps.notReady();
  // Load balancers notice /readyz only at their next probe: keep serving meanwhile, so no request
  // meets a closed port (what Kubernetes' preStop sleep is for).
  if (deps.readinessDelayMs > 0) {
    logger.info({ readinessDelayMs: deps.readinessDelayMs }, 'not ready; serving until the load balancer stops sending');
    await new Promise((r) => setTimeout(r, deps.readinessDelayMs));
  }
  deps.startDraining();
  // Upgraded connections are not requests that finish: tell their clients to reconnect elsewhere
  // now (close 1001), or one open socket would hold the process for as long as its client stays.
  const websockets = deps.closeUpgraded();
  logger.info({ drainTimeoutMs: deps.drainTimeoutMs, websockets }, 'draining');
  const closed = new Promise<void>((resolve) => publicServer.close(() => resolve()));
  // Keep-alive connections become idle as their last request finishes: close them as they do.
  publicServer.closeIdleConnections();
  const sweep = setInterval(() => publicServer.closeIdleConnections(), 50);
  const timedOut = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), deps.drainTimeoutMs).unref());
  if ((await Promise.race([closed, timedOut])) === 'timeout') {
    logger.warn('drain time over; closing remaining connections');
    publicServer.closeAllConnections();
    await closed;
  }
  clearInterval(sweep);
  await deps.release();
  adminServer.closeAllConnections();
  await new Promise<void>((resolve) => adminServer.close(() => resolve()));
  logger.info('stopped');
  deps.closeLogs();
}
