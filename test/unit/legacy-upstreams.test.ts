// The legacy upstreams on their own, no gateway: proof that each quirk the differential tests rely
// on is real. If one of these fails, a gateway test that "blocks" the shape would pass vacuously.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startExpressUpstream, type ExpressUpstream } from '../support/legacy/express-app.js';
import { startOriginalUrlUpstream, type OriginalUrlUpstream } from '../support/legacy/original-url-server.js';
import { startWsgiUpstream, type WsgiUpstream } from '../support/legacy/wsgi.js';

let wsgi: WsgiUpstream;
let exp: ExpressUpstream;
let orig: OriginalUrlUpstream;

beforeAll(async () => {
  [wsgi, exp, orig] = await Promise.all([startWsgiUpstream(), startExpressUpstream(), startOriginalUrlUpstream()]);
});

afterAll(async () => {
  await Promise.all([wsgi?.close(), exp?.close(), orig?.close()]);
});

describe('WSGI app (wsgiref)', () => {
  it('refuses /admin without X-User: admin', async () => {
    const res = await request(`${wsgi.url}/admin/x`, { headers: { 'x-user': 'bob' } });
    expect(res.statusCode).toBe(403);
    expect(await res.body.json()).toEqual({ error: 'not admin' });
  });

  it('takes X_User (underscore) as X-User: both become HTTP_X_USER', async () => {
    // undici sends header names with underscores as given (they are valid tokens).
    const res = await request(`${wsgi.url}/admin/x?y=1`, { headers: { X_User: 'admin' } });
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toMatchObject({ admin: true, remote_user: 'admin' });
    await wsgi.settle();
    const rec = wsgi.received.find((r) => r.path === '/admin/x' && r.query === 'y=1');
    expect(rec).toMatchObject({ method: 'GET', remote_user: 'admin' });
    expect(rec?.env.HTTP_X_USER).toBe('admin');
  });
});

describe('Express 5 app (default router, method-override)', () => {
  it('routes /ADMIN/secret to the admin handler (case-insensitive)', async () => {
    const res = await request(`${exp.url}/ADMIN/secret`);
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('admin area');
    expect(exp.received.find((r) => r.url === '/ADMIN/secret')).toMatchObject({ method: 'GET', handler: 'admin' });
  });

  it('routes POST + X-HTTP-Method-Override: DELETE to the delete handler', async () => {
    const res = await request(`${exp.url}/items/7`, { method: 'POST', headers: { 'x-http-method-override': 'DELETE' } });
    expect(await res.body.text()).toBe('deleted 7');
    expect(exp.received.find((r) => r.url === '/items/7')).toMatchObject({
      method: 'DELETE',
      originalMethod: 'POST',
      handler: 'delete-item',
    });
  });

  it('routes a plain POST to the post handler', async () => {
    const res = await request(`${exp.url}/items/8`, { method: 'POST' });
    expect(await res.body.text()).toBe('posted 8');
  });
});

describe('X-Original-URL server (IIS / Symfony style)', () => {
  it('acts on X-Original-URL instead of the request line', async () => {
    const res = await request(`${orig.url}/public`, { headers: { 'x-original-url': '/admin/secret' } });
    expect(await res.body.text()).toBe('admin area');
    expect(orig.received.at(-1)).toMatchObject({ url: '/public', effectivePath: '/admin/secret', handler: 'admin' });
  });

  it('acts on the request line without it', async () => {
    const res = await request(`${orig.url}/public`);
    expect(await res.body.text()).toBe('ok');
    expect(orig.received.at(-1)).toMatchObject({ url: '/public', effectivePath: '/public', handler: 'other' });
  });
});
