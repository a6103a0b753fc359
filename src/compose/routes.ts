// What routes are compiled with and whose X-Forwarded-* are believed, from gateway.yaml: one
// reading shared by the running gateway (main.ts) and `gateway explain` (compose/explain.ts), so
// an explained request meets the table a running instance would build from the same files.
import { dirname, resolve } from 'node:path';
import { BlockList, isIP } from 'node:net';
import type { Clock } from '../clock.js';
import { loadErrorPage, type ErrorPage } from '../config/error-page.js';
import { DEFAULT_IDENTITY_HEADERS } from '../config/header-names.js';
import type { LoadedConfig } from '../config/load.js';
import type { PoolRegistry } from '../forward/pools.js';
import type { Logger } from '../log.js';
import type { AuthDeps, CompileOptions } from '../pipeline/route.js';

/** trustedProxies as a BlockList (undefined: no peer is trusted). */
export function trustedProxyList(cidrs: readonly string[]): BlockList | undefined {
  if (cidrs.length === 0) return undefined;
  const list = new BlockList();
  for (const c of cidrs) {
    const [addr, bits] = c.split('/') as [string, string | undefined];
    const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return list;
}

/** errorPages.html of gateway.yaml, read and checked (relative to gateway.yaml). */
export function gatewayErrorPage(config: LoadedConfig): ErrorPage | undefined {
  const html = config.gateway.errorPages.html;
  return html ? loadErrorPage(resolve(dirname(config.gatewayFile), html), { file: config.gatewayFile, path: 'errorPages.html' }) : undefined;
}

export function routeCompileOptions(
  config: LoadedConfig,
  deps: { readonly auth: AuthDeps; readonly pools: PoolRegistry; readonly clock: Clock; readonly logger: Logger; readonly errorPage: ErrorPage | undefined },
): CompileOptions {
  const gw = config.gateway;
  return {
    routesFile: config.routesFile,
    errorPage: deps.errorPage,
    warn: (msg: string, fields: Record<string, unknown>) => deps.logger.warn(fields, msg),
    auth: deps.auth,
    pools: deps.pools,
    clock: deps.clock,
    ejectForMs: gw.upstreams.ejectFor,
    defaultMaxBodySize: gw.limits.maxBodySize,
    identityHeaders: [...DEFAULT_IDENTITY_HEADERS, ...gw.identityHeaders],
    trustedProxyHeaders: gw.trustedProxyHeaders,
    routing: gw.routing,
  };
}
