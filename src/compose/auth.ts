// Assembly of the authentication layer: session backend, session service, signing keys, token
// minter, the session authenticator, and the /auth/*, JWKS and admin endpoints. Part of the
// composition root (main.ts calls it); nothing else imports it.
import { dirname, resolve } from 'node:path';
import type { LoadedConfig } from '../config/load.js';
import { httpClaimsLookup, httpCredentialCheck, type VerifyCredentials } from '../endpoints/auth/verify.js';
import { evictingPolicies } from '../adapters/redis/eviction.js';
import type { RedisClient } from '../adapters/redis/client.js';
import { redisCondition } from '../adapters/redis/errors.js';
import { sharedLookups, type ClaimsRefresh } from '../sessions/claims-refresh.js';
import { authEndpoints } from '../endpoints/auth/endpoints.js';
import type { AdminLookup } from '../endpoints/admin.js';
import { adminRevokeEndpoint } from '../endpoints/admin-revoke.js';
import { JWKS_PATH, serveJwks } from '../endpoints/jwks.js';
import type { Readiness } from '../endpoints/readiness.js';
import { ConfigError } from '../errors.js';
import type { Clock } from '../clock.js';
import type { CookieAttributes } from '../wire/cookies.js';
import type { EndpointLookup } from '../http/handler.js';
import type { Exchange } from '../pipeline/exchange.js';
import { loadKeySet, type KeySet } from '../keys/keyset.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Authenticator } from '../pipeline/authn/authenticator.js';
import { expressSessionAuthenticator } from '../pipeline/authn/express-session.js';
import { sessionCookieAuthenticator } from '../pipeline/authn/session-cookie.js';
import { ExpressSessionReader } from '../adapters/redis/express-session.js';
import { TokenMinter } from '../pipeline/mint/minter.js';
import type { AuthDeps } from '../pipeline/route.js';
import { observedRateLimits, type StoreCallObserver } from '../rate-limit/store.js';
import { userRevoker } from '../revocation/revoke-user.js';
import { SessionService } from '../sessions/service.js';
import { createSessionBackend, type SessionBackend } from './session-backend.js';
import { undiciJwksFetch, type JwksFetch } from '../keys/remote-jwks.js';
import { outboundDispatcher } from './outbound.js';
import { buildTokenLayer, type TokenLayer } from './tokens.js';
import { buildOidcProviders } from './oidc.js';
import { flowCookieName, oidcEndpoints } from '../endpoints/auth/oidc/endpoints.js';
import { failClosed } from '../sessions/idp-store.js';

export interface AuthLayer {
  readonly routeDeps: AuthDeps;
  readonly endpoints: EndpointLookup;
  readonly adminEndpoints: AdminLookup;
  readonly sessions: SessionService;
  readonly keys: KeySet;
  readonly backend: SessionBackend;
  readonly tokens: TokenLayer;
  /** Ends every session, refresh family and access token of a user, on every instance. */
  revokeUser(sub: string, reason: string): Promise<number>;
  close(): Promise<void>;
}

export interface AuthLayerOptions {
  readonly config: LoadedConfig;
  /** For secrets named by environment variable (login.oidc.*.clientSecretEnv). */
  readonly env?: NodeJS.ProcessEnv;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly readiness: Readiness;
  /** Replaces the HTTP credential check (tests of the login flow without a backend). */
  readonly verify?: VerifyCredentials;
  /** Replaces the HTTP fetch of issuers' JWKS. */
  readonly jwksFetch?: JwksFetch;
  /** NODE_ENV=production: an evicting Redis stops the start and fails readiness, instead of a warning. */
  readonly production?: boolean;
}


/**
 * Redis must not evict: at start (and on every reconnect, where the server may have changed), a
 * policy other than noeviction stops a production start and is a loud error in development.
 */
async function checkEviction(redis: RedisClient, opts: AuthLayerOptions, logger: Logger): Promise<void> {
  const check = async (when: string) => {
    let policies: string[];
    try {
      policies = await evictingPolicies(redis);
    } catch (err) {
      // INFO refused (an ACL) or no answer: say so; production cannot vouch for the policy.
      const message = `Redis maxmemory-policy cannot be read (${err instanceof Error ? err.message.slice(0, 80) : String(err)}); it must be noeviction`;
      if (opts.production && when === 'start') {
        throw new ConfigError([{ file: opts.config.gatewayFile, line: 0, column: 0, path: 'redis', message }]);
      }
      logger.error({ when }, message);
      return;
    }
    if (policies.length === 0) return;
    const message = `Redis maxmemory-policy is ${[...new Set(policies)].join(', ')}: under memory pressure it silently deletes sessions, refresh families and revocations; set maxmemory-policy noeviction`;
    if (opts.production && when === 'start') {
      throw new ConfigError([{ file: opts.config.gatewayFile, line: 0, column: 0, path: 'redis', message }]);
    }
    logger.error({ when, policies }, `!!! ${message} !!!`);
  };
  if (redis.status === 'ready') await check('start');
  redis.on('ready', () => void check('reconnect').catch(() => undefined));
}

export async function buildAuthLayer(opts: AuthLayerOptions): Promise<AuthLayer> {
  const { config, clock, logger } = opts;
  const gw = config.gateway;
  // Keys first: a key problem must stop the start before any connection to Redis exists (one that
  // keeps reconnecting would keep the process alive after the error).
  const keys = await loadKeySet({
    dir: resolve(dirname(config.gatewayFile), gw.tokens.keys),
    algorithm: gw.tokens.algorithm,
    activeKid: gw.tokens.activeKid,
    generateDevKey: gw.tokens.generateDevKey,
    warn: (msg, fields) => logger.warn(fields ?? {}, msg),
  });
  const backend = await createSessionBackend(gw, clock, logger, {
    reconnecting: (client) => opts.metrics.redisReconnects.labels(client).inc(),
    slotsRefreshed: () => opts.metrics.redisSlotRefreshes.inc(),
  });
  if (backend.redis) {
    try {
      await checkEviction(backend.redis, opts, logger);
    } catch (err) {
      await backend.close();
      throw err;
    }
  }
  try {
    return await assemble(opts, keys, backend);
  } catch (err) {
    await backend.close();
    throw err;
  }
}

async function assemble(opts: AuthLayerOptions, keys: KeySet, backend: SessionBackend): Promise<AuthLayer> {
  const { config, clock, logger, metrics } = opts;
  const gw = config.gateway;
  const s = gw.session;
  if (backend.kind === 'redis') {
    const redis = backend.redis;
    opts.readiness.register({
      name: 'redis',
      check: async () => {
        await backend.store.ping();
        // In production an evicting Redis (one swapped in behind the same address) is not ready.
        if (opts.production && redis && (await evictingPolicies(redis)).length > 0) return 'maxmemory-policy is not noeviction';
        return undefined;
      },
    });
  }
  if (backend.kind === 'redis' && s.cacheTtl > 0) {
    // Only the session cache depends on the subscription; without a cache there is nothing to invalidate.
    opts.readiness.register({
      name: 'invalidation',
      check: async () => (backend.bus.connected ? undefined : 'pub/sub subscription down: session cache bypassed'),
    });
  }
  // During an outage every request fails the same way: one log line per condition per second.
  const lastLogged = new Map<string, number>();
  const redisFailure = (op: string, err: unknown) => {
    const condition = redisCondition(err);
    metrics.redisErrors.labels(op, condition).inc();
    const now = clock.now();
    if (now - (lastLogged.get(condition) ?? 0) < 1000) return;
    lastLogged.set(condition, now);
    logger.warn({ op, condition, cause: err instanceof Error ? err.message.slice(0, 120) : String(err) }, `redis command failed: ${condition}`);
  };
  const storeCall: StoreCallObserver = (op, seconds, ok, err) => {
    metrics.storeDuration.labels(op, ok ? 'ok' : 'error').observe(seconds);
    if (!ok) redisFailure(op, err);
  };
  const outbound = await outboundDispatcher(config);
  const touchIntervalMs = s.touchInterval ?? Math.min(60_000, Math.floor(s.idleTimeout / 4));
  // login.claimsUrl: revoking a user the source no longer knows needs the whole revokeUser below.
  let revokeEverywhere: (sub: string) => Promise<unknown> = async () => undefined;
  const claimsUrl = gw.login.claimsUrl;
  const claimsRefresh: ClaimsRefresh | undefined = claimsUrl
    ? {
        // Shared for half a touch interval (at most 5 s): fresh enough for each touch, one call per burst.
        lookup: sharedLookups(httpClaimsLookup(claimsUrl, gw.login.timeout, outbound), Math.min(5_000, Math.floor(touchIntervalMs / 2)), () => clock.now()),
        unknownUser: async (sub) => {
          logger.info({ sub }, 'the claims source no longer knows this user: revoked');
          await revokeEverywhere(sub);
        },
      }
    : undefined;
  const sessions = new SessionService(
    backend.store,
    backend.bus,
    clock,
    {
      idleTimeoutMs: s.idleTimeout,
      absoluteTimeoutMs: s.absoluteTimeout,
      touchIntervalMs,
      cacheTtlMs: s.cacheTtl,
      cacheMaxEntries: s.cacheMaxEntries,
      maxPerUser: s.maxPerUser,
    },
    {
      cache: (result) => metrics.sessionCache.labels(result).inc(),
      storeCall,
      created: () => metrics.sessionsCreated.inc(),
      revoked: (reason, count) => metrics.sessionsRevoked.labels(reason).inc(count),
      unreadable: (why) => {
        metrics.sessionsUnreadable.inc();
        logger.warn({ why }, 'a session record in Redis is unreadable: refused as an invalid session');
      },
    },
    claimsRefresh,
  );
  const minter = new TokenMinter(keys, gw.tokens.issuer, gw.tokens.ttl, clock, (aud) => metrics.tokensMinted.labels(aud).inc());
  const attrs: CookieAttributes = { sameSite: s.cookie.sameSite, secure: s.cookie.secure, domain: s.cookie.domain, path: s.cookie.path };
  const sessionAuth = sessionCookieAuthenticator(sessions, s.cookie.name, attrs);
  const allowedOrigins = new Set(gw.publicOrigins.map((o) => new URL(o).origin));
  // In express-session mode routes read the Express app's sessions; /auth/* keeps serving native ones.
  let routeAuth: Authenticator = sessionAuth;
  let routeCookie = s.cookie.name;
  if (s.format === 'express-session' && s.expressSession && backend.redis) {
    const es = s.expressSession;
    routeAuth = expressSessionAuthenticator(new ExpressSessionReader(backend.redis, es, clock), es.cookieName);
    routeCookie = es.cookieName;
  }

  const tokens = await buildTokenLayer({ config, backend, keys, clock, metrics, logger, jwksFetch: opts.jwksFetch ?? undiciJwksFetch(outbound), claimsRefresh });
  // One invalidation for every instance: drop the user's cached sessions, refuse older access tokens.
  const revokeUser = userRevoker({ families: tokens.refresh, notBefore: tokens.notBefore, sessions, clock });
  revokeEverywhere = (sub) => revokeUser(sub, 'user_unknown');

  const providers = await buildOidcProviders(config, opts.env ?? process.env, outbound, clock, metrics, logger);
  const auth = authEndpoints({
    endSession: async (idp) => providers.get(idp.provider)?.endSessionUrl(idp.idToken),
    revokeUser,
    refresh: tokens.refresh,
    refreshCookie: gw.accessTokens.refresh.cookieName,
    clock,
    pages: gw.pages,
    signInProviders: Object.entries(gw.login.oidc).map(([name, p]) => ({ name, label: p.label ?? name })),
    // The password form is on by default wherever there is a credential check to post it to.
    passwordSignIn: gw.login.password ?? gw.login.verifyUrl !== undefined,
    sessions,
    rateLimits: observedRateLimits(backend.rateLimits, storeCall),
    minter,
    sessionAuth,
    cookie: { name: s.cookie.name, attrs },
    verify: opts.verify ?? httpCredentialCheck(gw.login.verifyUrl, gw.login.timeout, outbound),
    rateLimit: gw.login.rateLimit,
    allowedOrigins,
    redirectOrigins: new Set([...allowedOrigins, ...gw.login.allowedRedirectOrigins.map((o) => new URL(o).origin)]),
    metrics,
    logger,
  });
  const oidc = oidcEndpoints({
    providers,
    store: failClosed(backend.idp),
    sessions,
    cookie: { name: s.cookie.name, attrs },
    redirectOrigins: new Set([...allowedOrigins, ...gw.login.allowedRedirectOrigins.map((o) => new URL(o).origin)]),
    signInPage: '/auth/login',
    forget: (handle) => minter.forget(handle),
    observe: {
      signIn: (provider, result) => metrics.oidcSignIns.labels(provider, result).inc(),
      backchannel: (provider, result) => metrics.oidcBackchannel.labels(provider, result).inc(),
      rateLimited: () => metrics.rateLimited.labels('oidc_start').inc(),
    },
    // Five times the password budget per address: a start costs no credential check, but a flow in Redis.
    startLimit: { store: observedRateLimits(backend.rateLimits, storeCall), max: gw.login.rateLimit.perAddress.max * 5, window: gw.login.rateLimit.perAddress.window },
    logger,
  });
  const jwks = { label: JWKS_PATH, run: async (ex: Exchange) => serveJwks(keys, ex.req, ex.res) };
  const endpoints: EndpointLookup = (method, path) =>
    path === JWKS_PATH && (method === 'GET' || method === 'HEAD') ? jwks : (oidc(method, path) ?? auth(method, path));

  const revokeEndpoint = adminRevokeEndpoint(revokeUser, logger);
  const adminEndpoints: AdminLookup = (method, path) =>
    path === JWKS_PATH && (method === 'GET' || method === 'HEAD') ? async (req, res) => serveJwks(keys, req, res) : revokeEndpoint(method, path);

  return {
    routeDeps: {
      session: routeAuth,
      bearer: tokens.bearer,
      minter,
      outcomes: { outcome: (route, result, reason) => metrics.authOutcomes.labels(route, result, reason).inc() },
      loginRedirect: gw.login.redirect,
      signInProviders: new Set(providers.keys()),
      challenge: `Cookie realm="gateway", cookie-name="${routeCookie}"`,
      allowedOrigins,
      // Every cookie the gateway owns, whichever one the routes authenticate with.
      ownedCookies: [...new Set([s.cookie.name, routeCookie, gw.accessTokens.refresh.cookieName, flowCookieName(attrs)])],
    },
    endpoints,
    adminEndpoints,
    sessions,
    keys,
    backend,
    tokens,
    revokeUser,
    close: async () => {
      tokens.close();
      await backend.close();
    },
  };
}
