// Every metric, defined in one place and registered on a registry handed in (tests and each
// gateway instance get their own). Labels are route names, methods from a fixed list, status
// codes and fixed reason words: never a raw path, host, header or any other client value. What
// every request updates is a hot metric (hot.ts): plain numbers, read by prom-client at scrape time.
import { collectDefaultMetrics, Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { HTTP_METHODS } from '../config/routes-schema.js';
import { HotCounter, HotHistogram } from './hot.js';
import { RequestMetrics } from './request-metrics.js';

/** Label for requests that matched no route. */
export const NO_ROUTE = '_none';

const KNOWN_METHODS: ReadonlySet<string> = new Set(HTTP_METHODS);
export function methodLabel(method: string | undefined): string {
  return method && KNOWN_METHODS.has(method) ? method : 'OTHER';
}

export interface MetricsOptions {
  readonly defaultMetrics: boolean;
  /** Log lines dropped so far because stdout's reader fell behind (log-stream.ts). */
  readonly logLinesDropped?: () => number;
}

export function createMetrics(registry: Registry, options: MetricsOptions = { defaultMetrics: true }) {
  const logLinesDropped = options.logLinesDropped ?? (() => 0);
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    logLinesDropped: new Counter({
      name: 'gateway_log_lines_dropped_total',
      help: 'Log lines dropped because the reader of stdout fell more than 16 MiB behind.',
      registers,
      collect() {
        this.reset();
        const n = logLinesDropped();
        if (n > 0) this.inc(n);
      },
    }),
    /** Requests, durations and in-flight: plain numbers per route on the hot path (request-metrics.ts). */
    request: new RequestMetrics(registry),
    upstreamErrors: new Counter({
      name: 'gateway_upstream_errors_total',
      help: 'Upstream failures by route and kind (connect, timeout, reset, aborted, fd_exhausted, other).',
      labelNames: ['route', 'kind'] as const,
      registers,
    }),
    acceptErrors: new Counter({
      name: 'gateway_accept_errors_total',
      help: 'Connections a listener could not accept, by listener and reason (fd_exhausted: out of file descriptors; other).',
      labelNames: ['listener', 'reason'] as const,
      registers,
    }),
    http2ResetFloods: new Counter({
      name: 'gateway_http2_reset_floods_total',
      help: 'HTTP/2 connections cut for resetting more streams a second than listen.tls.http2.maxResetsPerSecond (rapid reset).',
      registers,
    }),
    fdHigh: new Counter({
      name: 'gateway_fd_near_limit_total',
      help: 'Once-a-second checks that found the process at 90% or more of its file-descriptor limit (connections are being refused).',
      registers,
    }),
    clientErrors: new Counter({
      name: 'gateway_client_errors_total',
      help: 'Requests refused before routing (malformed, too large, smuggling shapes), by error code.',
      labelNames: ['code'] as const,
      registers,
    }),
    configReloads: new Counter({
      name: 'gateway_config_reloads_total',
      help: 'Routes reloads by result (success, failure).',
      labelNames: ['result'] as const,
      registers,
    }),
    configLastReloadSuccess: new Gauge({
      name: 'gateway_config_last_reload_success_timestamp_seconds',
      help: 'When the route table was last loaded successfully.',
      registers,
      // With workers: the oldest, so one worker left behind by a failed reload shows.
      aggregator: 'min',
    }),
    // With workers (workers.ts) the primary sums each series over the processes; these are per-process
    // copies of one value, so the host's is the largest, not the sum.
    routes: new Gauge({ name: 'gateway_routes', help: 'Routes in the active table.', registers, aggregator: 'max' }),
    authOutcomes: new HotCounter(registry, {
      name: 'gateway_auth_outcomes_total',
      help: 'Authentication outcomes by route, result (authenticated, refused, forbidden) and reason (authenticator id, error code, or the policy reason of a 403).',
      labelNames: ['route', 'result', 'reason'],
    }),
    sessionCache: new HotCounter(registry, {
      name: 'gateway_session_cache_total',
      help: 'Session lookups by cache result: hit, miss, or bypass (cache disabled or invalidation channel down).',
      labelNames: ['result'],
    }),
    storeDuration: new HotHistogram(registry, {
      name: 'gateway_session_store_duration_seconds',
      help: 'Session and sign-in rate-limit store (Redis) call latency by operation and result (ok, error).',
      labelNames: ['op', 'result'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    }),
    tokensMinted: new Counter({
      name: 'gateway_tokens_minted_total',
      help: 'Internal tokens signed (cache misses of the token cache), by audience.',
      labelNames: ['audience'] as const,
      registers,
    }),
    sessionsCreated: new Counter({ name: 'gateway_sessions_created_total', help: 'Sessions created.', registers }),
    redisErrors: new Counter({
      name: 'gateway_redis_errors_total',
      help: 'Failed session-store commands by operation and condition (timeout, disconnected, oom, readonly, loading, clusterdown, tryagain, masterdown, noreplicas, busy, other).',
      labelNames: ['op', 'condition'] as const,
      registers,
    }),
    redisReconnects: new Counter({
      name: 'gateway_redis_reconnects_total',
      help: 'Redis reconnection attempts by client (commands, subscriber): a restart, a failover followed, a network cut.',
      labelNames: ['client'] as const,
      registers,
    }),
    redisSlotRefreshes: new Counter({
      name: 'gateway_redis_slot_refreshes_total',
      help: 'Redis Cluster slot map refreshes (periodic, and after MOVED or a node change).',
      registers,
    }),
    sessionsUnreadable: new Counter({
      name: 'gateway_sessions_unreadable_total',
      help: 'Session records found in Redis that cannot be read as sessions (wrong type, bad JSON, missing fields): refused as invalid.',
      registers,
    }),
    sessionsRevoked: new Counter({
      name: 'gateway_sessions_revoked_total',
      help: 'Sessions ended before expiry, by reason (logout, logout_all, user_revoked, session_deleted, login_replaced, session_cap, user_unknown).',
      labelNames: ['reason'] as const,
      registers,
    }),
    oidcSignIns: new Counter({
      name: 'gateway_oidc_sign_ins_total',
      help: 'OpenID Connect sign-ins by provider and result (success, state_mismatch, provider_error, token_invalid, acr, amr).',
      labelNames: ['provider', 'result'] as const,
      registers,
    }),
    oidcBackchannel: new Counter({
      name: 'gateway_oidc_backchannel_logouts_total',
      help: 'Back-channel logout tokens by provider and result (ended, no_session, invalid, replayed).',
      labelNames: ['provider', 'result'] as const,
      registers,
    }),
    loginAttempts: new Counter({
      name: 'gateway_login_attempts_total',
      help: 'Sign-in attempts by result (success, invalid_credentials, rate_limited, error).',
      labelNames: ['result'] as const,
      registers,
    }),
    rateLimited: new Counter({
      name: 'gateway_rate_limit_refusals_total',
      help: 'Sign-ins refused by a rate limit, by limit (address, username, oidc_start).',
      labelNames: ['limit'] as const,
      registers,
    }),
    bearerOutcomes: new HotCounter(registry, {
      name: 'gateway_bearer_verifications_total',
      help: 'Bearer token verifications by issuer (from configuration, or "unknown"), result and reason.',
      labelNames: ['issuer', 'result', 'reason'],
    }),
    bearerCache: new HotCounter(registry, {
      name: 'gateway_bearer_cache_total',
      help: 'Verified-token cache lookups by result (hit, miss).',
      labelNames: ['result'],
    }),
    jwksFetches: new Counter({
      name: 'gateway_jwks_fetches_total',
      help: 'JWKS fetches by issuer and result (ok, error, http_error, too_large, malformed, no_signing_keys).',
      labelNames: ['issuer', 'result'] as const,
      registers,
    }),
    jwksFetchDuration: new Histogram({
      name: 'gateway_jwks_fetch_duration_seconds',
      help: 'JWKS fetch duration by issuer.',
      labelNames: ['issuer'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    jwksKeys: new Gauge({ name: 'gateway_jwks_keys', help: 'Keys held from each issuer\'s JWKS.', labelNames: ['issuer'] as const, registers, aggregator: 'max' }),
    jwksStale: new Counter({
      name: 'gateway_jwks_stale_served_total',
      help: 'Verifications served from a key set past its freshness while the issuer could not be reached.',
      labelNames: ['issuer'] as const,
      registers,
    }),
    refreshRotations: new Counter({ name: 'gateway_refresh_rotations_total', help: 'Refresh tokens rotated.', registers }),
    refreshReuse: new Counter({ name: 'gateway_refresh_reuse_detected_total', help: 'Refresh tokens presented after rotation (theft signal).', registers }),
    familiesRevoked: new Counter({
      name: 'gateway_refresh_families_revoked_total',
      help: 'Refresh-token families revoked, by reason (reuse, logout_all, user_revoked, family_cap, user_unknown).',
      labelNames: ['reason'] as const,
      registers,
    }),
    websocketsOpen: new Gauge({
      name: 'gateway_websockets_open',
      help: 'Upgraded (WebSocket) connections open now, by route.',
      labelNames: ['route'] as const,
      registers,
    }),
    websocketsClosed: new Counter({
      name: 'gateway_websockets_closed_total',
      help: 'Upgraded connections ended, by route and reason (logout, session_deleted, session_revoked, user_revoked, session_expired, session_idle, session_gone, token_expired, shutdown, client_closed, upstream_failed).',
      labelNames: ['route', 'reason'] as const,
      registers,
    }),
    websocketUpgrades: new Counter({
      name: 'gateway_websocket_upgrades_total',
      help: 'WebSocket upgrade attempts by route and result (proxied, refused, error).',
      labelNames: ['route', 'result'] as const,
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
