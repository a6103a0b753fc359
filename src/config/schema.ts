// The shape of config/gateway.yaml and config/routes.yaml. Every key is documented in
// docs/configuration.md. Objects are strict: an unknown key is an error, because a misspelt
// security setting must never be silently ignored.
import { isIP } from 'node:net';
import { z } from 'zod';
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
const numeric = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v), schema);
const port = numeric(z.number().int().min(0).max(65535));
const listener = (host: string, p: number) =>
  z.strictObject({ host: z.string().min(1).default(host), port: port.default(p) }).default({ host, port: p });

const httpUrl = () =>
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

/** Headers a client could use to claim an identity; stripped from every request before forwarding. */
export const DEFAULT_IDENTITY_HEADERS = [
  'x-user',
  'x-user-id',
  'x-remote-user',
  'remote-user',
  'x-forwarded-user',
  'x-forwarded-email',
  'x-forwarded-groups',
  'x-forwarded-preferred-username',
  'x-forwarded-access-token',
  'x-auth-request-user',
  'x-auth-request-email',
  'x-auth-request-groups',
  'x-auth-request-access-token',
  'x-gateway-token',
];

const headerName = z
  .string()
  .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'must be an HTTP header name')
  .transform((v) => v.toLowerCase());

export const gatewaySchema = z.strictObject({
  /** The public listener. */
  listen: listener('0.0.0.0', 8080),
  /** The admin listener: metrics, health, readiness. Keep it off the public network. */
  admin: listener('127.0.0.1', 9090),
  /** The routes file, relative to gateway.yaml. */
  routesFile: z.string().min(1).default('./routes.yaml'),
  /** Origins the gateway is reached at by browsers (CSRF and redirect checks). */
  publicOrigins: z.array(httpUrl()).default([]),
  /** Peers whose X-Forwarded-* headers are believed. */
  trustedProxies: z.array(cidr).default([]),
  redis: z
    .strictObject({
      url: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').default('redis://127.0.0.1:6379'),
    })
    .default({ url: 'redis://127.0.0.1:6379' }),
  /** Additional client headers that carry identity and must never reach an upstream. */
  identityHeaders: z.array(headerName).default([]),
  limits: z
    .strictObject({
      maxHeaderSize: size().default(16 * 1024),
      maxUrlLength: size().default(8 * 1024),
      maxBodySize: size().default(10 * 1000 * 1000),
      requestTimeout: duration().default(300_000),
      headersTimeout: duration().default(30_000),
      keepAliveTimeout: duration().default(5_000),
    })
    .default({
      maxHeaderSize: 16 * 1024,
      maxUrlLength: 8 * 1024,
      maxBodySize: 10 * 1000 * 1000,
      requestTimeout: 300_000,
      headersTimeout: 30_000,
      keepAliveTimeout: 5_000,
    }),
  upstreams: z
    .strictObject({
      maxConnectionsPerOrigin: numeric(z.number().int().positive()).default(256),
      connectTimeout: duration().default(5_000),
      keepAliveTimeout: duration().default(30_000),
      ejectFor: duration().default(10_000),
    })
    .default({ maxConnectionsPerOrigin: 256, connectTimeout: 5_000, keepAliveTimeout: 30_000, ejectFor: 10_000 }),
  /** Reload routes.yaml when it changes on disk (SIGHUP always reloads). */
  reload: z.strictObject({ watchFile: z.boolean().default(true) }).default({ watchFile: true }),
  shutdown: z.strictObject({ drainTimeout: duration().default(15_000) }).default({ drainTimeout: 15_000 }),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      accessLog: z.boolean().default(true),
    })
    .default({ level: 'info', accessLog: true }),
});

export const AUTH_MODES = ['public', 'session', 'bearer', 'session_or_bearer'] as const;
/** Modes this build implements; the rest are refused at load with a clear message. */
export const IMPLEMENTED_AUTH_MODES: ReadonlySet<string> = new Set(['public']);

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT'] as const;

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
  auth: z
    .enum(AUTH_MODES)
    .refine(
      (v) => IMPLEMENTED_AUTH_MODES.has(v),
      'must be public in this build: session, bearer and session_or_bearer are not implemented yet',
    ),
  websocket: z.boolean().default(false),
  /** Largest request body; defaults to limits.maxBodySize of gateway.yaml. */
  maxBodySize: size().optional(),
});

export const routesSchema = z.strictObject({ routes: z.array(routeSchema).default([]) });

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

export type GatewayConfig = z.output<typeof gatewaySchema>;
export type RoutesFile = z.output<typeof routesSchema>;
export type RouteConfig = RoutesFile['routes'][number];
