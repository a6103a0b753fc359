// WebSocket upgrades on authenticated routes go through the same authentication and header
// filtering: no session, no upgrade; with one, the upstream sees the internal token, not the cookie.
import { decodeJwt } from 'jose';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { route } from '../support/gateway.js';
import { rawRequest } from '../support/raw.js';
import { COOKIE, startSessionEnv, type SessionEnv } from '../support/session-gateway.js';
import { startWsUpstream, type WsUpstream } from '../support/ws-upstream.js';

let env: SessionEnv;
let ws: WsUpstream;

beforeAll(async () => {
  ws = await startWsUpstream();
  env = await startSessionEnv({
    routes: () => [
      { ...route('live', '/live', ws.url), auth: 'session', websocket: true, token: { audience: 'live' } },
      { ...route('loose', '/loose', ws.url), auth: 'session', websocket: true, csrf: false },
      { ...route('everything', '/', ws.url), websocket: true },
    ],
  });
});
afterAll(async () => {
  await env.close();
  await ws.close();
});

describe('websocket on a session route', () => {
  it('refuses the upgrade without a session and never reaches the upstream', async () => {
    const res = await rawRequest(
      env.gw.url,
      'GET /live/feed HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    expect(res.status).toBe(401);
    expect(ws.upgrades).toHaveLength(0);
  });

  it('proxies with a session: internal token in, session cookie out', async () => {
    const id = await env.login('alice');
    const client = new WebSocket(`${env.gw.url.replace('http:', 'ws:')}/live/feed`, { headers: { cookie: `${COOKIE}=${id}; theme=dark`, origin: env.origin } });
    const setCookies = new Promise<string[]>((r) => client.once('upgrade', (res) => r([res.headers['set-cookie'] ?? []].flat())));
    await new Promise((resolve, reject) => {
      client.once('open', resolve);
      client.once('error', reject);
    });
    // The upstream's attempt to set the session cookie is dropped; its own cookie passes.
    expect(await setCookies).toEqual(['app=1; Path=/']);
    const reply = new Promise<string>((r) => client.once('message', (d) => r(String(d))));
    client.send('hi');
    expect(await reply).toBe('echo:hi');
    client.close();
    const req = ws.upgrades[ws.upgrades.length - 1];
    expect(req?.headers.cookie).toBe('theme=dark');
    expect(decodeJwt((req?.headers.authorization as string).slice(7))).toMatchObject({ sub: 'u-alice', aud: 'live' });
  });

  it.each([
    ['a foreign Origin', { origin: 'http://evil.example' }, '/live/feed'],
    ['an opaque Origin', { origin: 'null' }, '/live/feed'],
    ['a sibling origin on another port', { origin: 'http://app.example:8443' }, '/live/feed'],
    ['Sec-Fetch-Site: cross-site', { origin: 'http://app.example', 'sec-fetch-site': 'cross-site' }, '/live/feed'],
    ['a foreign Origin on a csrf: false route', { origin: 'http://evil.example' }, '/loose/feed'],
  ])('refuses a cookie-authenticated upgrade from %s with 403 csrf_failed, opening nothing upstream', async (_what, headers, path) => {
    const id = await env.login('alice');
    const before = ws.upgrades.length;
    let text = `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nCookie: ${COOKIE}=${id}\r\n`;
    for (const [k, v] of Object.entries(headers)) text += `${k}: ${v}\r\n`;
    const res = await rawRequest(env.gw.url, text + '\r\n');
    expect(res.status).toBe(403);
    expect(res.headers['x-gateway-error']).toBe('csrf_failed');
    expect(ws.upgrades.length).toBe(before);
  });

  it.each(['/auth/login', '/auth/refresh', '/auth/anything', '/.well-known/jwks.json'])(
    'never upgrades %s, even under a route that takes WebSockets for every path',
    async (path) => {
      const before = ws.upgrades.length;
      const res = await rawRequest(
        env.gw.url,
        `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nCookie: __Secure-refresh=r1\r\n\r\n`,
      );
      expect(res.status).toBe(400);
      expect(res.headers['x-gateway-error']).toBe('upgrade_not_allowed');
      expect(ws.upgrades.length).toBe(before);
    },
  );

  it('keeps the refresh cookie and the session cookie from a public WebSocket upstream', async () => {
    const client = new WebSocket(`${env.gw.url.replace('http:', 'ws:')}/chat`, { headers: { cookie: `${COOKIE}=abc; __Secure-refresh=r1; theme=dark` } });
    await new Promise((resolve, reject) => {
      client.once('open', resolve);
      client.once('error', reject);
    });
    client.close();
    expect(ws.upgrades[ws.upgrades.length - 1]?.headers.cookie).toBe('theme=dark');
  });
});
