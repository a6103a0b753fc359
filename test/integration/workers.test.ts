// `workers: 2`: two gateway processes behind one listener (the real CLI, Node's cluster module), on
// one redis-server. Both serve; one scrape of the admin listener gives the whole host's metrics;
// a logout on one reaches the other at once; a worker that dies is replaced while the other keeps
// serving; SIGTERM drains both and ends the primary with 0.
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_AUTH, route, writeConfigDir } from '../support/gateway.js';
import { spawnGateway, type GatewayProcess } from '../support/process.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { COOKIE, startVerifier } from '../support/session-gateway.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

let redis: RedisServer;
let verifier: Upstream;
let up: Upstream;
let gw: GatewayProcess;

beforeAll(async () => {
  redis = await startRedis();
  verifier = await startVerifier();
  up = await startUpstream((req, res) => {
    req.resume();
    // /slow answers after a while: the request in flight at SIGTERM.
    setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'), req.url?.includes('/slow') ? 600 : 0);
  });
  const dir = await writeConfigDir([route('pub', '/pub', up.url), { ...route('app', '/app', up.url), auth: 'session' }], {
    workers: 2,
    redis: { url: redis.url },
    session: { store: 'redis', cookie: { name: COOKIE, secure: false } },
    login: { verifyUrl: `${verifier.url}/verify` },
    shutdown: { drainTimeout: '5s' },
  });
  gw = await spawnGateway(join(dir, 'gateway.yaml'));
  // Both workers up before anything is measured.
  const until = Date.now() + 15_000;
  while (gw.logs.filter((l) => l.msg === 'gateway listening').length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
}, 30_000);

afterAll(async () => {
  await gw?.kill('SIGKILL');
  await Promise.all([verifier?.close(), up?.close()]);
  await redis?.dispose();
});

/** One request on a connection of its own, so the cluster hands each to a worker in turn. */
async function get(path: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await request(`${gw.url}${path}`, { headers: { connection: 'close', accept: 'application/json', ...headers }, headersTimeout: 5000 });
  await res.body.dump();
  return res.statusCode;
}

async function metrics(): Promise<string> {
  const res = await request(`${gw.adminUrl}/metrics`, { headers: { ...ADMIN_AUTH, connection: 'close' } });
  return res.body.text();
}

function requestsOf(text: string, route: string): number {
  return Number(new RegExp(`gateway_requests_total\\{route="${route}",method="GET",status="200"\\} (\\d+)`).exec(text)?.[1] ?? 0);
}

describe('workers: 2', () => {
  it('starts two workers that both serve, and the admin listener gives the whole host\'s metrics from any worker', async () => {
    const listening = gw.logs.filter((l) => l.msg === 'gateway listening');
    expect(new Set(listening.map((l) => l.worker))).toEqual(new Set([1, 2]));
    for (let i = 0; i < 20; i++) expect(await get('/pub/x')).toBe(200);
    // Whichever worker answers the scrape, the count is the host's: both workers' requests.
    const counts = [requestsOf(await metrics(), 'pub'), requestsOf(await metrics(), 'pub'), requestsOf(await metrics(), 'pub')];
    expect(counts).toEqual([20, 20, 20]);
    expect(await metrics()).toMatch(/process_resident_memory_bytes \d+/);
  });

  it('a logout on one worker ends the session on the other at once', async () => {
    const login = await request(`${gw.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: gw.url, connection: 'close' },
      body: JSON.stringify({ username: 'alice', password: 'pw-alice' }),
    });
    const cookie = `${COOKIE}=${/^gw-session=([^;]+)/.exec(String(login.headers['set-cookie']))?.[1] as string}`;
    await login.body.dump();
    // Each worker has it in its session cache after this.
    for (let i = 0; i < 6; i++) expect(await get('/app/x', { cookie })).toBe(200);
    const out = await request(`${gw.url}/auth/logout`, { method: 'POST', headers: { cookie, origin: gw.url, connection: 'close' } });
    expect(out.statusCode).toBe(204);
    await out.body.dump();
    const after = [];
    for (let i = 0; i < 6; i++) after.push(await get('/app/x', { cookie }));
    expect(after).toEqual([401, 401, 401, 401, 401, 401]);
  });

  it('replaces a worker that dies, and the other keeps serving meanwhile', async () => {
    const started = gw.logs.filter((l) => l.msg === 'worker started');
    const victim = started.at(-1)?.pid as number;
    process.kill(victim, 'SIGKILL');
    // Once the primary has seen it go (a connection handed to it in the instant it died is lost
    // with it, as with any process that is killed), the other serves while a new one starts.
    const until = Date.now() + 10_000;
    while (!gw.logs.some((l) => l.msg === 'worker exited; starting another') && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    for (let i = 0; i < 6; i++) expect(await get('/pub/during')).toBe(200);
    while (gw.logs.filter((l) => l.msg === 'gateway listening').length < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(gw.logs.some((l) => l.msg === 'worker exited; starting another' && l.pid === victim && l.signal === 'SIGKILL')).toBe(true);
    expect(gw.logs.filter((l) => l.msg === 'gateway listening').length).toBe(3);
    for (let i = 0; i < 6; i++) expect(await get('/pub/after')).toBe(200);
  });

  it('SIGTERM drains every worker: the request in flight completes, then the primary exits 0', async () => {
    const inflight = get('/pub/slow');
    await new Promise((r) => setTimeout(r, 150));
    const exited = gw.kill('SIGTERM');
    expect(await inflight).toBe(200);
    expect(await exited).toBe(0);
    expect(gw.logs.filter((l) => l.msg === 'stopped').length).toBe(2);
  }, 20_000);
});
