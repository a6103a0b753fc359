// Compiling route configuration into what requests read: done at load and at every reload, never
// per request. A route that cannot be compiled fails the load, not a request.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { poolKey, type UpstreamTls } from '../forward/pools.js';
import { loadErrorPage, type ErrorPage } from '../config/error-page.js';
import type { RouteConfig } from '../config/routes-schema.js';
import { buildHeaderPolicy } from '../forward/headers.js';
import type { PoolRegistry } from '../forward/pools.js';
import type { Clock } from '../clock.js';
import { UpstreamGroup, type UpstreamTarget } from '../forward/upstream-group.js';
import type { OverlapRoute } from '../routing/overlap.js';
import { RouteTable, type Matchable } from '../routing/table.js';
import { authenticateStage, type Authenticator, type AuthOutcomes } from './authn/authenticator.js';
import { policyStage } from './authz/policy.js';
import { csrfStage } from './csrf/csrf.js';
import type { CompiledRoute, Stage } from './exchange.js';
import type { TokenMinter } from './mint/minter.js';
import { compileCors } from './cors.js';
import { identityHeadersStage } from './identity-headers.js';
import { mintStage } from './mint/stage.js';

export interface CompileOptions {
  /** The routes file: errorPage paths are relative to its directory. */
  readonly routesFile: string;
  /** errorPages.html of gateway.yaml, for routes that name none. */
  readonly errorPage: ErrorPage | undefined;
  /** Loud warnings at load (a route that turns upstream TLS verification off). */
  readonly warn?: (msg: string, fields: Record<string, unknown>) => void;
  readonly pools: PoolRegistry;
  readonly clock: Clock;
  readonly ejectForMs: number;
  /** limits.maxBodySize: the default for routes that name none. */
  readonly defaultMaxBodySize: number;
  /** Identity headers: the built-in list and gateway.yaml's (`prefix*` entries drop by prefix). */
  readonly identityHeaders: readonly string[];
  /** trustedProxyHeaders: routing headers a trusted proxy may send. */
  readonly trustedProxyHeaders: readonly string[];
  /** gateway.yaml's routing section. */
  readonly routing: { readonly caseInsensitive: boolean; readonly refuseAmbiguousPaths: boolean };
  readonly auth: AuthDeps;
}

/** What authenticated routes are built from; made once at start, shared by every table. */
export interface AuthDeps {
  readonly session: Authenticator;
  readonly bearer: Authenticator;
  readonly minter: TokenMinter;
  readonly outcomes: AuthOutcomes;
  /** login.redirect: where browsers go when not signed in. */
  readonly loginRedirect: string | undefined;
  /** The login.oidc providers a route's `signIn` may name. */
  readonly signInProviders: ReadonlySet<string>;
  readonly challenge: string;
  /** publicOrigins: Origin values CSRF checks accept. */
  readonly allowedOrigins: ReadonlySet<string>;
  /** The gateway's cookies (session cookies of every mode, refresh): never forwarded, never set by an upstream. */
  readonly ownedCookies: readonly string[];
}

export function compileRoutes(file: readonly RouteConfig[], opts: CompileOptions): RouteTable<CompiledRoute> {
  const configs = file.flatMap(withRules);
  // What stripPrefix removes is the route's own path, for its rules too: a rule's longer path
  // would strip more and hand the upstream a path of the route's protected area.
  const stripFrom = new Map(file.flatMap((c) => [[c.name, c.match.path] as const, ...c.rules.map((r) => [`${c.name}.${r.name}`, c.match.path] as const)]));
  // Every header any route carries an internal token in is an internal-token header on all routes:
  // a client never gets to send one upstream, public routes included.
  const tokenHeaders = new Set(configs.filter((c) => c.auth !== 'public').map((c) => c.token.header));
  tokenHeaders.delete('authorization'); // handled by value: internal tokens are recognised by their typ
  const withTokenHeaders = { ...opts, identityHeaders: [...opts.identityHeaders, ...tokenHeaders] };
  return new RouteTable(
    configs.map((c) => compileRoute(c, withTokenHeaders, stripFrom.get(c.name) ?? c.match.path)),
    { refuseAmbiguous: opts.routing.refuseAmbiguousPaths },
  );
}

/**
 * A route's rules as routes of their own, before it: `<route>.<rule>`, the rule's path, methods,
 * auth, policy and CSRF setting, the rest the route's. A public rule drops the route's policy.
 */
function withRules(c: RouteConfig): RouteConfig[] {
  const rules = c.rules.map((r): RouteConfig => {
    const auth = r.auth ?? c.auth;
    return {
      ...c,
      name: `${c.name}.${r.name}`,
      match: { ...c.match, path: r.path, methods: r.methods ?? c.match.methods },
      auth,
      require: r.require ?? (auth === 'public' ? undefined : c.require),
      csrf: r.csrf ?? c.csrf,
      // The route's audience, not `<route>.<rule>`: the upstream is the route's.
      token: { ...c.token, audience: c.token.audience ?? c.name },
      rules: [],
    };
  });
  return [...rules, c];
}

function shapingOf(c: RouteConfig): CompiledRoute['responseHeaders'] {
  const { set, remove } = c.headers.response;
  if (Object.keys(set).length === 0 && remove.length === 0) return undefined;
  return { set: Object.entries(set).map(([n, v]) => [n.toLowerCase(), v] as const), remove: new Set(remove.map((n) => n.toLowerCase())) };
}

/** upstream.tls with its files read (relative to routes.yaml): at load and reload, never per request. */
function upstreamTls(c: RouteConfig, routesFile: string): UpstreamTls | undefined {
  const t = c.upstream.tls;
  if (!t) return undefined;
  const read = (f: string | undefined, key: string) => {
    if (f === undefined) return undefined;
    try {
      return readFileSync(resolve(dirname(routesFile), f));
    } catch (err) {
      throw new ConfigError([{ file: routesFile, line: 0, column: 0, path: `routes[${c.name}].upstream.tls.${key}`, message: `${f} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})` }]);
    }
  };
  return {
    ca: read(t.caFile, 'caFile'),
    servername: t.serverName,
    cert: read(t.certFile, 'certFile'),
    key: read(t.keyFile, 'keyFile'),
    rejectUnauthorized: !t.insecureSkipVerify,
  };
}

/** The pools a table sends through, so the registry can close the others after a reload. */
export function originsOf(table: RouteTable<CompiledRoute>): Set<string> {
  const out = new Set<string>();
  for (const r of table.routes) for (const t of r.upstream.targets) out.add(t.poolKey);
  return out;
}

function compileStages(c: RouteConfig, auth: AuthDeps): Stage[] {
  if (c.auth === 'public') return [];
  // A route that takes both tries the bearer token first: an invalid one is refused, never
  // downgraded to the cookie or to anonymous.
  const authenticators = c.auth === 'session' ? [auth.session] : c.auth === 'bearer' ? [auth.bearer] : [auth.bearer, auth.session];
  const stages: Stage[] = [
    authenticateStage(authenticators, {
      routeName: c.name,
      loginRedirect: c.auth === 'bearer' || c.unauthenticated === 'deny' ? undefined : c.signIn ? `/auth/oidc/${c.signIn}/start` : auth.loginRedirect,
      redirectEveryRead: c.unauthenticated === 'redirect',
      challenge: c.auth === 'session' ? auth.challenge : 'Bearer realm="gateway"',
      outcomes: auth.outcomes,
    }),
  ];
  if (c.require) stages.push(policyStage(c.require, (reason) => auth.outcomes.outcome(c.name, 'forbidden', reason)));
  if (c.csrf !== false || c.websocket) {
    stages.push(csrfStage(auth.allowedOrigins, { unsafeMethods: c.csrf !== false, requireToken: c.csrf === 'token' }));
  }
  const identity = identityHeadersStage(c.identityHeaders);
  if (identity) stages.push(identity);
  if (c.token.send) stages.push(mintStage(auth.minter, c.token.audience ?? c.name, c.token.header, c.token.claims));
  return stages;
}

function trimSlash(p: string): string {
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}

/** What the route table matches a route (or an expanded rule) by. */
function matchOf(c: RouteConfig, routing: CompileOptions['routing']): Matchable {
  let methods: Set<string> | null = null;
  if (c.match.methods) {
    methods = new Set(c.match.methods);
    // HEAD is GET without a body (RFC 9110 §9.3.2): a route that serves GET serves HEAD.
    if (methods.has('GET')) methods.add('HEAD');
  }
  return { host: c.match.host, prefix: trimSlash(c.match.path), methods, caseInsensitive: c.match.caseInsensitive ?? routing.caseInsensitive };
}

/**
 * Every route and rule as the table matches it, in the table's order (each route's rules first),
 * without compiling anything else: what `gateway check-config` looks for overlaps in.
 */
export function routeMatchables(file: readonly RouteConfig[], routing: CompileOptions['routing']): OverlapRoute[] {
  return file.flatMap((c) => withRules(c).map((x) => ({ name: x.name, ruleOf: x === c ? undefined : c.name, ...matchOf(x, routing) })));
}

function compileRoute(c: RouteConfig, opts: CompileOptions, stripPath: string): CompiledRoute {
  if (c.signIn !== undefined && !opts.auth.signInProviders.has(c.signIn)) {
    throw new ConfigError([{ file: opts.routesFile, line: 0, column: 0, path: `routes[${c.name}].signIn`, message: `names no provider of login.oidc in gateway.yaml (${[...opts.auth.signInProviders].join(', ') || 'none configured'})` }]);
  }
  const urls = c.upstream.urls ?? [c.upstream.url as string];
  const tls = upstreamTls(c, opts.routesFile);
  if (tls && !tls.rejectUnauthorized) opts.warn?.('!!! upstream.tls.insecureSkipVerify: this route accepts any certificate from its upstream; anyone on the path can read and change its traffic !!!', { route: c.name });
  const targets: UpstreamTarget[] = urls.map((raw) => {
    const u = new URL(raw);
    return {
      origin: u.origin,
      basePath: u.pathname === '/' ? '' : u.pathname.replace(/\/$/, ''),
      host: u.host,
      pool: opts.pools.get(u.origin, tls),
      poolKey: poolKey(u.origin, tls),
      tls,
      secure: u.protocol === 'https:',
    };
  });
  const { host, prefix, methods, caseInsensitive } = matchOf(c, opts.routing);
  const strip = trimSlash(stripPath);
  return {
    name: c.name,
    config: c,
    host,
    prefix,
    prefixSegments: strip === '/' ? 0 : strip.split('/').length - 1,
    methods,
    caseInsensitive,
    allow: methods ? [...methods].sort().join(', ') : undefined,
    auth: c.auth,
    websocket: c.websocket,
    stripPrefix: c.upstream.stripPrefix,
    preserveHost: c.upstream.preserveHost,
    hostOverride: c.upstream.host,
    requestHeaders: Object.entries(c.headers.request.set).flatMap(([name, value]) => [name.toLowerCase(), value]),
    responseHeaders: shapingOf(c),
    timeoutMs: c.upstream.timeoutMs,
    maxBodySize: c.maxBodySize ?? opts.defaultMaxBodySize,
    upstream: new UpstreamGroup(targets, opts.clock, opts.ejectForMs),
    // On authenticated routes the client's value of the token header is dropped: only the gateway's goes up.
    // The client's Authorization (its bearer token) never goes further either.
    headerPolicy: buildHeaderPolicy({
      // The route's identity headers are the gateway's to set, on public routes too (no client may fill them).
      drop: [
        ...opts.identityHeaders,
        ...Object.keys(c.identityHeaders),
        ...Object.keys(c.headers.request.set),
        ...c.headers.request.remove,
        ...(c.auth === 'public' ? [] : [c.token.header, 'authorization']),
      ],
      keepUnderscores: c.keepUnderscoreHeaders,
      keepFromTrusted: opts.trustedProxyHeaders,
    }),
    ownedCookies: opts.auth.ownedCookies,
    cors: c.cors ? compileCors(c.cors, c.match.methods) : undefined,
    errorPage: c.errorPage ? loadErrorPage(resolve(dirname(opts.routesFile), c.errorPage), { file: opts.routesFile, path: `routes[${c.name}].errorPage` }) : opts.errorPage,
    ownsCors: c.cors !== undefined,
    stages: compileStages(c, opts.auth),
  };
}
