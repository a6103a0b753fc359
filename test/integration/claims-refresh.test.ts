// Claims that follow their source (login.claimsUrl): a role removed or granted at the source reaches
// the route policy and the internal token at the next session touch, and the gateway's access token
// at the next refresh rotation, without a revocation; a user the source no longer knows is revoked
// everywhere; a source that cannot answer changes nothing.
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { route } from '../support/gateway.js';
import { startSessionEnv, USERS, type SessionEnv } from '../support/session-gateway.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

let source: Upstream;
let env: SessionEnv;
/** What the source answers, per sub: claims, 'unknown' (410), 'not-found' (a bare 404 page) or 'down' (500). */
const answers = new Map<string, Record<string, unknown> | 'unknown' | 'not-found' | 'down'>();
let lookups = 0;

beforeAll(async () => {
  source = await startUpstream((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const { sub } = JSON.parse(body) as { sub: string };
      lookups++;
      const a = answers.get(sub);
      if (a === 'unknown') res.writeHead(410).end();
      else if (a === 'not-found') res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>Not Found</h1>');
      else if (a === 'down' || a === undefined) res.writeHead(500).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ claims: a }));
    });
  });
  env = await startSessionEnv({
    gateway: { session: { touchInterval: '200ms', cacheTtl: '30s' }, login: { claimsUrl: `${source.url}/claims` } },
    routes: (up) => [
      { ...route('app', '/app', up), auth: 'session', token: { audience: 'app', claims: ['roles'] } },
      { ...route('admin', '/admin', up), auth: 'session', require: { roles: ['admin'] } },
      { ...route('api', '/api', up), auth: 'bearer', token: { audience: 'api', claims: ['roles'] } },
    ],
  });
});
afterAll(async () => {
  await env.close();
  await source.close();
});

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const forwardedRoles = () => decodeJwt((env.up.received[env.up.received.length - 1]?.headers.authorization as string).slice(7)).roles;

describe('claims refresh at the session touch', () => {
  it('a role granted at the source opens the admin route and reaches the internal token, with no new sign-in', async () => {
    answers.set('u-alice', USERS.alice?.claims as Record<string, unknown>);
    const id = await env.login('alice');
    expect((await env.get('/admin/x', id)).status).toBe(403);
    expect((await env.get('/app/x', id)).status).toBe(200);
    expect(forwardedRoles()).toEqual(['user']);
    answers.set('u-alice', { ...USERS.alice?.claims, roles: ['admin'] });
    await pause(300);
    expect((await env.get('/admin/x', id)).status).toBe(200);
    expect((await env.get('/app/x', id)).status).toBe(200);
    expect(forwardedRoles()).toEqual(['admin']);
  });

  it('a source that cannot answer changes nothing', async () => {
    answers.set('u-alice', USERS.alice?.claims as Record<string, unknown>);
    const id = await env.login('alice');
    await pause(300);
    expect((await env.get('/app/x', id)).status).toBe(200);
    answers.set('u-alice', 'down');
    await pause(300);
    expect((await env.get('/app/x', id)).status).toBe(200);
    expect(forwardedRoles()).toEqual(['user']);
  });

  it('a bare 404 page (a wrong path, a source mid-deploy) is no answer: nobody is revoked', async () => {
    answers.set('u-alice', USERS.alice?.claims as Record<string, unknown>);
    const id = await env.login('alice');
    answers.set('u-alice', 'not-found');
    await pause(300);
    expect((await env.get('/app/x', id)).status).toBe(200);
    await pause(300);
    expect((await env.get('/app/x', id)).status).toBe(200);
  });

  it('requests arriving together past the touch interval share one lookup', async () => {
    answers.set('u-alice', USERS.alice?.claims as Record<string, unknown>);
    const id = await env.login('alice');
    await pause(300);
    const before = lookups;
    const statuses = await Promise.all(Array.from({ length: 20 }, () => env.get('/app/x', id).then((r) => r.status)));
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(lookups - before).toBe(1);
  });

  it('a user the source no longer knows is revoked: sessions and refresh families', async () => {
    answers.set('u-root', USERS.root?.claims as Record<string, unknown>);
    const id = await env.login('root');
    const other = await env.login('root');
    const tokens = JSON.parse(
      (await env.send('POST', '/auth/token', undefined, { 'content-type': 'application/json' }, JSON.stringify({ username: 'root', password: 'pw-root' }))).body,
    ) as { refresh_token: string };
    answers.set('u-root', 'unknown');
    await pause(300);
    expect((await env.get('/app/x', id)).status).toBe(401);
    expect((await env.get('/app/x', other)).status).toBe(401);
    const refreshed = await env.send('POST', '/auth/refresh', undefined, { 'content-type': 'application/json' }, JSON.stringify({ refresh_token: tokens.refresh_token }));
    expect(refreshed.status).toBe(400);
    expect(await env.gw.registry.getSingleMetricAsString('gateway_sessions_revoked_total')).toContain('reason="user_unknown"} 2');
  });
});

describe('claims refresh at the refresh rotation', () => {
  it('signs the access token with the claims the source holds now', async () => {
    answers.set('u-alice', USERS.alice?.claims as Record<string, unknown>);
    const first = JSON.parse(
      (await env.send('POST', '/auth/token', undefined, { 'content-type': 'application/json' }, JSON.stringify({ username: 'alice', password: 'pw-alice' }))).body,
    ) as { access_token: string; refresh_token: string };
    expect(decodeJwt(first.access_token).roles).toEqual(['user']);
    answers.set('u-alice', { ...USERS.alice?.claims, roles: ['auditor'] });
    const next = JSON.parse(
      (await env.send('POST', '/auth/refresh', undefined, { 'content-type': 'application/json' }, JSON.stringify({ refresh_token: first.refresh_token }))).body,
    ) as { access_token: string };
    expect(decodeJwt(next.access_token).roles).toEqual(['auditor']);
  });
});
