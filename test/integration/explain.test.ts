// `gateway explain` (the CLI, as its own process, on the test gateway's configuration and Redis) and
// POST /explain on the admin listener of the running gateway: real sign-ins, real sessions in a real
// redis-server, the decision from the proxy path itself, and never a token or cookie in the output.
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExplainReport } from '../../src/http/explain.js';
import { ADMIN_AUTH, route, writeConfigDir } from '../support/gateway.js';
import { sessionRoutes, startSessionEnv, type SessionEnv } from '../support/session-gateway.js';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '../../src/cli.ts');
/** Anything shaped like a JWT: no token, minted or given, may be printed. */
const JWT = /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/;

let env: SessionEnv;
let cookie: string;
let rootCookie: string;
let accessToken: string;

const routes = (up: string) => [
  ...sessionRoutes(up),
  { ...route('orders', '/api', up), auth: 'session_or_bearer', unauthenticated: 'deny', token: { audience: 'orders-api', claims: ['email'] } },
  // A catch-all, so a path whose lenient reading is /admin... selects it exactly: ambiguous.
  route('root', '/', up),
];

beforeAll(async () => {
  env = await startSessionEnv({ routes });
  cookie = await env.login('alice');
  rootCookie = await env.login('root');
  const res = await request(`${env.gw.url}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'alice', password: 'pw-alice' }),
  });
  accessToken = ((await res.body.json()) as { access_token: string }).access_token;
});
afterAll(async () => {
  await env?.close();
});

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return gateway(['explain', '--config', join(env.gw.dir, 'gateway.yaml'), ...args]);
}

async function gateway(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const all = ['--import', 'tsx', CLI, ...args];
  try {
    const { stdout, stderr } = await run(process.execPath, all, { env: { ...process.env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function cliJson(args: string[]): Promise<{ report: ExplainReport; out: string }> {
  const r = await cli([...args, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return { report: JSON.parse(r.stdout) as ExplainReport, out: r.stdout + r.stderr };
}

async function admin(body: unknown, headers: Record<string, string> = ADMIN_AUTH): Promise<{ status: number; json: ExplainReport & { error?: string }; text: string }> {
  const res = await request(`${env.gw.adminUrl}/explain`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.body.text();
  return { status: res.statusCode, json: JSON.parse(text) as ExplainReport & { error?: string }, text };
}

function neverLeaks(out: string, ...secrets: string[]): void {
  for (const s of secrets) expect(out).not.toContain(s);
  expect(out).not.toMatch(JWT);
}

describe('gateway explain (CLI)', () => {
  it('explains a signed-in request as allowed, with the claims of the token it would mint, never the token or the cookie', async () => {
    const { report, out } = await cliJson(['GET', 'http://app.example/app/orders/7?x=1', '--cookie', cookie]);
    expect(report.route).toMatchObject({ result: 'route', name: 'app' });
    expect(report.route?.reason).toContain('longest prefix /app');
    expect(report.route?.upstream?.url).toBe(`${env.up.url}/app/orders/7?x=1`);
    expect(report.decision).toMatchObject({ result: 'allowed', at: 'stages' });
    expect(report.authentication?.principal).toEqual({ sub: 'u-alice', via: 'session' });
    expect(report.token?.header).toBe('authorization');
    expect(report.token?.typ).toBe('gateway-internal+jwt');
    expect(report.token?.claims).toMatchObject({ sub: 'u-alice', aud: 'orders', email: 'alice@example.com', roles: ['user'] });
    expect(report.token?.claims).not.toHaveProperty('secret');
    // The headers: the gateway's cookie removed, the token added but not shown.
    expect(report.headers?.cookiesRemoved).toEqual(['gw-session']);
    expect(report.headers?.added.find((h) => h.name === 'authorization')?.value).toMatch(/not shown/);
    expect(report.headers?.added.map((h) => h.name)).toEqual(['host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id', 'authorization']);
    neverLeaks(out, cookie);

    // The same for people: every section, and still no secret.
    const text = await cli(['GET', 'http://app.example/app/orders/7', '--cookie', `gw-session=${cookie}`]);
    expect(text.code).toBe(0);
    for (const section of ['Normalization', 'Route', 'Policy', 'Authentication', 'CSRF', 'Headers', 'Decision', 'Internal token']) expect(text.stdout).toContain(section);
    expect(text.stdout).toMatch(/allowed: forwarded upstream as u-alice \(via session\)/);
    expect(text.stdout).toContain('"aud": "orders"');
    neverLeaks(text.stdout + text.stderr, cookie);
  });

  it('shows every normalization step, and refuses a path whose lenient reading selects another route (ambiguous)', async () => {
    const { report } = await cliJson(['GET', 'http://app.example/public/%2e%2e//ADMIN/x']);
    expect(report.normalization.steps.map((s) => [s.step, s.path])).toEqual([
      ['percent_decode', '/public/..//ADMIN/x'],
      ['dot_dot_segment', '//ADMIN/x'],
      ['empty_segment', '/ADMIN/x'],
    ]);
    expect(report.normalization.path).toBe('/ADMIN/x');
    expect(report.normalization.folded).toBe('/admin/x');
    expect(report.route).toMatchObject({ result: 'ambiguous', name: 'root', lenient: { checked: true, route: 'admin' } });
    expect(report.decision).toMatchObject({ result: 'refused', status: 400, code: 'ambiguous_path', at: 'route' });
  });

  it('names a header dropped because of its underscore, and the rest of the header policy', async () => {
    const { report } = await cliJson([
      'GET',
      'http://app.example/public/x',
      '--header', 'X_User: mallory',
      '--header', 'X-Forwarded-User: mallory',
      '--header', 'Connection: x-trace',
      '--header', 'X-Trace: 1',
      '--header', 'Accept: text/plain',
    ]);
    const dropped = Object.fromEntries((report.headers?.dropped ?? []).map((d) => [d.name, d.reason]));
    expect(dropped.X_User).toMatch(/"_".*x-user \(keepUnderscoreHeaders: false\)/);
    expect(dropped['X-Forwarded-User']).toMatch(/identity/);
    expect(dropped['X-Trace']).toMatch(/named in Connection/);
    expect(dropped.Connection).toMatch(/hop-by-hop/);
    expect(report.headers?.forwarded).toEqual([{ name: 'accept', value: 'text/plain' }]);
    expect(report.decision).toMatchObject({ result: 'allowed', detail: 'forwarded upstream (public route)' });
    expect(report.policy?.words).toEqual([expect.stringMatching(/^public/)]);
  });

  it('is in --help, and answers usage errors with exit 2', async () => {
    const help = await gateway(['--help']);
    for (const word of ['explain METHOD URL', '--header', '--cookie', '--bearer', '--json', '--strict']) expect(help.stdout).toContain(word);
    expect((await cli(['GET'])).code).toBe(2);
    const bad = await cli(['GET', 'ftp://x/']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/absolute/);
  });
});

describe('POST /explain on the admin listener', () => {
  it('needs the admin credential', async () => {
    const res = await admin({ method: 'GET', url: 'http://app.example/app/x' }, {});
    expect(res.status).toBe(401);
    expect(res.json.error).toBe('admin_unauthorized');
    const bad = await admin({ method: 'GET' });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toBe('invalid_body');
  });

  it('explains a signed-in request as allowed with its claims, from the running instance', async () => {
    const res = await admin({ method: 'GET', url: 'http://app.example/app/x', cookie });
    expect(res.status).toBe(200);
    expect(res.json.decision.result).toBe('allowed');
    expect(res.json.token?.claims).toMatchObject({ sub: 'u-alice', aud: 'orders', email: 'alice@example.com' });
    expect(res.json.csrf).toMatchObject({ mode: true, appliesHere: false });
    neverLeaks(res.text, cookie);
    // An unsafe method from another site: the CSRF stage refuses it, as proxy mode would.
    const post = await admin({ method: 'POST', url: 'http://app.example/app/x', cookie, headers: { Origin: 'https://evil.example' } });
    expect(post.json.decision).toMatchObject({ result: 'forbidden', status: 403, code: 'csrf_failed' });
    expect(post.json.csrf?.appliesHere).toBe(true);
  });

  it('no cookie: 401, and a browser asking for the page is sent to sign in', async () => {
    const browser = await admin({ method: 'GET', url: 'http://app.example/app/x?y=1', headers: { Accept: 'text/html' } });
    expect(browser.json.decision).toMatchObject({ result: 'unauthenticated', status: 302, code: 'unauthenticated', signIn: '/auth/login?return=%2Fapp%2Fx%3Fy%3D1' });
    expect(browser.json.authentication).toMatchObject({ mode: 'session', signIn: '/auth/login', tried: [{ credential: 'session_cookie' }] });
    const api = await admin({ method: 'GET', url: 'http://app.example/app/x' });
    expect(api.json.decision).toMatchObject({ result: 'unauthenticated', status: 401, code: 'unauthenticated' });
    expect(api.json.decision.wwwAuthenticate).toContain('cookie-name="gw-session"');
  });

  it('a role the user lacks: 403 with its reason, and the policy in words', async () => {
    const res = await admin({ method: 'GET', url: 'http://app.example/admin/x', cookie });
    expect(res.json.decision).toMatchObject({ result: 'forbidden', status: 403, code: 'forbidden', reason: 'role' });
    expect(res.json.policy).toMatchObject({ auth: 'session', require: { roles: ['admin'] } });
    expect(res.json.policy?.words.join(' ')).toContain('the roles claim holds one of "admin"');
    expect(res.json.token).toBeUndefined();
    const allowed = await admin({ method: 'GET', url: 'http://app.example/admin/x', cookie: rootCookie });
    expect(allowed.json.decision.result).toBe('allowed');
    neverLeaks(res.text + allowed.text, cookie, rootCookie);
  });

  it('a bearer access token: tried before the cookie, allowed, its token never echoed', async () => {
    const res = await admin({ method: 'GET', url: 'http://app.example/api/orders', bearer: accessToken, headers: [['Accept', 'application/json']] });
    expect(res.json.authentication?.tried.map((t) => t.credential)).toEqual(['bearer', 'session_cookie']);
    expect(res.json.authentication?.principal).toEqual({ sub: 'u-alice', via: 'bearer' });
    expect(res.json.decision.result).toBe('allowed');
    expect(res.json.token?.claims).toMatchObject({ sub: 'u-alice', aud: 'orders-api', email: 'alice@example.com' });
    expect(res.json.headers?.dropped).toContainEqual({ name: 'Authorization', reason: "the client's own credential: never forwarded on an authenticated route" });
    neverLeaks(res.text, accessToken);
  });

  it('names a configured request header but never shows its value (it may be a secret from the environment)', async () => {
    await env.gw.writeRoutes([...routes(env.up.url), route('keyed', '/keyed', env.up.url, { headers: { request: { set: { 'X-Api-Key': 'upstream-secret-123' } } } })]);
    expect(await env.gw.reloadRoutes()).toBe(true);
    const res = await admin({ method: 'GET', url: 'http://app.example/keyed/x' });
    expect(res.json.headers?.added).toContainEqual({ name: 'x-api-key', value: '<configured value, not shown>', source: 'headers.request.set' });
    expect(res.text).not.toContain('upstream-secret-123');
  });

  it('answers from the live route table: a reload is seen at once', async () => {
    await env.gw.writeRoutes([...routes(env.up.url), { ...route('late', '/late', env.up.url), auth: 'session' }]);
    expect(await env.gw.reloadRoutes()).toBe(true);
    const res = await admin({ method: 'GET', url: 'http://app.example/late/x', cookie });
    expect(res.json.route?.name).toBe('late');
    expect(res.json.decision.result).toBe('allowed');
  });
});

describe('gateway check-config', () => {
  it('warns about shadowed and overlapping routes, naming both, exits 0, and fails with --strict', async () => {
    const up = 'http://127.0.0.1:1';
    const dir = await writeConfigDir([
      route('page', '/page', up, { match: { methods: ['GET'] } }),
      route('page-head', '/page', up, { match: { methods: ['HEAD'] } }),
      route('site', '/', up, { match: { host: 'app.example.com' } }),
      { ...route('admin', '/admin', up), auth: 'session', require: { roles: ['admin'] } },
      { ...route('orders', '/orders', up), auth: 'session' },
      route('orders-hook', '/orders/hook', up, { match: { methods: ['POST'] } }),
    ]);
    try {
      const r = await gateway(['check-config', '--config', join(dir, 'gateway.yaml')]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/routes\.yaml: warning \(shadowed\): "page-head" \(any host, \/page, HEAD\) is never matched: HEAD requests go to "page"/);
      expect(r.stderr).toMatch(/warning \(host precedence\): "admin" \(any host, \/admin\) never gets requests for host app\.example\.com, although its path is longer than that of "site"/);
      expect(r.stderr).toMatch(/warning \(method gap\): "orders" \(any host, \/orders\) never gets GET, HEAD, PUT, PATCH, DELETE, OPTIONS, TRACE, CONNECT requests to \/orders\/hook: "orders-hook"/);
      expect(r.stdout).toMatch(/: ok \(6 routes from .*; \d+ warning\(s\)\)/);
      const strict = await gateway(['check-config', '--strict', '--config', join(dir, 'gateway.yaml')]);
      expect(strict.code).toBe(1);
      expect(strict.stderr).toMatch(/\d+ warning\(s\), and --strict makes them fail the check/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps errors apart: two routes on one host, path and method are a problem, not a warning', async () => {
    const dir = await writeConfigDir([route('a', '/a', 'http://127.0.0.1:1'), route('b', '/a', 'http://127.0.0.1:1')]);
    try {
      const r = await gateway(['check-config', '--config', join(dir, 'gateway.yaml')]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/routes\[1\]\.match\.path: is shadowed by routes\[0\]/);
      expect(r.stderr).toContain('1 problem(s) found');
      expect(r.stderr).not.toContain('warning (');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('Redis down', () => {
  it('the CLI explains a session request as 503, never as allowed or anonymous', async () => {
    await env.redis.stop();
    try {
      const { report, out } = await cliJson(['GET', 'http://app.example/app/x', '--cookie', cookie]);
      expect(report.decision).toMatchObject({ result: 'unavailable', status: 503, code: 'session_store_unavailable', retryAfter: '1' });
      expect(report.token).toBeUndefined();
      neverLeaks(out, cookie);
    } finally {
      await env.redis.start();
    }
  });
});
