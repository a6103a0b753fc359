// Assembly of the bearer side: trusted issuers with their cached JWKS, the gateway's own access
// and refresh tokens, and the per-user not-before registry that revokes access tokens everywhere.
import type { LoadedConfig } from '../config/load.js';
import type { Clock } from '../clock.js';
import type { KeySet } from '../keys/keyset.js';
import { RemoteJwks, undiciJwksFetch, type JwksFetch, type JwksObserver } from '../keys/remote-jwks.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Authenticator } from '../pipeline/authn/authenticator.js';
import { bearerAuthenticator } from '../pipeline/authn/bearer-jwt.js';
import type { TrustedIssuer } from '../pipeline/authn/issuer-token.js';
import type { ClaimsRefresh } from '../sessions/claims-refresh.js';
import { accessTokenSigner } from '../refresh/access-token.js';
import { MemoryNotBeforeStore } from '../adapters/memory/not-before-store.js';
import { RedisNotBeforeStore } from '../adapters/redis/not-before-store.js';
import { NotBeforeRegistry } from '../revocation/not-before.js';
import { MemoryRefreshStore } from '../adapters/memory/refresh-store.js';
import { RedisRefreshStore } from '../adapters/redis/refresh-store.js';
import { RefreshService } from '../refresh/service.js';
import type { SessionBackend } from './session-backend.js';

export interface TokenLayer {
  readonly bearer: Authenticator;
  readonly refresh: RefreshService;
  readonly notBefore: NotBeforeRegistry;
  readonly issuers: ReadonlyMap<string, TrustedIssuer>;
  close(): void;
}

export async function buildTokenLayer(opts: {
  config: LoadedConfig;
  backend: SessionBackend;
  keys: KeySet;
  clock: Clock;
  metrics: Metrics;
  logger: Logger;
  jwksFetch?: JwksFetch;
  claimsRefresh?: ClaimsRefresh | undefined;
}): Promise<TokenLayer> {
  const { config, backend, keys, clock, metrics, logger } = opts;
  const gw = config.gateway;
  const at = gw.accessTokens;
  const notBefore = new NotBeforeRegistry(
    backend.redis ? new RedisNotBeforeStore(backend.redis, gw.redis.keyPrefix) : new MemoryNotBeforeStore(),
    clock,
    gw.bearer.revocationSync,
    at.ttl,
  );
  await notBefore.start();
  // Revocations pushed by other instances apply at once; after a gap the map is re-read.
  backend.bus.subscribe(
    (e) => {
      if (e.type === 'user' && typeof e.notBefore === 'number') notBefore.apply(e.sub, e.notBefore);
    },
    () => void notBefore.sync().catch(() => undefined),
  );

  const issuers = new Map<string, TrustedIssuer>();
  for (const iss of gw.issuers) {
    const jwks = new RemoteJwks(
      iss.issuer,
      iss.jwksUrl,
      iss.algorithms,
      {
        minTtlMs: iss.jwks.minTtl,
        maxTtlMs: iss.jwks.maxTtl,
        cooldownMs: iss.jwks.cooldown,
        staleForMs: iss.jwks.staleFor,
        timeoutMs: iss.jwks.timeout,
        maxBytes: iss.jwks.maxBytes,
      },
      clock,
      opts.jwksFetch ?? undiciJwksFetch(),
      jwksObserver(metrics, logger),
    );
    issuers.set(iss.issuer, {
      issuer: iss.issuer,
      jwks,
      audiences: iss.audiences,
      algorithms: iss.algorithms,
      claims: iss.claims,
      clockToleranceS: Math.ceil(iss.clockTolerance / 1000),
      subjectAsIs: iss.subject === 'as_is',
    });
  }

  const bearer = bearerAuthenticator(
    issuers,
    { issuer: gw.tokens.issuer, audience: at.audience, keys },
    notBefore,
    clock,
    {
      outcome: (issuer, result, reason) => metrics.bearerOutcomes.labels(issuer, result, reason).inc(),
      cache: (result) => metrics.bearerCache.labels(result).inc(),
    },
    gw.bearer.cacheMaxEntries,
  );

  const refresh = new RefreshService(
    backend.redis ? new RedisRefreshStore(backend.redis, gw.redis.keyPrefix) : new MemoryRefreshStore(),
    accessTokenSigner(keys, gw.tokens.issuer, at.audience, at.ttl, clock, (sub) => notBefore.minIat(sub)),
    clock,
    { idleMs: at.refresh.idleTimeout, absoluteMs: at.refresh.absoluteTimeout, graceMs: at.refresh.graceWindow, maxFamiliesPerUser: at.refresh.maxFamiliesPerUser },
    {
      rotated: () => metrics.refreshRotations.inc(),
      reuseDetected: () => metrics.refreshReuse.inc(),
      familiesRevoked: (reason, n) => metrics.familiesRevoked.labels(reason).inc(n),
    },
    (sub) => logger.warn({ sub }, 'refresh token reuse detected: family revoked'),
    opts.claimsRefresh,
  );

  return { bearer, refresh, notBefore, issuers, close: () => notBefore.stop() };
}

/** How a JWKS cache's fetches are counted and told (issuers' and OpenID Connect providers' alike). */
export function jwksObserver(metrics: Metrics, logger: Logger): JwksObserver {
  return {
    fetched: (issuer, result, seconds, count) => {
      metrics.jwksFetches.labels(issuer, result).inc();
      metrics.jwksFetchDuration.labels(issuer).observe(seconds);
      metrics.jwksKeys.labels(issuer).set(count);
      if (result !== 'ok') logger.warn({ issuer, result }, 'JWKS fetch failed');
    },
    servedStale: (issuer) => metrics.jwksStale.labels(issuer).inc(),
  };
}
