// The shape of config/routes.yaml: the route table people edit most, reloaded without a restart.
// Every key is documented in docs/configuration.md#routesyaml. Objects are strict (see schema.ts).
import { z } from 'zod';
import { policySchema, type PolicyConfig } from './policy-schema.js';
import { duration, headerName, httpUrl, numeric, size } from './schema.js';

export const AUTH_MODES = ['public', 'session', 'bearer', 'session_or_bearer'] as const;

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT'] as const;

/** Where an identity header's value comes from: `sub`, `via`, or a dotted claim path; lists joined by `join`. */
const identityHeader = z.union([
  z.string().min(1),
  z.strictObject({ from: z.string().min(1), join: z.string().max(8).optional() }),
]);
export type IdentityHeaderConfig = z.output<typeof identityHeader>;
/** `https://app.example.com`, `https://*.example.com`, or `*` (any origin, never with credentials). */
const corsOrigin = z
  .string()
  .refine((o) => o === '*' || /^https?:\/\/(\*\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?$/.test(o), 'must be an origin such as https://app.example.com, a pattern https://*.example.com, or *');
const cors = z
  .strictObject({
    origins: z.array(corsOrigin).min(1),
    /** Methods a page may use; default: the route's match.methods, else GET, HEAD, POST, PUT, PATCH, DELETE. */
    methods: z.array(z.enum(HTTP_METHODS)).min(1).optional(),
    /** Request headers a page may send besides the safelisted ones; default: authorization, content-type, x-csrf-token, x-requested-with. */
    headers: z.array(headerName).optional(),
    exposeHeaders: z.array(headerName).default([]),
    /** Cookies and Authorization from the page (Access-Control-Allow-Credentials). */
    credentials: z.boolean().default(false),
    /** How long a browser may cache a preflight answer. */
    maxAge: duration().default(600_000),
  })
  .refine((c) => !(c.credentials && c.origins.includes('*')), 'credentials with origin * would let any site read answers made with the user\'s credentials: list the origins');
export type CorsConfig = z.output<typeof cors>;

/** A header value the gateway writes as it is: visible ASCII, spaces and tabs. */
const headerValue = z.string().regex(/^[\x20-\x7e\t]*$/, 'must be printable ASCII');
const shaping = z
  .strictObject({
    /** Headers set (replacing any of the same name). */
    set: z.record(headerName, headerValue).default({}),
    /** Headers removed. */
    remove: z.array(headerName).default([]),
  })
  .prefault({});
const headerShaping = z
  .strictObject({ request: shaping, response: shaping })
  .prefault({})
  .superRefine((h, ctx) => {
    for (const side of ['request', 'response'] as const) {
      for (const name of [...Object.keys(h[side].set), ...h[side].remove]) {
        const n = name.toLowerCase();
        if (GATEWAY_OWNED.has(n) || n === 'set-cookie' || n.startsWith('access-control-')) {
          ctx.addIssue({ code: 'custom', path: [side, name], message: 'is the gateway\'s to set (framing, identity, cookies, CORS)' });
        }
      }
    }
  });
export type HeaderShaping = z.output<typeof headerShaping>;

/** Headers an identity header may not name: the gateway sets them for its own reasons. */
const GATEWAY_OWNED = new Set(['host', 'authorization', 'cookie', 'content-length', 'transfer-encoding', 'connection', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id']);


// Route paths are literal: segments of unreserved characters and a few sub-delims, no dot
// segments, no empty segments, no percent-encoding, no `;`. What the normalizer produces can
// then be compared with them byte for byte.
const ROUTE_PATH = /^\/(?:[A-Za-z0-9\-_~!$&'()*+,=:@]|\.(?!\.?(?:\/|$)))*(?:\/(?:[A-Za-z0-9\-_~!$&'()*+,=:@]|\.(?!\.?(?:\/|$)))+)*\/?$/;
const HOST_PATTERN = /^(\*\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

function routePath() {
  return z
    .string()
    .refine((v) => ROUTE_PATH.test(v) && !v.includes('//'), 'must start with "/" and hold only plain segments (no "..", ".", "//", "%", ";" or query)');
}

/**
 * A rule inside a route: a sub-path (and methods) with its own authentication and policy, for static
 * assets, health pages or a webhook under a protected application. Everything else is the route's.
 * At load each rule becomes a route of its own (named `<route>.<rule>`), placed before its route,
 * so the same matching, normalization and case rules decide which one applies.
 */
const ruleSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,30}$/, 'must be 1-31 letters, digits, "_" or "-"'),
  path: routePath(),
  methods: z.array(z.enum(HTTP_METHODS)).min(1).optional(),
  auth: z.enum(AUTH_MODES).optional(),
  require: policySchema.optional(),
  csrf: z.union([z.boolean(), z.literal('token')]).optional(),
});
export type RuleConfig = z.output<typeof ruleSchema>;

const routeSchema = z.strictObject({
  /** Unique; used in logs and metric labels. */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'must be 1-63 letters, digits, "_", "." or "-"'),
  match: z.strictObject({
    host: z
      .string()
      .transform((v) => v.toLowerCase())
      .refine((v) => HOST_PATTERN.test(v), 'must be a host name such as api.example.com or *.example.com (no port)')
      .optional(),
    path: routePath(),
    methods: z.array(z.enum(HTTP_METHODS)).min(1).optional(),
    /** Match the path ignoring case (and trailing dots, compatibility characters); default routing.caseInsensitive. */
    caseInsensitive: z.boolean().optional(),
  }),
  upstream: z
    .strictObject({
      url: httpUrl().optional(),
      urls: z.array(httpUrl()).min(1).optional(),
      stripPrefix: z.boolean().default(false),
      timeoutMs: numeric(z.number().int().positive().max(3_600_000)).default(30_000),
      preserveHost: z.boolean().default(false),
      /** TLS to https:// upstreams: verified against the system CAs unless caFile says otherwise. */
      tls: z
        .strictObject({
          /** PEM CA bundle (relative to routes.yaml) the upstream's certificate must chain to. */
          caFile: z.string().min(1).optional(),
          /** SNI and the name to verify; default: the upstream URL's host. */
          serverName: z.string().regex(/^[A-Za-z0-9.-]+$/, 'must be a host name').optional(),
          /** Client certificate and key for mTLS (relative to routes.yaml). */
          certFile: z.string().min(1).optional(),
          keyFile: z.string().min(1).optional(),
          /** Accept any certificate: only for a test upstream; logged loudly at every load. */
          insecureSkipVerify: z.boolean().default(false),
        })
        .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), 'give both certFile and keyFile, or neither')
        .optional(),
      /** The Host the upstream gets (a virtual host on a shared server); default: the upstream URL's. */
      host: z.string().regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, 'must be a host name, optionally with a port').optional(),
    })
    .refine((u) => (u.url === undefined) !== (u.urls === undefined), 'give exactly one of url or urls')
    .refine((u) => !(u.preserveHost && u.host !== undefined), 'give at most one of preserveHost and host'),
  auth: z.enum(AUTH_MODES),
  websocket: z.boolean().default(false),
  /** Who may pass, once authenticated (config/policy-schema.ts). 403 `forbidden` with a reason otherwise. */
  require: policySchema.optional(),
  /**
   * Headers filled from the principal for backends that cannot verify the internal token:
   * `{X-Forwarded-User: sub, X-Forwarded-Email: email, X-Forwarded-Groups: {from: groups, join: ","}}`.
   */
  identityHeaders: z
    .record(headerName, identityHeader)
    .superRefine((headers, ctx) => {
      for (const name of Object.keys(headers)) {
        if (GATEWAY_OWNED.has(name.toLowerCase())) ctx.addIssue({ code: 'custom', path: [name], message: 'is set by the gateway itself' });
      }
    })
    .default({}),
  /** The internal token minted for the upstream. */
  token: z
    .strictObject({
      /** `aud` of the token; default: the route's name. */
      audience: z.string().min(1).optional(),
      /** Header that carries it; `authorization` sends `Bearer <jwt>`, any other header the bare JWT. */
      header: headerName.default('authorization'),
      /** Session claims copied into the token. */
      claims: z.array(z.string().min(1)).default([]),
      /** false: no internal token (a backend that reads only identity headers). */
      send: z.boolean().default(true),
    })
    .prefault({}),
  /** Request and response headers set or removed on this route (after the gateway's own hygiene). */
  headers: headerShaping,
  /**
   * Who gets what when not signed in: `auto` (browsers asking for HTML go to login.redirect, the
   * rest 401), `redirect` (every GET/HEAD goes to sign in), `deny` (always 401, never a redirect).
   */
  unauthenticated: z.enum(['auto', 'redirect', 'deny']).default('auto'),
  /** Sign browsers in with this login.oidc provider (straight to it, no chooser); default: the sign-in page (login.redirect). */
  signIn: z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'must be the name of a login.oidc provider').optional(),
  /** CORS for pages of other origins (pipeline/cors.ts): preflights answered by the gateway. */
  cors: cors.optional(),
  /** CSRF checks for cookie-authenticated unsafe methods: true (origin checks), "token" (also X-CSRF-Token), false. */
  csrf: z.union([z.boolean(), z.literal('token')]).default(true),
  /** Forward client headers whose names hold `_` (dropped by default: CGI servers read X_User as X-User). */
  keepUnderscoreHeaders: z.boolean().default(false),
  /** Largest request body; defaults to limits.maxBodySize of gateway.yaml. */
  maxBodySize: size().optional(),
  /** An HTML template for this route's error pages (relative to routes.yaml); default: errorPages.html of gateway.yaml. */
  errorPage: z.string().min(1).optional(),
  /** Sub-paths with their own auth and policy (public assets, a webhook, an admin area). */
  rules: z.array(ruleSchema).default([]),
}).superRefine((route, ctx) => {
  policyIssues(route.auth, route.require, [], ctx);
  // One source per header: an identity header also set by headers.request.set would reach the upstream twice.
  const identity = new Set(Object.keys(route.identityHeaders).map((n) => n.toLowerCase()));
  for (const name of Object.keys(route.headers.request.set)) {
    if (identity.has(name.toLowerCase())) ctx.addIssue({ code: 'custom', path: ['headers', 'request', 'set', name], message: 'is already an identity header of this route' });
  }
  const base = route.match.path.length > 1 && route.match.path.endsWith('/') ? route.match.path.slice(0, -1) : route.match.path;
  route.rules.forEach((rule, j) => {
    if (!(base === '/' || rule.path === base || rule.path.startsWith(`${base}/`))) {
      ctx.addIssue({ code: 'custom', path: ['rules', j, 'path'], message: `is not under the route's match.path (${route.match.path})` });
    }
    const auth = rule.auth ?? route.auth;
    // A public rule drops the route's policy; otherwise the rule's own, or the route's.
    policyIssues(auth, rule.require ?? (auth === 'public' ? undefined : route.require), ['rules', j], ctx, rule.require !== undefined);
  });
});

/** Policies no request could ever pass, or that would never run: refused at load, not found in production. */
function policyIssues(auth: (typeof AUTH_MODES)[number], require: PolicyConfig | undefined, at: (string | number)[], ctx: z.RefinementCtx, own = true): void {
  if (!require) return;
  if (auth === 'public') {
    if (own) ctx.addIssue({ code: 'custom', path: [...at, 'require'], message: 'a public route authenticates nobody, so require could never be checked: use auth: session, bearer or session_or_bearer' });
    return;
  }
  const modes = auth === 'session' ? ['session'] : auth === 'bearer' ? ['bearer'] : ['session', 'bearer'];
  for (const [where, via] of viaLists(require, [...at, 'require'])) {
    if (!via.some((v) => modes.includes(v))) {
      ctx.addIssue({ code: 'custom', path: own ? where : [...at, 'auth'], message: `no request on this route (auth: ${auth}) can come via ${via.join(' or ')}` });
    }
  }
}

/** Every `via` list in a policy, with its location. */
function viaLists(p: PolicyConfig, at: (string | number)[]): [(string | number)[], string[]][] {
  const out: [(string | number)[], string[]][] = p.via ? [[[...at, 'via'], p.via]] : [];
  p.any?.forEach((q, i) => out.push(...viaLists(q, [...at, 'any', i])));
  p.all?.forEach((q, i) => out.push(...viaLists(q, [...at, 'all', i])));
  return out;
}

export const routesSchema = z.strictObject({
  routes: z.array(routeSchema).default([]),
  /** A reload to an empty table is refused (a truncated file) unless the file says this. */
  allowEmpty: z.boolean().default(false),
});

/**
 * Checks across routes (unique names, no two routes for the same host, path and method). They run
 * on the raw file, apart from the schema, so they are reported even when single routes are invalid.
 */
export function crossRouteIssues(raw: unknown): { path: (string | number)[]; message: string }[] {
  const routes = (raw as { routes?: unknown } | null)?.routes;
  if (!Array.isArray(routes)) return [];
  const issues: { path: (string | number)[]; message: string }[] = [];
  const names = new Map<string, string>();
  const matches = new Map<string, { methods: string[] | '*'; label: string; group: number }[]>();
  const lenient = new Map<string, { path: string; label: string }>();
  for (const e of matchEntries(routes)) {
    if (e.name !== undefined) {
      const seen = names.get(e.name);
      if (seen !== undefined) issues.push({ path: [...e.at, 'name'], message: `"${e.name}" is already the name of ${seen}` });
      else names.set(e.name, e.label);
    }
    if (e.path === undefined) continue;
    const path = e.path.length > 1 && e.path.endsWith('/') ? e.path.slice(0, -1) : e.path;
    // Route paths are ASCII without trailing dots (ROUTE_PATH), so their lenient reading
    // (routing/fold.ts) is their lower case.
    const lenientKey = `${e.host} ${path.toLowerCase()}`;
    const twin = lenient.get(lenientKey);
    if (twin !== undefined && twin.path !== path) {
      issues.push({
        path: [...e.at, ...e.pathKey],
        message: `differs from ${twin.label} (${twin.path}) only in case: a backend that ignores case could not tell them apart, and the gateway could not tell which policy applies`,
      });
    } else if (twin === undefined) lenient.set(lenientKey, { path, label: e.label });
    // The first route on a host and path that accepts a method takes it: a later one whose every
    // method an earlier one takes is never matched.
    const here = `${e.host} ${path}`;
    const earlier = matches.get(here) ?? [];
    const covering = earlier.find((o) => o.methods === '*' || (e.methods !== '*' && e.methods.every((m) => (o.methods as string[]).includes(m))));
    const overlapping = earlier.find((o) => o.methods === '*' || e.methods === '*' || e.methods.some((m) => (o.methods as string[]).includes(m)));
    if (covering) issues.push({ path: [...e.at, ...e.pathKey], message: `is shadowed by ${covering.label}: it comes first on the same host and path and takes every method this one does` });
    // A route after its own rules takes the methods they leave: that overlap is the point.
    else if (overlapping && !(e.isRoute && overlapping.group === e.group)) issues.push({ path: [...e.at, ...e.pathKey], message: `matches the same host, path and a method of ${overlapping.label}` });
    matches.set(here, [...earlier, { methods: e.methods, label: e.label, group: e.group }]);
  }
  return issues;
}

interface MatchEntry {
  at: (string | number)[];
  /** The route's index (its rules share it); whether this is the route itself. */
  group: number;
  isRoute: boolean;
  /** Where the path is, under `at`. */
  pathKey: string[];
  label: string;
  name: string | undefined;
  host: string;
  path: string | undefined;
  methods: string[] | '*';
}

/** Every route and rule of the raw file as it will be matched: each route's rules first, then the route. */
function matchEntries(routes: unknown[]): MatchEntry[] {
  const out: MatchEntry[] = [];
  routes.forEach((r: unknown, i) => {
    const route = r as { name?: unknown; match?: { host?: unknown; path?: unknown; methods?: unknown }; rules?: unknown } | null;
    const m = route?.match;
    const host = typeof m?.host === 'string' ? m.host.toLowerCase() : '';
    const methods = (v: unknown): string[] | '*' => (Array.isArray(v) ? v.map(String) : '*');
    const name = typeof route?.name === 'string' ? route.name : undefined;
    if (Array.isArray(route?.rules)) {
      route.rules.forEach((x: unknown, j) => {
        const rule = x as { name?: unknown; path?: unknown; methods?: unknown } | null;
        out.push({
          at: ['routes', i, 'rules', j],
          group: i,
          isRoute: false,
          pathKey: ['path'],
          label: `routes[${i}].rules[${j}]`,
          name: name !== undefined && typeof rule?.name === 'string' ? `${name}.${rule.name}` : undefined,
          host,
          path: typeof rule?.path === 'string' ? rule.path : undefined,
          methods: rule?.methods === undefined ? methods(m?.methods) : methods(rule.methods),
        });
      });
    }
    out.push({ at: ['routes', i], group: i, isRoute: true, pathKey: ['match', 'path'], label: `routes[${i}]`, name, host, path: typeof m?.path === 'string' ? m.path : undefined, methods: methods(m?.methods) });
  });
  return out;
}

export type RoutesFile = z.output<typeof routesSchema>;
export type RouteConfig = RoutesFile['routes'][number];
