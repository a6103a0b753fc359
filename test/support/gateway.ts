// Build a whole gateway in-process from YAML written to a temp directory, on port 0, with its logs
// captured for assertions.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import { startGateway, type Gateway } from '../../src/main.js';

export interface TestGateway extends Gateway {
  dir: string;
  routesFile: string;
  /** Every log line, parsed. */
  logs: Record<string, unknown>[];
  writeRoutes(routes: unknown[]): Promise<void>;
  stop(): Promise<void>;
}

export interface TestGatewayOptions {
  routes: unknown[];
  gateway?: Record<string, unknown>;
  watchRoutes?: boolean;
  env?: NodeJS.ProcessEnv;
  clock?: { now(): number };
}

/** The admin credential every test gateway is configured with (admin.credentialFile). */
export const ADMIN_TOKEN = 'test-admin-credential-0123456789abcdef';
/** Headers that carry it. */
export const ADMIN_AUTH = { authorization: `Bearer ${ADMIN_TOKEN}` };

export async function writeConfigDir(routes: unknown[], gateway: Record<string, unknown> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gw-test-'));
  await writeFile(join(dir, 'admin-token'), `${ADMIN_TOKEN}\n`);
  const gw = {
    listen: { host: '127.0.0.1', port: 0 },
    routesFile: './routes.yaml',
    log: { level: 'info', accessLog: true },
    shutdown: { drainTimeout: '2s' },
    ...gateway,
    admin: { host: '127.0.0.1', port: 0, credentialFile: './admin-token', ...(gateway.admin as object | undefined) },
    // Tests never depend on the machine's Redis: memory unless a test names its own redis-server.
    session: { store: 'memory', cookie: { name: 'gw-session', secure: false }, ...(gateway.session as object | undefined) },
    tokens: { generateDevKey: true, keys: './keys', ...(gateway.tokens as object | undefined) },
  };
  await writeFile(join(dir, 'gateway.yaml'), stringify(gw));
  await writeFile(join(dir, 'routes.yaml'), stringify({ routes }));
  return dir;
}

export async function startTestGateway(opts: TestGatewayOptions): Promise<TestGateway> {
  const dir = await writeConfigDir(opts.routes, opts.gateway);
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const gateway = await startGateway({
    configPath: join(dir, 'gateway.yaml'),
    env: opts.env ?? {},
    logDestination: sink,
    watchRoutes: opts.watchRoutes ?? false,
    clock: opts.clock,
  });
  const routesFile = join(dir, 'routes.yaml');
  return Object.assign(gateway, {
    dir,
    routesFile,
    logs,
    writeRoutes: (routes: unknown[]) => writeFile(routesFile, stringify({ routes })),
    stop: async () => {
      await gateway.shutdown();
      await rm(dir, { recursive: true, force: true });
    },
  });
}

/** A public route to `url` with the given overrides. */
export function route(name: string, path: string, url: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const { upstream, match, ...rest } = extra as { upstream?: Record<string, unknown>; match?: Record<string, unknown> };
  return { name, match: { path, ...match }, upstream: { url, ...upstream }, auth: 'public', ...rest };
}
