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

/** Headers an identity header may not name: the gateway sets them for its own reasons. */
const GATEWAY_OWNED = new Set(['host', 'authorization', 'cookie', 'content-length', 'transfer-encoding', 'connection', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id']);


// Route paths are literal: segments of unreserved characters and a few sub-delims, no dot
// segments, no empty segments, no percent-encoding, no `;`. What the normalizer produces can
// then be compared with them byte for byte.
const ROUTE_PATH = /^\/(?:[A-Za-z0-9\-_~!$&'()*+,=:@]|\.(?!\.?(?:\/|$)))*(?:\/(?:[A-Za-z0-9\-_~!$&'()*+,=:@]|\.(?!\.?(?:\/|$)))+)*\/?$/;
const HOST_PATTERN = /^(\*\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

const routeSchema = z.strictObject({
  /** Unique; used in logs and metric labels. */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'must be 1-63 letters, digits, "_", "." or "-"'),
  match: z.strictObject({
    host: z
      .string()
      .transform((v) => v.toLowerCase())
      .refine((v) => HOST_PATTERN.test(v), 'must be a host name such as api.example.com or *.example.com (no port)')
      .optional(),
    path: z
      .string()
      .refine(
        (v) => ROUTE_PATH.test(v) && !v.includes('//'),
        'must start with "/" and hold only plain segments (no "..", ".", "//", "%", ";" or query)',
      ),
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
    })
    .refine((u) => (u.url === undefined) !== (u.urls === undefined), 'give exactly one of url or urls'),
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
  /** CORS for pages of other origins (pipeline/cors.ts): preflights answered by the gateway. */
  cors: cors.optional(),
  /** CSRF checks for cookie-authenticated unsafe methods: true (origin checks), "token" (also X-CSRF-Token), false. */
  csrf: z.union([z.boolean(), z.literal('token')]).default(true),
  /** Forward client headers whose names hold `_` (dropped by default: CGI servers read X_User as X-User). */
  keepUnderscoreHeaders: z.boolean().default(false),
  /** Largest request body; defaults to limits.maxBodySize of gateway.yaml. */
  maxBodySize: size().optional(),
}).superRefine((route, ctx) => {
  if (!route.require) return;
  // Rules no request could ever pass, or that would never run: refused at load, not found in production.
  if (route.auth === 'public') {
    ctx.addIssue({ code: 'custom', path: ['require'], message: 'a public route authenticates nobody, so require could never be checked: use auth: session, bearer or session_or_bearer' });
    return;
  }
  const modes = route.auth === 'session' ? ['session'] : route.auth === 'bearer' ? ['bearer'] : ['session', 'bearer'];
  for (const [at, via] of viaLists(route.require, ['require'])) {
    if (!via.some((v) => modes.includes(v))) {
      ctx.addIssue({ code: 'custom', path: at, message: `no request on this route (auth: ${route.auth}) can come via ${via.join(' or ')}` });
    }
  }
});

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
  const names = new Map<string, number>();
  const matches = new Map<string, number>();
  const lenient = new Map<string, { path: string; index: number }>();
  routes.forEach((r: unknown, i) => {
    const route = r as { name?: unknown; match?: { host?: unknown; path?: unknown; methods?: unknown } } | null;
    if (typeof route?.name === 'string') {
      const seen = names.get(route.name);
      if (seen !== undefined) issues.push({ path: ['routes', i, 'name'], message: `"${route.name}" is already the name of routes[${seen}]` });
      else names.set(route.name, i);
    }
    const m = route?.match;
    if (typeof m?.path !== 'string') return;
    const path = m.path.length > 1 && m.path.endsWith('/') ? m.path.slice(0, -1) : m.path;
    const host = typeof m.host === 'string' ? m.host.toLowerCase() : '';
    // Route paths are ASCII without trailing dots (ROUTE_PATH), so their lenient reading
    // (routing/fold.ts) is their lower case.
    const lenientKey = `${host} ${path.toLowerCase()}`;
    const twin = lenient.get(lenientKey);
    if (twin !== undefined && twin.path !== path) {
      issues.push({
        path: ['routes', i, 'match', 'path'],
        message: `differs from routes[${twin.index}] (${twin.path}) only in case: a backend that ignores case could not tell them apart, and the gateway could not tell which policy applies`,
      });
    } else if (twin === undefined) lenient.set(lenientKey, { path, index: i });
    const methods = Array.isArray(m.methods) ? m.methods.map(String) : ['*'];
    for (const method of methods) {
      const key = `${host} ${path} ${method}`;
      const other = matches.get(key);
      if (other !== undefined && other !== i) {
        issues.push({ path: ['routes', i, 'match'], message: `matches the same host, path and method (${method}) as routes[${other}]` });
        break;
      }
      matches.set(key, i);
    }
  });
  return issues;
}

export type RoutesFile = z.output<typeof routesSchema>;
export type RouteConfig = RoutesFile['routes'][number];
