// Assembly of the WebSocket registry (forward/live-sockets.ts): the session layer's timeouts and
// invalidation bus, and what it reports to metrics and logs. Part of the composition root.
import type { GatewayConfig } from '../config/schema.js';
import { LiveSockets } from '../forward/live-sockets.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/metrics.js';
import type { AuthLayer } from './auth.js';

export function buildLiveSockets(auth: AuthLayer, gw: GatewayConfig, clock: Clock, metrics: Metrics, logger: Logger): LiveSockets {
  let failed = 0;
  let loggedAt = 0;
  return new LiveSockets(
    auth.sessions,
    auth.backend.bus,
    clock,
    {
      idleTimeoutMs: auth.sessions.settings.idleTimeoutMs,
      touchIntervalMs: auth.sessions.settings.touchIntervalMs,
      framesAreActivity: gw.session.websocketIdle === 'frames',
      sweepMs: 1000,
    },
    {
      opened: (route) => metrics.websocketsOpen.labels(route).inc(),
      closed: (route, reason) => {
        metrics.websocketsOpen.labels(route).dec();
        metrics.websocketsClosed.labels(route, reason).inc();
        if (reason !== 'client_closed') logger.info({ route, reason }, 'websocket closed by the gateway');
      },
      // While Redis is down every socket's check fails each second: one line per 10 s, with the count.
      checkFailed: (err) => {
        failed++;
        if (clock.now() - loggedAt < 10_000) return;
        loggedAt = clock.now();
        logger.warn({ cause: (err as { code?: string }).code ?? String(err), failedChecks: failed }, 'websocket session checks failing; sockets stay open, retried each second');
        failed = 0;
      },
    },
  );
}
