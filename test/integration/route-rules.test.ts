// Rules inside a protected route: a public sub-path (assets) served without a session while its
// parent is not, a public webhook method on a path whose other methods need a session, an admin
// area with its own policy; the gateway's path normalization decides which rule applies, so a dot
// segment cannot walk from the public sub-path into the protected app. And rules that could never
// match are located load errors.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRoutesFile } from '../../src/config/load.js';
import { route } from '../support/gateway.js';
import { startSessionEnv, type SessionEnv } from '../support/session-gateway.js';

let env: SessionEnv;
beforeAll(async () => {
  env = await startSessionEnv({
    routes: (up) => [
      {
        ...route('app', '/app', up),
        auth: 'session',
        rules: [
          { name: 'static', path: '/app/static', auth: 'public' },
          { name: 'hook', path: '/app/hook', methods: ['POST'], auth: 'public', csrf: false },
          { name: 'admin', path: '/app/admin', require: { roles: ['admin'] } },
        ],
      },
      {
        ...route('strip', '/strip', up, { upstream: { stripPrefix: true } }),
        auth: 'session',
        rules: [
          { name: 'assets', path: '/strip/assets', auth: 'public' },
          { name: 'admin', path: '/strip/admin', require: { roles: ['admin'] } },
        ],
      },
    ],
  });
});
afterAll(async () => env?.close());

/** A request line sent as is (no client-side normalization of dot segments). */
function raw(path: string): Promise<string> {
  const { port } = new URL(env.gw.url);
  return new Promise((resolve, reject) => {
    const s = new Socket();
    let out = '';
    s.on('data', (d: Buffer) => (out += d.toString()));
    s.on('close', () => resolve(out.split('\r\n')[0] ?? ''));
    s.on('error', reject);
    // Written, not ended: a half-closed client would not wait for a proxied answer.
    s.connect(Number(port), '127.0.0.1', () => s.write(`GET ${path} HTTP/1.1\r\nHost: app.example\r\nConnection: close\r\n\r\n`));
  });
}

describe('rules inside a route', () => {
  it('serve a public sub-path without a session while the rest of the app needs one', async () => {
    expect((await env.get('/app/static/site.css')).status).toBe(200);
    expect((await env.get('/app/page')).status).toBe(401);
    expect((await env.get('/app/page', await env.login('alice'))).status).toBe(200);
  });

  it('let the normalized path decide: a dot segment from the public sub-path into the app needs a session', async () => {
    expect(await raw('/app/static/../page')).toMatch(/ 401 /);
    expect(await raw('/app/static/%2e%2e/page')).toMatch(/ 401 /);
    expect(await raw('/app/static/x/../site.css')).toMatch(/ 200 /);
  });

  it('take only their methods on their path: others answer 405, never fall back to a looser route', async () => {
    expect((await env.send('POST', '/app/hook', undefined, { 'content-type': 'application/json' }, '{}')).status).toBe(200);
    expect((await env.get('/app/hook')).status).toBe(405);
  });

  it('carry their own policy, and their own name in metrics', async () => {
    expect((await env.get('/app/admin/x', await env.login('alice'))).status).toBe(403);
    expect((await env.get('/app/admin/x', await env.login('root'))).status).toBe(200);
    expect(await env.gw.registry.getSingleMetricAsString('gateway_auth_outcomes_total')).toContain('route="app.admin",result="forbidden",reason="role"');
  });
});

describe('rules under a route that strips its prefix', () => {
  it('strip the route\'s own path, never the rule\'s: a public rule cannot hand the upstream a protected path', async () => {
    const before = env.up.received.length;
    expect((await env.get('/strip/assets/admin/users')).status).toBe(200);
    expect(env.up.received[before]?.url).toBe('/assets/admin/users');
    expect((await env.get('/strip/admin/users')).status).toBe(401);
    const root = await env.login('root');
    const asRoot = await env.get('/strip/admin/users', root);
    expect(asRoot.status).toBe(200);
    expect(env.up.received.at(-1)?.url).toBe('/admin/users');
    // The internal token's audience is the route's, for its rules too.
    const token = String(env.up.received.at(-1)?.headers.authorization).slice(7);
    expect(JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()).aud).toBe('strip');
  });
});

describe('rules that could never match', () => {
  const problems = async (rules: unknown[], extra = '') => {
    const dir = await mkdtemp(join(tmpdir(), 'gw-rules-'));
    const file = join(dir, 'routes.yaml');
    await writeFile(
      file,
      `routes:\n  - name: app\n    match: { path: /app }\n    upstream: { url: "http://127.0.0.1:1" }\n    auth: session\n    rules: ${JSON.stringify(rules)}\n${extra}`,
    );
    try {
      await loadRoutesFile(file);
      return [];
    } catch (err) {
      return (err as { problems: { path: string; message: string }[] }).problems.map((p) => `${p.path}: ${p.message}`);
    }
  };

  it('are located load errors: outside the route, shadowed, or a policy on a public rule', async () => {
    expect(await problems([{ name: 'x', path: '/other', auth: 'public' }])).toEqual([expect.stringMatching(/^routes\[0\]\.rules\[0\]\.path: is not under the route's match\.path/)]);
    expect(await problems([{ name: 'a', path: '/app/s', auth: 'public' }, { name: 'b', path: '/app/s', methods: ['GET'], auth: 'public' }])).toEqual([
      expect.stringMatching(/^routes\[0\]\.rules\[1\]\.path: is shadowed by routes\[0\]\.rules\[0\]/),
    ]);
    expect(await problems([{ name: 'a', path: '/app/s', auth: 'public', require: { roles: ['x'] } }])).toEqual([
      expect.stringMatching(/^routes\[0\]\.rules\[0\]\.require: a public route authenticates nobody/),
    ]);
    expect(await problems([{ name: 'ok', path: '/app', methods: ['POST'], auth: 'public' }])).toEqual([]);
  });
});
