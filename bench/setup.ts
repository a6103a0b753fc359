// What the benchmark scripts share: gateway configurations, the processes, and credentials for
// each scenario (a session cookie, an express-session cookie, the gateway's own access token).
import { createHmac, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Agent, request } from 'undici';
import { stringify } from 'yaml';
import { onCores } from './pin.js';
import { startProc, type Proc } from './procs.js';

export const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/src/cli.js');
export const ES_SECRET = 'bench-express-secret';

export const BENCH_ISSUER = 'https://bench-idp.example';

export async function gatewayConfig(
  dir: string,
  redisUrl: string,
  originUrl: string,
  session: Record<string, unknown>,
  extra: Record<string, unknown> = {},
  /** The /app-policy route: off to compare with builds older than route policies. */
  policyRoute = true,
  /** More routes after the usual ones (the soak's WebSocket route). */
  extraRoutes: Record<string, unknown>[] = [],
): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'gateway.yaml'),
    stringify({
      listen: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      publicOrigins: ['http://bench.example'],
      redis: { url: redisUrl },
      session: { store: 'redis', cookie: { name: 'gw-session', secure: false }, ...session },
      login: { verifyUrl: `${originUrl}/verify` },
      tokens: { keys: './keys', generateDevKey: true },
      reload: { watchFile: false },
      log: { level: 'info', accessLog: true },
      issuers: [
        {
          issuer: BENCH_ISSUER,
          jwksUrl: `${originUrl}/jwks`,
          audiences: ['gateway'],
          algorithms: ['RS256'],
          claims: { sub: 'sub', roles: 'roles', email: 'email' },
        },
      ],
      ...extra,
    }),
  );
  await writeFile(
    join(dir, 'routes.yaml'),
    stringify({
      routes: [
        { name: 'public', match: { path: '/pub' }, upstream: { url: originUrl }, auth: 'public' },
        { name: 'app', match: { path: '/app' }, upstream: { url: originUrl }, auth: 'session', token: { audience: 'app', claims: ['email', 'roles'] } },
        // /app with a five-clause policy the bench user passes: what the policy stage costs (compare.ts /app /app-policy).
        ...(policyRoute ? [{
          name: 'app-policy',
          match: { path: '/app-policy' },
          upstream: { url: originUrl },
          auth: 'session',
          token: { audience: 'app', claims: ['email', 'roles'] },
          require: { via: ['session'], roles: ['user'], claims: { email: { endsWith: '@example.com' }, roles: { anyOf: ['user', 'admin'] } }, any: [{ roles: ['admin'] }, { issuers: ['gateway'] }] },
        }] : []),
        { name: 'api', match: { path: '/api' }, upstream: { url: originUrl }, auth: 'bearer', token: { audience: 'api', claims: ['email', 'roles'] } },
        ...extraRoutes,
      ],
    }),
  );
  return join(dir, 'gateway.yaml');
}

export function startGateway(name: string, config: string, extraArgs: string[] = [], cli = CLI, env: NodeJS.ProcessEnv = {}, cores?: string): Promise<Proc> {
  return startProc(name, process.execPath, [...extraArgs, cli, 'start', '--config', config], env, cores);
}

/**
 * The internal token the gateway forwards on a session route, as the upstream receives it (the
 * origin echoes its request headers at .../echo-headers): the bare+token row forwards these bytes.
 */
export async function forwardedToken(gw: Proc, path: string, headers: Record<string, string>): Promise<{ name: string; value: string }> {
  const res = await request(`${gw.url}${path}/echo-headers`, { headers });
  const seen = (await res.body.json()) as Record<string, string>;
  const value = seen.authorization;
  if (res.statusCode !== 200 || !value) throw new Error(`no forwarded token (${res.statusCode})`);
  return { name: 'authorization', value };
}

export async function login(gw: Proc): Promise<string> {
  const res = await request(`${gw.url}/auth/login`, {
    // The TLS rows' self-signed certificate: the benchmark talks to its own processes only.
    ...(gw.url.startsWith('https:') ? { dispatcher: new Agent({ connect: { rejectUnauthorized: false } }) } : {}),
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: 'http://bench.example' },
    body: JSON.stringify({ username: 'bench', password: 'bench' }),
  });
  await res.body.dump();
  const cookie = /^gw-session=([^;]+)/.exec(String(res.headers['set-cookie']))?.[1];
  if (!cookie) throw new Error(`sign-in failed: ${res.statusCode}`);
  return `gw-session=${cookie}`;
}

/** A session as express-session + connect-redis would have written it. */
export async function expressSession(redisUrl: string): Promise<string> {
  const id = randomBytes(24).toString('base64url');
  const redis = new Redis(redisUrl);
  await redis.set(
    `sess:${id}`,
    JSON.stringify({ cookie: { originalMaxAge: 3_600_000, expires: new Date(Date.now() + 3_600_000).toISOString(), httpOnly: true, path: '/' }, user: { id: 'bench-user', email: 'bench@example.com', roles: ['user'] } }),
    'EX',
    3600,
  );
  redis.disconnect();
  const sig = createHmac('sha256', ES_SECRET).update(id).digest('base64').replace(/=+$/, '');
  return `connect.sid=${encodeURIComponent(`s:${id}.${sig}`)}`;
}

/** The gateway's own access token (POST /auth/token). */
export async function accessToken(gw: Proc): Promise<string> {
  const res = await request(`${gw.url}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'bench', password: 'bench' }),
  });
  const body = (await res.body.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`token endpoint answered ${res.statusCode}`);
  return `Bearer ${body.access_token}`;
}

/** autocannon in a child process of its own (load.ts), on `cores` when given; runs one load at a time. */
export interface LoadGenerator {
  readonly pid: number;
  run(options: autocannon.Options): Promise<autocannon.Result>;
  load(url: string, connections: number, headers: Record<string, string>, durationS: number): Promise<autocannon.Result>;
  stop(): Promise<void>;
}

export function startLoadGenerator(cores?: string): LoadGenerator {
  const [file, argv] = onCores(cores, process.execPath, [join(ROOT, 'dist/bench/load.js')]);
  const child = spawn(file, argv, { stdio: ['pipe', 'pipe', 'inherit'] });
  const waiting: { resolve: (r: autocannon.Result) => void; reject: (e: Error) => void }[] = [];
  let exited = false;
  createInterface({ input: child.stdout }).on('line', (line) => {
    const w = waiting.shift();
    if (!w) return;
    const msg = JSON.parse(line) as { ok: boolean; result?: autocannon.Result; error?: string };
    if (msg.ok && msg.result) w.resolve(msg.result);
    else w.reject(new Error(`load generator: ${msg.error ?? 'no result'}`));
  });
  child.once('exit', (code) => {
    exited = true;
    for (const w of waiting.splice(0)) w.reject(new Error(`load generator exited (${code})`));
  });
  const run = (options: autocannon.Options) =>
    new Promise<autocannon.Result>((resolve, reject) => {
      if (exited) return reject(new Error('load generator exited'));
      waiting.push({ resolve, reject });
      child.stdin.write(JSON.stringify(options) + '\n');
    });
  return {
    pid: child.pid as number,
    run,
    load: (url, connections, headers, durationS) => run({ url, connections, duration: durationS, headers, pipelining: 1 }),
    stop: async () => {
      if (exited) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.stdin.end();
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
      if (!exited) child.kill('SIGKILL');
    },
  };
}


/** An external issuer for the bearer scenarios: a token it signed, and its JWKS for the origin to serve. */
export async function benchIssuer(): Promise<{ idpToken: string; jwks: string }> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const idpToken = `Bearer ${await new SignJWT({ email: 'bench@example.com', roles: ['user'] })
    .setProtectedHeader({ alg: 'RS256', kid: 'bench-idp-1' })
    .setIssuer(BENCH_ISSUER)
    .setAudience('gateway')
    .setSubject('bench-user')
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(privateKey)}`;
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'bench-idp-1', alg: 'RS256', use: 'sig' }] });
  return { idpToken, jwks };
}

/** A self-signed certificate for 127.0.0.1 (openssl), for the TLS rows; autocannon does not verify. */
export function selfSignedCert(dir: string): { certFile: string; keyFile: string } {
  const certFile = join(dir, 'bench.crt');
  const keyFile = join(dir, 'bench.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  return { certFile, keyFile };
}
