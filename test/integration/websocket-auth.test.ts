// WebSocket upgrades on authenticated routes go through the same authentication and header
// filtering: no session, no upgrade; with one, the upstream sees the internal token, not the cookie.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';
import { WebSocket, WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { route } from '../support/gateway.js';
import { rawRequest } from '../support/raw.js';
import { COOKIE, startSessionEnv, type SessionEnv } from '../support/session-gateway.js';

let env: SessionEnv;
const upgrades: IncomingMessage[] = [];
const server = createServer();
const wss = new WebSocketServer({ server });

beforeAll(async () => {
  wss.on('connection', (socket, req) => {
    upgrades.push(req);
    socket.on('message', (d) => socket.send(`echo:${String(d)}`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const wsUp = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  env = await startSessionEnv({ routes: () => [{ ...route('live', '/live', wsUp), auth: 'session', websocket: true, token: { audience: 'live' } }] });
});
afterAll(async () => {
  await env.close();
  for (const c of wss.clients) c.terminate();
  wss.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('websocket on a session route', () => {
  it('refuses the upgrade without a session and never reaches the upstream', async () => {
    const res = await rawRequest(
      env.gw.url,
      'GET /live/feed HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    expect(res.status).toBe(401);
    expect(upgrades).toHaveLength(0);
  });

  it('proxies with a session: internal token in, session cookie out', async () => {
    const id = await env.login('alice');
    const ws = new WebSocket(`${env.gw.url.replace('http:', 'ws:')}/live/feed`, { headers: { cookie: `${COOKIE}=${id}; theme=dark`, origin: env.origin } });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const reply = new Promise<string>((r) => ws.once('message', (d) => r(String(d))));
    ws.send('hi');
    expect(await reply).toBe('echo:hi');
    ws.close();
    const req = upgrades[upgrades.length - 1];
    expect(req?.headers.cookie).toBe('theme=dark');
    expect(decodeJwt((req?.headers.authorization as string).slice(7))).toMatchObject({ sub: 'u-alice', aud: 'live' });
  });
});
