// The public listener's TLS, wired: the certificate loaded at start (a problem is a located
// configuration error), HSTS, the plain-HTTP redirect listener, and reloads on SIGHUP and when the
// certificate or key file changes (http/tls.ts does the swapping).
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import type { SecureContextOptions, Server as TlsServer } from 'node:tls';
import type { LoadedConfig } from '../config/load.js';
import { contentHash, watchRoutesFile, type RoutesWatcher } from '../config/watch.js';
import { ConfigError } from '../errors.js';
import { createRedirectServer, type PublicServer } from '../http/server.js';
import { hstsValue, loadTlsOptions, reloadTls, TlsFilesError } from '../http/tls.js';
import type { Logger } from '../log.js';

export interface EdgeTls {
  /** For createPublicServer; undefined: plain HTTP. */
  readonly options: SecureContextOptions | undefined;
  readonly hsts: string | undefined;
  /** Once the public server exists: the redirect listener (if configured) and the reload. */
  attach(publicServer: PublicServer, watch: boolean): Promise<{ redirect: Server | undefined; reload(): Promise<boolean>; close(): void }>;
}

export async function edgeTls(config: LoadedConfig, logger: Logger): Promise<EdgeTls> {
  const tls = config.gateway.listen.tls;
  if (!tls) return { options: undefined, hsts: undefined, attach: async () => ({ redirect: undefined, reload: async () => false, close: () => undefined }) };
  const fromConfig = (p: string) => resolve(dirname(config.gatewayFile), p);
  let options: SecureContextOptions;
  try {
    options = await loadTlsOptions(tls, fromConfig);
  } catch (err) {
    if (err instanceof TlsFilesError) throw new ConfigError([{ file: config.gatewayFile, line: 0, column: 0, path: 'listen.tls', message: err.message }]);
    throw err;
  }
  return {
    options,
    hsts: hstsValue(tls),
    async attach(publicServer, watch) {
      const reload = () => reloadTls(publicServer as unknown as TlsServer, tls, fromConfig, logger);
      const acme = tls.acmeChallengeDir === undefined ? undefined : fromConfig(tls.acmeChallengeDir);
      const redirect = tls.redirectHttpPort === undefined ? undefined : createRedirectServer(() => (publicServer.address() as AddressInfo).port, acme);
      // A renewed certificate (cert-manager, certbot) is picked up when its files change, as on SIGHUP.
      const watchers: RoutesWatcher[] = [];
      if (watch) {
        for (const f of [tls.certFile, tls.keyFile]) {
          const file = fromConfig(f);
          watchers.push(watchRoutesFile(file, await contentHash(file), () => void reload()));
        }
      }
      return {
        redirect,
        reload,
        close: () => {
          for (const w of watchers) w.close();
          redirect?.close();
        },
      };
    },
  };
}

/** admin.tls: the admin listener's certificate (and client certificates), loaded like listen.tls. */
export async function adminTls(config: LoadedConfig, logger: Logger): Promise<{ options: SecureContextOptions | undefined; attach(server: Server): () => Promise<boolean> }> {
  const tls = config.gateway.admin.tls;
  if (!tls) return { options: undefined, attach: () => async () => false };
  const fromConfig = (p: string) => resolve(dirname(config.gatewayFile), p);
  try {
    const options = await loadTlsOptions(tls, fromConfig);
    return { options, attach: (server) => () => reloadTls(server as unknown as TlsServer, tls, fromConfig, logger) };
  } catch (err) {
    if (err instanceof TlsFilesError) throw new ConfigError([{ file: config.gatewayFile, line: 0, column: 0, path: 'admin.tls', message: err.message }]);
    throw err;
  }
}
