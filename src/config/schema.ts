// The shape of config/gateway.yaml (routes.yaml: routes-schema.ts). Every key is documented in
// docs/configuration.md. Objects are strict: an unknown key is an error, because a misspelt
// security setting must never be silently ignored.
import { ISSUER_ALGORITHMS, SIGNING_ALGORITHMS } from '../jwt.js';
import { isIP } from 'node:net';
import { z } from 'zod';
import { CLIENT_ADDRESS_HEADERS, ROUTING_HEADERS } from './header-names.js';
import { parseDurationMs, parseSizeBytes } from './units.js';

export const duration = () =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const ms = parseDurationMs(v);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not a duration; write e.g. 500ms, 30s, 15m, 12h or 0` });
      return z.NEVER;
    }
    return ms;
  });

export const size = () =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const bytes = parseSizeBytes(v);
    if (bytes === undefined) {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not a size; write e.g. 16KiB, 10MB or a number of bytes` });
      return z.NEVER;
    }
    return bytes;
  });

// Numbers may arrive as strings from a quoted `"${PORT}"` (YAML flow maps need the quotes).
export const numeric = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v), schema);
const port = numeric(z.number().int().min(0).max(65535));
export const httpUrl = () =>
  z.string().refine(
    (v) => {
      try {
        const u = new URL(v);
        return (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password && !u.search && !u.hash;
      } catch {
        return false;
      }
    },
    { message: 'must be an absolute http:// or https:// URL without credentials, query or fragment' },
  );

const cidr = z.string().refine(
  (v) => {
    const [addr, bits, extra] = v.split('/');
    if (extra !== undefined || !addr) return false;
    const family = isIP(addr);
    if (family === 0) return false;
    if (bits === undefined) return true;
    const n = Number(bits);
    return /^\d+$/.test(bits) && n <= (family === 4 ? 32 : 128);
  },
  { message: 'must be an IP address or CIDR such as 10.0.0.0/8 or fd00::/8' },
);

export const headerName = z
  .string()
  .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'must be an HTTP header name')
  .transform((v) => v.toLowerCase());

/** A nested section whose keys all have defaults: omitting it means every default applies. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- every key of a section has a default
const section = <T extends z.core.$ZodLooseShape>(shape: T) => z.strictObject(shape).prefault({} as any);

const redisUrl = z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL');
const hostPort = z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, 'must be host:port');


const cssColor = z.string().regex(/^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/, 'must be a colour such as #1f5fbf');

/** One OpenID Connect provider of login.oidc (docs/oidc.md). */
const oidcProvider = z
  .strictObject({
    /** Shown on the sign-in page's button. */
    label: z.string().min(1).max(60).optional(),
    /** The issuer; its /.well-known/openid-configuration is read at start (and retried until it answers). */
    issuer: httpUrl(),
    clientId: z.string().min(1),
    /** The redirect URI registered with the provider; default: <first publicOrigins entry>/auth/oidc/<name>/callback. */
    redirectUri: httpUrl().optional(),
    /** The client secret, from a file (relative to gateway.yaml) or an environment variable; or privateKeyJwt. */
    clientSecretFile: z.string().min(1).optional(),
    clientSecretEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name').optional(),
    /** private_key_jwt client authentication: a PEM private key file (relative to gateway.yaml) and its algorithm. */
    privateKeyJwt: z.strictObject({ keyFile: z.string().min(1), algorithm: z.enum(['RS256', 'PS256', 'ES256', 'EdDSA']).default('RS256'), kid: z.string().min(1).optional() }).optional(),
    scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'must be a scope token')).default(['openid', 'email', 'profile']),
    /** The ID token's signature algorithm (registered with the provider as id_token_signed_response_alg; never taken from the token). */
    idTokenAlgorithm: z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']).default('RS256'),
    /** Session claims from ID token / userinfo claims by dotted path (`realm_access.roles`). `sub` is always the provider's sub. */
    claims: z.record(z.string().min(1), z.string().min(1)).default({ email: 'email', name: 'name' }),
    /** acr_values asked for; `acr` of the ID token must then be one of them. */
    acrValues: z.array(z.string().min(1)).optional(),
    /** amr values of which the ID token must carry at least one (e.g. mfa, otp, hwk). */
    requireAmr: z.array(z.string().min(1)).optional(),
    /**
     * An `email` the provider has not verified (email_verified is not true) is not put in the
     * session: an upstream keyed by email would take it for the mailbox's owner ("nOAuth").
     */
    requireVerifiedEmail: z.boolean().default(true),
    /** Read the userinfo endpoint after the code exchange (claims that are not in the ID token). */
    userinfo: z.boolean().default(false),
    /** RP-initiated logout at the provider (end_session_endpoint) after the local one. */
    endSession: z.boolean().default(true),
    /** Where the provider sends the browser after its logout; default: / of the first public origin. */
    postLogoutRedirect: httpUrl().optional(),
    /** OpenID Connect Back-Channel Logout 1.0 at POST /auth/oidc/<name>/backchannel-logout. */
    backchannelLogout: z.boolean().default(true),
    /** How the provider's users are named upstream: `scoped` (<issuer>#<sub>) or `plain` (the provider's sub). */
    subject: z.enum(['plain', 'scoped']).default('plain'),
  })
  .refine((p) => [p.clientSecretFile, p.clientSecretEnv, p.privateKeyJwt].filter((v) => v !== undefined).length <= 1, 'give at most one of clientSecretFile, clientSecretEnv, privateKeyJwt');

/** A listener's certificate (listen.tls, admin.tls): PEM files relative to gateway.yaml, reloaded on SIGHUP. */
const tlsFiles = z.strictObject({
  /** PEM certificate chain and private key, relative to gateway.yaml; reloaded on SIGHUP and when they change. */
  certFile: z.string().min(1),
  keyFile: z.string().min(1),
  minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
  /** OpenSSL cipher list for TLS 1.2; default: Mozilla's "intermediate". */
  ciphers: z.string().min(1).optional(),
  /**
   * Client certificates: `request` asks for one, `require` refuses the handshake without a valid
   * one; on the public listener a verified certificate's subject and fingerprint go upstream as X-Client-Cert-*.
   */
  clientCertificates: z.strictObject({ mode: z.enum(['request', 'require']), caFile: z.string().min(1) }).optional(),
});

export const gatewaySchema = z.strictObject({
  /** The public listener. */
  listen: z
    .strictObject({
      host: z.string().min(1).default('0.0.0.0'),
      port: port.default(8080),
      /** HTTPS on the public listener (http/tls.ts); absent: plain HTTP (behind a TLS terminator). */
      tls: tlsFiles
        .extend({
          /** Strict-Transport-Security on HTTPS answers; false to send none. */
          hsts: z
            .union([
              z.literal(false),
              z.strictObject({ maxAge: duration().default(365 * 86_400_000), includeSubDomains: z.boolean().default(false), preload: z.boolean().default(false) }),
            ])
            .prefault({}),
          /** A plain-HTTP port that only redirects (308) to HTTPS on listen.port. */
          redirectHttpPort: port.optional(),
          /** On the redirect port, /.well-known/acme-challenge/<token> is answered from this directory (HTTP-01, certbot --webroot). */
          acmeChallengeDir: z.string().min(1).optional(),
          /**
           * HTTP/2 by ALPN beside HTTP/1.1 on the same port (http/h2.ts); false: HTTP/1.1 only. Header
           * size and count limits are limits.maxHeaderSize and limits.maxHeaderCount, as for HTTP/1.1.
           */
          http2: z
            .union([
              z.literal(false),
              z.strictObject({
                /** Streams one connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS); Envoy's and nginx's default is 100–128. */
                maxConcurrentStreams: numeric(z.number().int().min(1).max(1000)).default(100),
                /** A connection with no frame for this long is closed with GOAWAY (its streams in flight finish). */
                idleTimeout: duration().default(60_000),
                /** Streams a client may reset in one second before its connection is cut (rapid reset, CVE-2023-44487). */
                maxResetsPerSecond: numeric(z.number().int().min(10).max(100_000)).default(200),
              }),
            ])
            .prefault({}),
        })
        .optional(),
    })
    .prefault({}),
  /** The admin listener: metrics, health, readiness, revocation. Keep it off the public network. */
  admin: section({
    host: z.string().min(1).default('127.0.0.1'),
    port: port.default(9090),
    /** Host names (besides IP addresses and localhost) accepted in Host: DNS rebinding defence. */
    allowedHosts: z.array(z.string().regex(/^[A-Za-z0-9.-]+$/, 'must be a host name without port')).default([]),
    /** File holding the bearer credential of mutating admin endpoints (at least 32 characters). */
    credentialFile: z.string().min(1).optional(),
    /** Environment variable holding that credential, when not in a file. */
    credentialEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name').optional(),
    /** HTTPS on the admin listener (and client certificates: a scraper or an operator's tool must present one). */
    tls: tlsFiles.optional(),
  }).refine((a) => !(a.credentialFile && a.credentialEnv), 'give credentialFile or credentialEnv, not both'),
  /** The routes file, relative to gateway.yaml. */
  routesFile: z.string().min(1).default('./routes.yaml'),
  /** Origins the gateway is reached at by browsers (CSRF and redirect checks). */
  publicOrigins: z.array(httpUrl()).default([]),
  /** Peers whose X-Forwarded-* headers are believed. */
  trustedProxies: z.array(cidr).default([]),
  redis: section({
    /** A single server. Ignored when sentinel or cluster is set. */
    url: redisUrl.default('redis://127.0.0.1:6379'),
    sentinel: z
      .strictObject({
        name: z.string().min(1),
        nodes: z.array(hostPort).min(1),
        password: z.string().optional(),
        sentinelPassword: z.string().optional(),
        db: numeric(z.number().int().min(0)).default(0),
      })
      .optional(),
    cluster: z
      .strictObject({
        nodes: z.array(redisUrl).min(1),
        password: z.string().optional(),
        /** How often the slot map is re-read, so a frozen master's promoted replica is found. */
        slotsRefreshInterval: duration().default(2_000),
      })
      // One TLS setting for every node: a mix would leave some connections in clear.
      .refine((c) => new Set(c.nodes.map((u) => u.startsWith('rediss:'))).size === 1, 'give every node as rediss:// (TLS) or every node as redis://, not a mix')
      .optional(),
    /** Prefix of every key the gateway writes (not of express-session keys). */
    keyPrefix: z.string().regex(/^[A-Za-z0-9:_.-]*$/, 'must be letters, digits, ":", "_", "." or "-"').default('gw:'),
    /** A command that has not answered by then fails (fail closed: 503). */
    commandTimeout: duration().default(500),
    connectTimeout: duration().default(2_000),
    /**
     * Commands issued in one turn of the event loop share one write and one read (ioredis
     * enableAutoPipelining): less CPU per request when the session cache is off or missed.
     */
    autoPipelining: z.boolean().default(false),
  }).refine((r) => !(r.sentinel && r.cluster), 'give sentinel or cluster, not both'),
  /** Additional client headers that carry identity and must never reach an upstream (`name` or `prefix*`). */
  identityHeaders: z.array(headerName).default([]),
  /** Routing and client-address headers (X-Forwarded-Prefix, CF-Connecting-IP, ...) passed on when the peer is in trustedProxies. */
  trustedProxyHeaders: z.array(z.preprocess((v) => (typeof v === 'string' ? v.toLowerCase() : v), z.enum([...ROUTING_HEADERS, ...CLIENT_ADDRESS_HEADERS]))).default([]),
  routing: section({
    /** Default of match.caseInsensitive for routes that do not set it. */
    caseInsensitive: z.boolean().default(false),
    /** 400 ambiguous_path when ignoring case, trailing dots or compatibility characters would select another route. */
    refuseAmbiguousPaths: z.boolean().default(true),
  }),
  limits: section({
    maxHeaderSize: size().default(16 * 1024),
    /** More header lines than this: 431 too_many_headers (Envoy's default is 100). */
    maxHeaderCount: numeric(z.number().int().min(10).max(1000)).default(100),
    maxUrlLength: size().default(8 * 1024),
    maxBodySize: size().default(10 * 1000 * 1000),
    requestTimeout: duration().default(300_000),
    headersTimeout: duration().default(30_000),
    keepAliveTimeout: duration().default(5_000),
  }),
  upstreams: section({
    maxConnectionsPerOrigin: numeric(z.number().int().positive()).default(256),
    connectTimeout: duration().default(5_000),
    keepAliveTimeout: duration().default(30_000),
    ejectFor: duration().default(10_000),
  }),
  session: section({
    /** redis, or memory: one instance only, for development and tests. */
    store: z.enum(['redis', 'memory']).default('redis'),
    /** Development only: when Redis does not answer at start, run on the memory store with a loud warning. */
    memoryFallback: z.boolean().default(false),
    format: z.enum(['native', 'express-session']).default('native'),
    cookie: section({
      name: z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'must be a cookie name').default('__Host-session'),
      sameSite: z.enum(['lax', 'strict', 'none']).default('lax'),
      secure: z.boolean().default(true),
      domain: z.string().optional(),
      path: z.string().startsWith('/').default('/'),
    }),
    idleTimeout: duration().default(30 * 60_000),
    absoluteTimeout: duration().default(12 * 3_600_000),
    /** The idle TTL is pushed forward at most this often per session (default: a quarter of idleTimeout, at most 1m). */
    touchInterval: duration().optional(),
    /** Live sessions per user; a new sign-in beyond it ends the user's oldest session. */
    maxPerUser: numeric(z.number().int().min(1).max(10_000)).default(50),
    /** Whether WebSocket frames keep a session alive (frames) or only HTTP requests do (requests). */
    websocketIdle: z.enum(['frames', 'requests']).default('frames'),
    /** In-process cache of sessions; 0 disables. Revocation reaches every instance's cache through pub/sub. */
    cacheTtl: duration().default(2_000),
    cacheMaxEntries: numeric(z.number().int().positive()).default(10_000),
    expressSession: z
      .strictObject({
        /** express-session's `secret` list: any of them verifies a cookie (rotation). */
        secrets: z.array(z.string().min(1)).min(1),
        cookieName: z.string().default('connect.sid'),
        prefix: z.string().default('sess:'),
        /** Dotted path of the user id in the session record. */
        subject: z.string().default('user.id'),
        /** Claim name → dotted path in the session record. */
        claims: z.record(z.string(), z.string()).default({}),
      })
      .optional(),
  }),
  /** The gateway's own error pages for browsers (config/error-page.ts). */
  errorPages: section({
    /** An HTML template (relative to gateway.yaml); default: a plain built-in page. */
    html: z.string().min(1).optional(),
  }),
  /** The gateway's own HTTPS calls (issuers' JWKS, login.verifyUrl, login.claimsUrl). */
  outboundTls: section({
    /** A PEM CA bundle trusted besides the system CAs (a private CA of the identity service), relative to gateway.yaml. */
    caFile: z.string().min(1).optional(),
  }),
  /**
   * Gateway processes on this host sharing the listeners (workers.ts): a number, or `auto` (one per
   * core). Each has its own caches; all share Redis, so sessions must be in Redis.
   */
  workers: z.union([z.literal('auto'), numeric(z.number().int().min(1).max(64))]).default(1),
  /**
   * Forward-auth (http/decide.ts): /auth/decide answers nginx auth_request, Caddy forward_auth,
   * Traefik ForwardAuth and Envoy ext_authz from trustedProxies (docs/forward-auth.md).
   */
  forwardAuth: section({
    enabled: z.boolean().default(false),
    /**
     * The edge proxy that asks: its headers, and only its, say what the original request was
     * (nginx: X-Original-URL/-Method; caddy, traefik: X-Forwarded-Method/-Uri/-Host/-Proto; envoy:
     * the path after /auth/decide). Another's in a request are a client's, and refused.
     */
    edge: z.enum(['nginx', 'caddy', 'traefik', 'envoy']).optional(),
  }).refine((f) => !f.enabled || f.edge !== undefined, { message: 'say which edge proxy asks for decisions: edge: nginx | caddy | traefik | envoy', path: ['edge'] }),
  /** The sign-in and devices pages: plain server-rendered HTML, themed here without forking. */
  pages: section({
    productName: z.string().min(1).max(80).default('Gateway'),
    /** An https:// (or same-origin path) image shown above the forms; none by default. */
    logoUrl: z.string().regex(/^(https:\/\/[^\s"'<>]+|\/[^\s"'<>]*)$/, 'must be an https:// URL or a path starting with /').optional(),
    /** CSS colours: #rgb or #rrggbb only (they are written into a stylesheet). */
    colors: section({
      primary: cssColor.default('#1f5fbf'),
      background: cssColor.default('#f6f7f9'),
      text: cssColor.default('#1b1f24'),
    }),
  }),
  login: section({
    /**
     * OpenID Connect providers to sign in with (endpoints/auth/oidc.ts), by name: the sign-in page
     * offers each; a route's `signIn` can name one.
     */
    oidc: z.record(z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'must be a short lower-case name'), oidcProvider).default({}),
    /** Offer the password form (posting to verifyUrl); default: on when verifyUrl is set. */
    password: z.boolean().optional(),
    /** The legacy backend's credential check: 200 {"sub", "claims"} or 401. */
    verifyUrl: httpUrl().optional(),
    /** The source of users' current claims: asked at each session touch and refresh rotation (200 {"claims"} or 404). */
    claimsUrl: httpUrl().optional(),
    /** Where browsers asking for HTML are sent when not signed in. */
    redirect: z.string().default('/auth/login'),
    /** Origins besides publicOrigins that a post-login `redirect` may point at. */
    allowedRedirectOrigins: z.array(httpUrl()).default([]),
    timeout: duration().default(5_000),
    rateLimit: section({
      perAddress: section({ max: numeric(z.number().int().positive()).default(20), window: duration().default(15 * 60_000) }),
      perUsername: section({ max: numeric(z.number().int().positive()).default(5), window: duration().default(15 * 60_000) }),
    }),
  }),
  tokens: section({
    issuer: z.string().min(1).default('https://gateway.internal'),
    ttl: duration().default(60_000),
    algorithm: z.enum(SIGNING_ALGORITHMS).default('ES256'),
    /** Directory of PEM or JWK files, relative to gateway.yaml. */
    keys: z.string().default('./keys'),
    /** The kid that signs; default: the first private key by file name. */
    activeKid: z.string().optional(),
    /** Development only: generate a signing key at start when the directory holds none (warns). */
    generateDevKey: z.boolean().default(false),
  }),
  /** Other issuers whose bearer JWTs are accepted on bearer routes. */
  issuers: z
    .array(
      z.strictObject({
        /** `iss`, compared exactly. No `#`: scoped subjects are `<issuer>#<sub>`. */
        issuer: z.string().min(1).refine((v) => !v.includes('#'), 'must not contain "#" (scoped subjects are <issuer>#<sub>)'),
        jwksUrl: httpUrl(),
        /** At least one must be in `aud`. */
        audiences: z.array(z.string().min(1)).min(1),
        /** Pinned here, never taken from the token. */
        algorithms: z.array(z.enum(ISSUER_ALGORITHMS)).min(1),
        /** Principal claim → dotted path in the token. `sub` is required. */
        claims: z.record(z.string(), z.string()).default({ sub: 'sub' }),
        /**
         * `scoped`: the internal token's sub is `<issuer>#<sub>`, so this issuer's users can never
         * speak for local users (or another issuer's) with the same sub; `as_is`: the sub unchanged.
         */
        subject: z.enum(['scoped', 'as_is']).default('scoped'),
        clockTolerance: duration().default(30_000),
        jwks: section({
          /** Bounds on the issuer's Cache-Control max-age. */
          minTtl: duration().default(60_000),
          maxTtl: duration().default(86_400_000),
          /** A refetch for an unknown kid happens at most this often. */
          cooldown: duration().default(30_000),
          /** How long the last good key set keeps serving while the issuer is down. */
          staleFor: duration().default(3_600_000),
          timeout: duration().default(5_000),
          maxBytes: size().default(256 * 1024),
        }),
      }),
    )
    .default([]),
  bearer: section({
    /** Verified tokens cached (by a hash of the token) until their exp; 0 disables the cache. */
    cacheMaxEntries: numeric(z.number().int().min(0)).default(10_000),
    /** Per-user "not before" times are re-read from Redis at least this often (pub/sub pushes them at once). */
    revocationSync: duration().default(5_000),
  }),
  /** Access and refresh tokens the gateway issues itself (POST /auth/token, /auth/refresh). */
  accessTokens: section({
    /** `aud` of the gateway's own access tokens. */
    audience: z.string().min(1).default('gateway'),
    ttl: duration().default(15 * 60_000),
    refresh: section({
      idleTimeout: duration().default(14 * 86_400_000),
      absoluteTimeout: duration().default(90 * 86_400_000),
      /** Live refresh-token families per user; issuing one more revokes the oldest. */
      maxFamiliesPerUser: numeric(z.number().int().min(1).max(10_000)).default(20),
      /** A client that lost the answer may retry with the same token this long and get the same new pair. */
      graceWindow: duration().default(30_000),
      /** HttpOnly cookie, scoped to the refresh path, for browsers that ask for it. */
      cookieName: z.string().default('__Secure-refresh'),
    }),
  }),
  /** Reload routes.yaml when it changes on disk (SIGHUP always reloads). */
  reload: section({ watchFile: z.boolean().default(true) }),
  shutdown: section({
    drainTimeout: duration().default(15_000),
    /** Between readiness turning 503 and the listener closing: time for a load balancer to stop sending (Kubernetes preStop). */
    readinessDelay: duration().default(0),
  }),
  log: section({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    accessLog: z.boolean().default(true),
  }),
}).superRefine((g, ctx) => {
  const c = g.session.cookie;
  if (c.name.startsWith('__Host-') && (c.domain !== undefined || c.path !== '/' || !c.secure)) {
    ctx.addIssue({ code: 'custom', path: ['session', 'cookie'], message: 'a __Host- cookie needs secure: true, path: / and no domain (browsers reject it otherwise)' });
  }
  if (c.name.startsWith('__Secure-') && !c.secure) {
    ctx.addIssue({ code: 'custom', path: ['session', 'cookie', 'secure'], message: 'a __Secure- cookie needs secure: true' });
  }
  if (c.sameSite === 'none' && !c.secure) {
    ctx.addIssue({ code: 'custom', path: ['session', 'cookie', 'sameSite'], message: 'sameSite: none needs secure: true (browsers reject it otherwise)' });
  }
  if (g.session.absoluteTimeout < g.session.idleTimeout) {
    ctx.addIssue({ code: 'custom', path: ['session', 'absoluteTimeout'], message: 'must not be shorter than idleTimeout' });
  }
  if (g.session.format === 'express-session' && !g.session.expressSession) {
    ctx.addIssue({ code: 'custom', path: ['session', 'expressSession'], message: 'is required with format: express-session' });
  }
  if (g.session.format === 'express-session' && (g.session.store !== 'redis' || g.session.memoryFallback)) {
    ctx.addIssue({ code: 'custom', path: ['session', 'format'], message: 'express-session sessions are read from Redis: needs store: redis without memoryFallback' });
  }
  const seen = new Set<string>();
  g.issuers.forEach((iss, i) => {
    if (seen.has(iss.issuer)) ctx.addIssue({ code: 'custom', path: ['issuers', i, 'issuer'], message: 'is listed twice' });
    seen.add(iss.issuer);
    if (iss.issuer === g.tokens.issuer) {
      ctx.addIssue({ code: 'custom', path: ['issuers', i, 'issuer'], message: 'is the gateway\'s own issuer (tokens.issuer); its access tokens are accepted without listing it' });
    }
    if (!('sub' in iss.claims)) ctx.addIssue({ code: 'custom', path: ['issuers', i, 'claims'], message: 'must map sub' });
  });
  // Two sources naming users by their own plain ids would make one gateway user of two people
  // (the same sub at two providers, or a provider's sub equal to a password user's).
  const plainIssuers = new Set(Object.values(g.login.oidc).filter((p) => p.subject === 'plain').map((p) => p.issuer));
  const passwords = (g.login.password ?? g.login.verifyUrl !== undefined) ? 1 : 0;
  if (plainIssuers.size + passwords > 1) {
    ctx.addIssue({ code: 'custom', path: ['login', 'oidc'], message: `${plainIssuers.size + passwords} sources of users name them by plain ids (${[...plainIssuers].join(', ')}${passwords ? ', the password sign-in' : ''}): give providers subject: scoped, so a provider's sub can never be another source's user` });
  }
  // Several processes each with sessions of its own would be several gateways that cannot revoke each other's.
  if (g.workers !== 1 && (g.session.store !== 'redis' || g.session.memoryFallback)) {
    ctx.addIssue({ code: 'custom', path: ['workers'], message: 'several workers share sessions through Redis: needs session.store: redis without memoryFallback' });
  }
  if (g.tokens.ttl <= 0 || g.tokens.ttl > 3_600_000) {
    ctx.addIssue({ code: 'custom', path: ['tokens', 'ttl'], message: 'must be between 1s and 1h: internal tokens are short-lived' });
  }
});

export type GatewayConfig = z.output<typeof gatewaySchema>;
