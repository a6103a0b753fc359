// CORS per route. The gateway answers preflights itself, before authentication (a preflight never
// carries credentials, so an authenticated route could not answer one), and adds the response
// headers to every answer of the route, its own errors included, so a page can read a 401. With
// CORS configured the upstream's Access-Control-* headers are dropped: one place decides.
// A wildcard is never reflected with credentials; origins are exact or `scheme://*.domain`.
import type { ServerResponse } from 'node:http';
import type { CorsConfig } from '../config/routes-schema.js';
import { GatewayError } from '../errors.js';

export interface CorsPolicy {
  /** Answer a preflight (204) or refuse it (403 cors_refused with the reason). */
  preflight(origin: string, method: string, requestHeaders: string | undefined, res: ServerResponse): void;
  /** Add the response headers for an allowed origin; nothing for another (the browser then hides the answer). */
  decorate(origin: string | undefined, res: ServerResponse): void;
}

// Always allowed request headers (the Fetch standard's CORS-safelisted ones).
const SAFELISTED = ['accept', 'accept-language', 'content-language', 'content-type'];

export function compileCors(cfg: CorsConfig, routeMethods: readonly string[] | undefined): CorsPolicy {
  const any = cfg.origins.includes('*');
  const exact = new Set(cfg.origins.filter((o) => !o.includes('*')));
  // `https://*.example.com`: one or more labels before the domain, that scheme only.
  const patterns = cfg.origins
    .filter((o) => o.includes('*.'))
    .map((o) => {
      const [scheme, rest] = o.split('://*.') as [string, string];
      return { prefix: `${scheme}://`, suffix: `.${rest}` };
    });
  const allowed = (origin: string): boolean => {
    if (any || exact.has(origin)) return true;
    for (const p of patterns) {
      if (origin.startsWith(p.prefix) && origin.endsWith(p.suffix)) {
        const label = origin.slice(p.prefix.length, origin.length - p.suffix.length);
        if (/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(label) && !label.includes('..')) return true;
      }
    }
    return false;
  };
  const methods = new Set(cfg.methods ?? routeMethods ?? ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']);
  const methodList = [...methods].join(', ');
  const headers = new Set([...SAFELISTED, ...(cfg.headers ?? ['authorization', 'content-type', 'x-csrf-token', 'x-requested-with']).map((h) => h.toLowerCase())]);
  const expose = cfg.exposeHeaders.join(', ');
  const maxAge = String(Math.floor(cfg.maxAge / 1000));
  // With credentials the origin is echoed (a `*` would be refused by browsers); without, `*` is fine when any origin may.
  const allowOrigin = (origin: string) => (any && !cfg.credentials ? '*' : origin);

  const common = (origin: string, res: ServerResponse) => {
    res.setHeader('access-control-allow-origin', allowOrigin(origin));
    if (cfg.credentials) res.setHeader('access-control-allow-credentials', 'true');
  };
  return {
    preflight(origin, method, requestHeaders, res) {
      if (!allowed(origin)) throw new GatewayError('cors_refused', { reason: 'origin' });
      if (!methods.has(method)) throw new GatewayError('cors_refused', { reason: 'method' });
      const asked = (requestHeaders ?? '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean);
      if (asked.some((h) => !headers.has(h))) throw new GatewayError('cors_refused', { reason: 'header' });
      common(origin, res);
      res.writeHead(204, {
        'access-control-allow-methods': methodList,
        ...(asked.length > 0 ? { 'access-control-allow-headers': asked.join(', ') } : {}),
        'access-control-max-age': maxAge,
        vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
        'content-length': '0',
      });
      res.end();
    },
    decorate(origin, res) {
      res.setHeader('vary', 'Origin');
      if (origin === undefined || !allowed(origin)) return;
      common(origin, res);
      if (expose) res.setHeader('access-control-expose-headers', expose);
    },
  };
}
