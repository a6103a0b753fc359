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
  env = await startSessionEnv({ routes: () => [{ ...route('live', '/live', ws.url), auth: 'session', websocket: true, token: { audience: 'live' } }] });
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
});
