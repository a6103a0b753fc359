// A gateway with real sessions: its own redis-server, a credential-check upstream and an echo
// upstream, plus helpers to sign in and call routes with the session cookie.
import { request } from 'undici';
import { route, startTestGateway, type TestGateway } from './gateway.js';
import { startRedis, type RedisServer } from './redis.js';
import { echo, startUpstream, type Upstream } from './upstream.js';

export const USERS: Record<string, { password: string; sub: string; claims: Record<string, unknown> }> = {
  alice: { password: 'pw-alice', sub: 'u-alice', claims: { email: 'alice@example.com', roles: ['user'], secret: 'not-for-upstream' } },
  root: { password: 'pw-root', sub: 'u-root', claims: { email: 'root@example.com', roles: ['admin'] } },
};

export async function startVerifier(): Promise<Upstream> {
  return startUpstream((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const { username, password } = JSON.parse(body || '{}') as { username?: string; password?: string };
      const u = username ? USERS[username] : undefined;
      if (!u || u.password !== password) {
        res.writeHead(401).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sub: u.sub, claims: u.claims }));
    });
  });
}

export interface SessionEnv {
  redis: RedisServer;
  verifier: Upstream;
  up: Upstream;
  gw: TestGateway;
  origin: string;
  login(username: string, password?: string, extraHeaders?: Record<string, string>): Promise<string>;
  get(path: string, cookie?: string, headers?: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>;
  send(method: string, path: string, cookie?: string, headers?: Record<string, string>, body?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>;
  close(): Promise<void>;
}

export const COOKIE = 'gw-session';

export function sessionRoutes(upUrl: string): unknown[] {
  return [
    route('public', '/public', upUrl),
    { ...route('app', '/app', upUrl), auth: 'session', token: { audience: 'orders', claims: ['email', 'roles'] } },
    { ...route('admin', '/admin', upUrl), auth: 'session', require: { roles: ['admin'] } },
    { ...route('custom-header', '/custom', upUrl), auth: 'session', token: { audience: 'c', header: 'x-internal-token' } },
    { ...route('strict', '/strict', upUrl), auth: 'session', csrf: 'token' },
    { ...route('nocsrf', '/nocsrf', upUrl), auth: 'session', csrf: false },
  ];
}

export async function startSessionEnv(
  options: { gateway?: Record<string, unknown>; redisArgs?: string[]; routes?: (upUrl: string) => unknown[]; clock?: { now(): number } } = {},
): Promise<SessionEnv> {
  const redis = await startRedis(options.redisArgs);
  const verifier = await startVerifier();
  const up = await startUpstream((req, res, rec) => {
    if (req.url?.endsWith('/set-cookies')) {
      req.resume();
      res.writeHead(200, { 'set-cookie': [`${COOKIE}=evil; Path=/`, 'app=1; Path=/'] }).end('ok');
      return;
    }
    echo(req, res, rec);
  });
  const gwOpts = options.gateway ?? {};
  const gw = await startTestGateway({
    clock: options.clock,
    routes: (options.routes ?? sessionRoutes)(up.url),
    gateway: {
      publicOrigins: ['http://app.example'],
      ...gwOpts,
      // Settings given for redis join the harness's server (a sentinel or cluster setting replaces it).
      redis: { url: redis.url, commandTimeout: '300ms', connectTimeout: '1s', ...(gwOpts.redis as object | undefined) },
      login: { verifyUrl: `${verifier.url}/verify`, ...(gwOpts.login as object | undefined) },
      session: { store: 'redis', cookie: { name: COOKIE, secure: false }, ...(gwOpts.session as object | undefined) },
    },
  });
  const origin = 'http://app.example';
  const send = async (method: string, path: string, cookie?: string, headers: Record<string, string> = {}, body?: string) => {
    const res = await request(`${gw.url}${path}`, {
      method: method as 'GET',
      headers: { ...(cookie ? { cookie: `${COOKIE}=${cookie}` } : {}), ...headers },
      body,
    });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  };
  return {
    redis,
    verifier,
    up,
    gw,
    origin,
    send,
    get: (path, cookie, headers) => send('GET', path, cookie, headers),
    async login(username, password = USERS[username]?.password ?? 'x', extraHeaders = {}) {
      const res = await send('POST', '/auth/login', undefined, { 'content-type': 'application/json', origin, ...extraHeaders }, JSON.stringify({ username, password }));
      if (res.status !== 200) throw new Error(`login ${res.status}: ${res.body}`);
      const setCookie = res.headers['set-cookie'] as string;
      return /^gw-session=([^;]+)/.exec(setCookie)?.[1] as string;
    },
    async close() {
      await gw.stop();
      await Promise.all([verifier.close(), up.close()]);
      await redis.dispose();
    },
  };
}
