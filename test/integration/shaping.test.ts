// Request and response shaping per route: headers set (the client's value of the same name dropped
// in every spelling) and removed in both directions, the Host an upstream's virtual host needs,
// and who is sent to sign in when not signed in (redirect every read, or never).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { route } from '../support/gateway.js';
import { startSessionEnv, type SessionEnv } from '../support/session-gateway.js';

let env: SessionEnv;
beforeAll(async () => {
  env = await startSessionEnv({
    routes: (up) => [
      {
        ...route('shaped', '/shaped', up, { upstream: { host: 'legacy.internal:8080' } }),
        headers: {
          request: { set: { 'X-App-Tenant': 'acme', 'X-Feature': 'on' }, remove: ['X-Debug'] },
          response: { set: { 'X-Frame-Options': 'DENY', 'Cache-Control': 'no-store' }, remove: ['X-Upstream'] },
        },
      },
      { ...route('app', '/app', up), auth: 'session', unauthenticated: 'redirect' },
      { ...route('api', '/api', up), auth: 'session', unauthenticated: 'deny' },
    ],
  });
});
afterAll(async () => env?.close());

describe('request and response shaping', () => {
  it('sets and removes request headers after dropping what the client sent under those names', async () => {
    const before = env.up.received.length;
    const res = await env.get('/shaped/x', undefined, { 'x-app-tenant': 'evil', x_app_tenant: 'evil', 'x-debug': '1', 'x-kept': 'yes' });
    expect(res.status).toBe(200);
    const seen = env.up.received[before]?.headers ?? {};
    expect(seen['x-app-tenant']).toBe('acme');
    expect(seen['x-feature']).toBe('on');
    expect(seen['x-debug']).toBeUndefined();
    expect(seen.x_app_tenant).toBeUndefined();
    expect(seen['x-kept']).toBe('yes');
    expect(seen.host).toBe('legacy.internal:8080');
  });

  it('sets and removes response headers over the upstream\'s', async () => {
    const res = await env.get('/shaped/x');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['cache-control']).toBe('no-store');
    // The echo upstream always sends X-Upstream: yes (the /app route shows it passes elsewhere).
    expect(res.headers['x-upstream']).toBeUndefined();
    expect((await env.get('/app/x', await env.login('alice'))).headers['x-upstream']).toBe('yes');
  });
});

describe('when not signed in', () => {
  it('unauthenticated: redirect sends every read to sign in, whatever it accepts; other methods get 401', async () => {
    const read = await env.get('/app/data.json', undefined, { accept: 'application/json' });
    expect(read.status).toBe(302);
    expect(read.headers.location).toBe('/auth/login?return=%2Fapp%2Fdata.json');
    expect((await env.send('POST', '/app/x', undefined, { origin: env.origin })).status).toBe(401);
  });

  it('unauthenticated: deny answers 401 even to a browser asking for HTML', async () => {
    const res = await env.get('/api/x', undefined, { accept: 'text/html' });
    expect(res.status).toBe(401);
    expect(res.headers.location).toBeUndefined();
  });
});
