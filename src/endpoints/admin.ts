// The admin listener: /metrics, /healthz, /readyz, JWKS and admin revocation. It is a separate
// server bound to its own address (127.0.0.1 by default), so none of it is reachable through the
// public listener; admin-guard.ts keeps browser pages and DNS rebinding out, and every method other
// than GET and HEAD needs the admin credential.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { SecureContextOptions } from 'node:tls';
import type { Registry } from 'prom-client';
import { GatewayError } from '../errors.js';
import { renderError } from '../http/error-response.js';
import type { Logger } from '../log.js';
import type { AdminGuard } from './admin-guard.js';
import type { Readiness } from './readiness.js';

export interface AdminDeps {
  readonly registry: Registry;
  readonly readiness: Readiness;
  readonly logger: Logger;
  readonly newRequestId: () => string;
  readonly guard: AdminGuard;
  /** The metrics text: this process's registry, or (workers > 1) the whole host's, summed by the primary. */
  readonly metricsText?: () => Promise<string>;
}

export type AdminHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;
/** Further admin endpoints (JWKS, revocation), looked up after the built-in ones. */
export type AdminLookup = (method: string, path: string) => AdminHandler | undefined;

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function createAdminServer(deps: AdminDeps, extra: AdminLookup = () => undefined, tls?: SecureContextOptions): Server {
  const handlers: Record<string, AdminHandler> = {
    'GET /healthz': async (_req, res) => json(res, 200, { status: 'alive' }),
    'GET /readyz': async (_req, res) => {
      const report = await deps.readiness.report();
      json(res, report.ready ? 200 : 503, { status: report.ready ? 'ready' : 'not_ready', checks: report.checks });
    },
    'GET /metrics': async (_req, res) => {
      const body = await (deps.metricsText ?? (() => deps.registry.metrics()))();
      res.writeHead(200, { 'content-type': deps.registry.contentType, 'cache-control': 'no-store' });
      res.end(body);
    },
  };
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const handler = handlers[`${method} ${path}`] ?? extra(req.method ?? 'GET', path);
    const requestId = deps.newRequestId();
    try {
      deps.guard.checkCaller(req);
      if (method !== 'GET' && handler) deps.guard.checkCredential(req);
    } catch (err) {
      deps.logger.info({ requestId, path, code: (err as GatewayError).code, reason: (err as GatewayError).message }, 'admin request refused');
      renderError(req, res, err as GatewayError, requestId);
      return;
    }
    if (!handler) {
      const known = Object.keys(handlers).some((k) => k.endsWith(` ${path}`));
      renderError(req, res, new GatewayError(known ? 'method_not_allowed' : 'route_not_found'), requestId);
      return;
    }
    handler(req, res).catch((err: unknown) => {
      if (err instanceof GatewayError) {
        renderError(req, res, err, requestId);
        return;
      }
      deps.logger.error({ err, path }, 'admin endpoint failed');
      renderError(req, res, new GatewayError('internal_error', { cause: err }), requestId);
    });
  };
  // HTTPS (admin.tls): the same handler over TLS, client certificates checked in the handshake.
  return tls ? createHttpsServer(tls, handle) : createServer(handle);
}
