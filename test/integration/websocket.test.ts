// WebSocket upgrades: proxied on routes that allow them (after the same header filtering), refused
// with a stable code everywhere else.
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { route, startTestGateway, type TestGateway } from '../support/gateway.js';
import { rawRequest } from '../support/raw.js';
import { startWsUpstream, type WsUpstream } from '../support/ws-upstream.js';

let gw: TestGateway;
let wsUrl: string;
let ws: WsUpstream;

beforeAll(async () => {
  ws = await startWsUpstream();
  gw = await startTestGateway({
    routes: [route('ws', '/ws', ws.url, { websocket: true, upstream: { stripPrefix: true } }), route('plain', '/', ws.url)],
  });
  wsUrl = gw.url.replace('http:', 'ws:');
});

afterAll(async () => {
  await gw.stop();
  await ws.close();
});

describe('websocket', () => {
  it('proxies an upgrade on a websocket route, stripping identity headers', async () => {
    ws.upgrades.length = 0;
    const client = new WebSocket(`${wsUrl}/ws/chat?room=1`, { headers: { 'x-user': 'admin', 'x-forwarded-for': '6.6.6.6' } });
    await new Promise((resolve, reject) => {
      client.once('open', resolve);
      client.once('error', reject);
    });
    const reply = new Promise<string>((r) => client.once('message', (d) => r(String(d))));
    client.send('hi');
    expect(await reply).toBe('echo:hi');
    client.close();
    const req = ws.upgrades[0];
    expect(req?.url).toBe('/chat?room=1');
    expect(req?.headers['x-user']).toBeUndefined();
    expect(req?.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(req?.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses an upgrade on a route without websocket: true', async () => {
    ws.upgrades.length = 0;
    const res = await rawRequest(
      gw.url,
      'GET /plain HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'upgrade_not_allowed' });
    expect(ws.upgrades).toHaveLength(0);
  });

  it('refuses an upgrade to another protocol', async () => {
    const res = await rawRequest(gw.url, 'GET /ws/x HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n');
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'upgrade_not_allowed' });
  });

  it('answers 404 for an upgrade that matches no route, with the same renderer', async () => {
    const g = await startTestGateway({ routes: [route('only', '/only', 'http://127.0.0.1:1', { websocket: true })] });
    try {
      const res = await rawRequest(g.url, 'GET /nope HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
      expect(res.status).toBe(404);
      expect(res.headers['x-gateway-error']).toBe('route_not_found');
    } finally {
      await g.stop();
    }
  });

  it('answers 502 when the websocket upstream is down', async () => {
    const g = await startTestGateway({ routes: [route('down', '/', 'http://127.0.0.1:1', { websocket: true })] });
    try {
      const res = await rawRequest(
        g.url,
        'GET /x HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
      expect(res.status).toBe(502);
      expect(JSON.parse(res.body)).toMatchObject({ error: 'upstream_unavailable' });
    } finally {
      await g.stop();
    }
  });
});
