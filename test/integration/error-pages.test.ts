// Error pages of your own: a global HTML template and a route's own, filled with the escaped status,
// message, code and reason for browsers; APIs keep the JSON body; a template with an unknown
// placeholder is a load error (at a reload too, which then keeps the running table).
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { route, startTestGateway, type TestGateway } from '../support/gateway.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

let dir: string;
let up: Upstream;
let gw: TestGateway;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gw-pages-'));
  await writeFile(join(dir, 'global.html'), '<!doctype html><title>{{title}}</title><h1>ACME: {{ title }}</h1><p>{{message}}</p><small>{{code}} {{requestId}}</small>');
  await writeFile(join(dir, 'app.html'), '<!doctype html><h1>App says {{status}}</h1><p>{{code}}/{{reason}}</p>');
  up = await startUpstream();
  gw = await startTestGateway({
    routes: [
      { ...route('app', '/app', up.url), auth: 'session', unauthenticated: 'deny', errorPage: join(dir, 'app.html') },
      { ...route('plain', '/plain', up.url), auth: 'bearer' },
    ],
    gateway: { errorPages: { html: join(dir, 'global.html') } },
  });
});
afterAll(async () => {
  await gw?.stop();
  await up?.close();
});

async function get(path: string, accept: string) {
  const res = await request(`${gw.url}${path}`, { headers: { accept } });
  return { status: res.statusCode, type: String(res.headers['content-type']), code: res.headers['x-gateway-error'], body: await res.body.text() };
}

describe('error pages', () => {
  it('browsers get the global template for errors before any route, and on routes without their own', async () => {
    for (const path of ['/nowhere', '/plain/x']) {
      const res = await get(path, 'text/html');
      expect(res.type).toContain('text/html');
      expect(res.body).toMatch(/^<!doctype html><title>\d{3} [A-Za-z ]+<\/title><h1>ACME: \d{3}/);
      expect(res.body).toContain(`<small>${res.code} `);
    }
  });

  it('a route\'s own template for its errors; APIs keep JSON', async () => {
    const page = await get('/app/x', 'text/html');
    expect(page.status).toBe(401);
    expect(page.body).toBe('<!doctype html><h1>App says 401</h1><p>unauthenticated/</p>');
    const api = await get('/app/x', 'application/json');
    expect(JSON.parse(api.body)).toMatchObject({ error: 'unauthenticated' });
  });

  it('an unknown placeholder is a load error', async () => {
    await writeFile(join(dir, 'bad.html'), '<p>{{secret}}</p>');
    await expect(startTestGateway({ routes: [], gateway: { errorPages: { html: join(dir, 'bad.html') } } })).rejects.toThrow(/unknown placeholder \{\{secret\}\}/);
  });
});
