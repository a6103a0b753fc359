// WebSockets end with what authenticated them, on every instance: two gateways on one real Redis;
// a socket opened through A is closed (1008, upstream connection ended) within a second of logout,
// "log out everywhere", a session deleted from the sessions list, or admin revocation through B;
// and by its session's idle or absolute expiry, or its bearer token's exp. Shutdown closes with 1001.
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { request } from 'undici';
import { WebSocket, WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_AUTH, route, startTestGateway, type TestGateway } from '../support/gateway.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { COOKIE, startVerifier } from '../support/session-gateway.js';
import type { Upstream } from '../support/upstream.js';
import { startWsUpstream, type WsUpstream } from '../support/ws-upstream.js';

const ORIGIN = 'http://app.example';
let redis: RedisServer;
let verifier: Upstream;
let ws: WsUpstream;
let a: TestGateway;
let b: TestGateway;

function gatewayConfig(session: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    redis: { url: redis.url, commandTimeout: '500ms' },
    publicOrigins: [ORIGIN],
    login: { verifyUrl: `${verifier.url}/verify` },
    session: { store: 'redis', cookie: { name: COOKIE, secure: false }, cacheTtl: '30s', ...session },
    ...extra,
  };
}

const routes = () => [
  { ...route('live', '/live', ws.url), auth: 'session', websocket: true },
  { ...route('feed', '/feed', ws.url), auth: 'bearer', websocket: true },
];

beforeAll(async () => {
  redis = await startRedis();
  verifier = await startVerifier();
  ws = await startWsUpstream();
  [a, b] = await Promise.all([startTestGateway({ routes: routes(), gateway: gatewayConfig() }), startTestGateway({ routes: routes(), gateway: gatewayConfig() })]);
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await Promise.all([verifier?.close(), ws?.close()]);
  await redis?.dispose();
});

async function login(gw: TestGateway, username = 'alice', password = 'pw-alice'): Promise<string> {
  const res = await request(`${gw.url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: ORIGIN },
    body: JSON.stringify({ username, password }),
  });
  expect(res.statusCode).toBe(200);
  await res.body.dump();
  return /^gw-session=([^;]+)/.exec(String(res.headers['set-cookie']))?.[1] as string;
}

interface Open {
  client: WebSocket;
  /** Resolves with the close code and how long after `since()` it came. */
  closed: Promise<{ code: number; reason: string; at: number }>;
}

async function open(gw: TestGateway, path: string, headers: Record<string, string>): Promise<Open> {
  const client = new WebSocket(`${gw.url.replace('http:', 'ws:')}${path}`, { headers: { origin: ORIGIN, ...headers } });
  const closed = new Promise<{ code: number; reason: string; at: number }>((resolve) =>
    client.once('close', (code, reason) => resolve({ code, reason: String(reason), at: Date.now() })),
  );
  await new Promise((resolve, reject) => {
    client.once('open', resolve);
    client.once('error', reject);
  });
  // The socket works before it is ended.
  const echo = new Promise<string>((r) => client.once('message', (d) => r(String(d))));
  client.send('ping');
  expect(await echo).toBe('echo:ping');
  return { client, closed };
}

const cookie = (id: string) => ({ cookie: `${COOKIE}=${id}` });

async function closedWithin(o: Open, ms: number): Promise<{ code: number; reason: string; at: number }> {
  const started = Date.now();
  const result = await Promise.race([o.closed, new Promise<undefined>((r) => setTimeout(() => r(undefined), ms + 500))]);
  if (!result) throw new Error(`socket still open ${ms + 500} ms later`);
  expect(result.at - started).toBeLessThanOrEqual(ms);
  return result;
}

async function metric(gw: TestGateway, series: string): Promise<number> {
  const line = (await gw.registry.metrics()).split('\n').find((l) => l.startsWith(series));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

describe('a socket opened through A ends when B ends its session', () => {
  it('logout through B: close 1008 within a second, upstream connection ended', async () => {
    const id = await login(a);
    const upstreamClosed = ws.closed;
    const s = await open(a, '/live/chat', cookie(id));
    expect(await metric(a, 'gateway_websockets_open{route="live"}')).toBe(1);
    const out = await request(`${b.url}/auth/logout`, { method: 'POST', headers: { ...cookie(id), origin: ORIGIN } });
    expect(out.statusCode).toBe(204);
    const closed = await closedWithin(s, 1000);
    expect(closed).toMatchObject({ code: 1008, reason: 'logout' });
    await expect.poll(() => ws.closed, { timeout: 1000 }).toBe(upstreamClosed + 1);
    expect(await metric(a, 'gateway_websockets_closed_total{route="live",reason="logout"}')).toBe(1);
    expect(await metric(a, 'gateway_websockets_open{route="live"}')).toBe(0);
  });

  it('"log out everywhere" through B ends every socket of the user on A, not other users\'', async () => {
    const [id1, id2, other] = [await login(a), await login(b), await login(a, 'root', 'pw-root')];
    const s1 = await open(a, '/live/1', cookie(id1));
    const s2 = await open(a, '/live/2', cookie(id2));
    const s3 = await open(a, '/live/3', cookie(other));
    const res = await request(`${b.url}/auth/logout-all`, { method: 'POST', headers: { ...cookie(id2), origin: ORIGIN } });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect((await closedWithin(s1, 1000)).code).toBe(1008);
    expect((await closedWithin(s2, 1000)).reason).toBe('user_revoked');
    expect(s3.client.readyState).toBe(WebSocket.OPEN);
    s3.client.close();
  });

  it('DELETE /auth/sessions/{handle} through B ends that session\'s socket on A', async () => {
    const laptop = await login(a);
    const phone = await login(b);
    const s = await open(a, '/live/x', cookie(laptop));
    const list = (await (await request(`${b.url}/auth/sessions`, { headers: cookie(phone) })).body.json()) as { sessions: { handle: string; current: boolean }[] };
    const target = list.sessions.find((x) => !x.current)?.handle as string;
    const del = await request(`${b.url}/auth/sessions/${target}`, { method: 'DELETE', headers: { ...cookie(phone), origin: ORIGIN } });
    expect(del.statusCode).toBe(204);
    expect(await closedWithin(s, 1000)).toMatchObject({ code: 1008, reason: 'session_deleted' });
  });

  it('admin revocation on B\'s admin listener ends the user\'s sockets on A, bearer ones included', async () => {
    const id = await login(a, 'root', 'pw-root');
    const tokens = (await (
      await request(`${a.url}/auth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'root', password: 'pw-root' }) })
    ).body.json()) as { access_token: string };
    const viaCookie = await open(a, '/live/y', cookie(id));
    const viaBearer = await open(a, '/feed/y', { authorization: `Bearer ${tokens.access_token}` });
    const res = await request(`${b.adminUrl}/admin/users/u-root/revoke`, { method: 'POST', headers: ADMIN_AUTH });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(await closedWithin(viaCookie, 1000)).toMatchObject({ code: 1008, reason: 'user_revoked' });
    expect(await closedWithin(viaBearer, 1000)).toMatchObject({ code: 1008, reason: 'user_revoked' });
  });
});

/** A WebSocket upstream that holds each upgrade until the test releases it. */
async function startSlowUpstream() {
  const server = createServer();
  const wss = new WebSocketServer({ noServer: true });
  const held: (() => void)[] = [];
  const sockets: Duplex[] = [];
  const state = { held, arrived: 0, open: 0 };
  server.on('upgrade', (req: IncomingMessage, sock: Duplex, head: Buffer) => {
    state.arrived++;
    sockets.push(sock);
    held.push(() =>
      wss.handleUpgrade(req, sock, head, (socket) => {
        state.open++;
        socket.on('close', () => state.open--);
        socket.on('message', (d) => socket.send(`echo:${String(d)}`));
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return Object.assign(state, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      for (const sock of sockets) sock.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  });
}

describe('while the upstream has not answered the upgrade yet', () => {
  it('a logout ends the upgrade: the client never gets a socket, and the upstream\'s late 101 is closed', async () => {
    const slow = await startSlowUpstream();
    const gw = await startTestGateway({ routes: [{ ...route('slow', '/slow', slow.url), auth: 'session', websocket: true }], gateway: gatewayConfig() });
    try {
      const id = await login(gw);
      const client = new WebSocket(`${gw.url.replace('http:', 'ws:')}/slow/x`, { headers: { origin: ORIGIN, ...cookie(id) } });
      const outcome = new Promise<string>((r) => {
        client.once('open', () => r('open'));
        client.once('error', () => r('error'));
      });
      await expect.poll(() => slow.arrived).toBe(1);
      const out = await request(`${b.url}/auth/logout`, { method: 'POST', headers: { ...cookie(id), origin: ORIGIN } });
      expect(out.statusCode).toBe(204);
      expect(await outcome).toBe('error');
      slow.held.shift()?.();
      await expect.poll(() => slow.open, { timeout: 2000 }).toBe(0);
      expect(await metric(gw, 'gateway_websockets_open{route="slow"}')).toBe(0);
      expect(await metric(gw, 'gateway_websockets_closed_total{route="slow",reason="logout"}')).toBe(1);
    } finally {
      await gw.stop();
      await slow.close();
    }
  });

  it('a client that leaves is forgotten, and the upstream\'s late 101 is closed', async () => {
    const slow = await startSlowUpstream();
    const gw = await startTestGateway({ routes: [{ ...route('slow', '/slow', slow.url), websocket: true }], gateway: gatewayConfig() });
    try {
      const sock = connect(Number(new URL(gw.url).port), '127.0.0.1');
      await new Promise((r) => sock.once('connect', r));
      sock.write('GET /slow/x HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
      await expect.poll(() => slow.arrived).toBe(1);
      sock.destroy();
      await expect.poll(() => metric(gw, 'gateway_websockets_open{route="slow"}')).toBe(0);
      slow.held.shift()?.();
      await new Promise((r) => setTimeout(r, 300));
      await expect.poll(() => slow.open, { timeout: 2000 }).toBe(0);
      expect(await metric(gw, 'gateway_websockets_closed_total{route="slow",reason="client_closed"}')).toBe(1);
    } finally {
      await gw.stop();
      await slow.close();
    }
  });

  it('refuses an upgrade with another method than GET (RFC 6455 §4.1)', async () => {
    const before = ws.upgrades.length;
    const res = await new Promise<string>((resolve) => {
      const sock = connect(Number(new URL(a.url).port), '127.0.0.1', () =>
        sock.write('POST /feed/x HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nContent-Length: 0\r\n\r\n'),
      );
      let text = '';
      sock.on('data', (d: Buffer) => (text += d.toString()));
      sock.on('close', () => resolve(text));
    });
    expect(res).toMatch(/^HTTP\/1\.1 400 [^]*x-gateway-error: upgrade_not_allowed/);
    expect(ws.upgrades.length).toBe(before);
  });
});

describe('expiry', () => {
  it('absolute expiry ends a socket whose frames kept the session alive past its idle timeout', async () => {
    const gw = await startTestGateway({ routes: routes(), gateway: gatewayConfig({ idleTimeout: '1500ms', touchInterval: '300ms', absoluteTimeout: '3500ms' }) });
    try {
      const id = await login(gw);
      const started = Date.now();
      const s = await open(gw, '/live/z', cookie(id));
      // Frames every 200 ms: the session is kept alive (session.websocketIdle: frames, the default).
      const beat = setInterval(() => s.client.readyState === WebSocket.OPEN && s.client.send('beat'), 200);
      try {
        const closed = await Promise.race([s.closed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000))]);
        expect(closed).toMatchObject({ code: 1008, reason: 'session_expired' });
        const lived = (closed?.at ?? 0) - started;
        expect(lived).toBeGreaterThanOrEqual(3000);
        expect(lived).toBeLessThanOrEqual(4800);
      } finally {
        clearInterval(beat);
      }
      // The session itself is gone with it.
      expect((await request(`${gw.url}/auth/sessions`, { headers: cookie(id) })).statusCode).toBe(401);
    } finally {
      await gw.stop();
    }
  }, 15_000);

  it('with websocketIdle: requests, frames do not keep the session alive: idle expiry ends the socket', async () => {
    const gw = await startTestGateway({
      routes: routes(),
      gateway: gatewayConfig({ idleTimeout: '1500ms', touchInterval: '300ms', absoluteTimeout: '1h', websocketIdle: 'requests' }),
    });
    try {
      const id = await login(gw);
      const started = Date.now();
      const s = await open(gw, '/live/idle', cookie(id));
      const beat = setInterval(() => s.client.readyState === WebSocket.OPEN && s.client.send('beat'), 200);
      try {
        const closed = await Promise.race([s.closed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 4000))]);
        expect(closed).toMatchObject({ code: 1008, reason: 'session_idle' });
        expect((closed?.at ?? 0) - started).toBeLessThanOrEqual(2800);
      } finally {
        clearInterval(beat);
      }
    } finally {
      await gw.stop();
    }
  }, 15_000);

  it('an HTTP request on another connection keeps the session, and its socket, alive (the store is asked before closing)', async () => {
    const gw = await startTestGateway({
      routes: [...routes(), { ...route('page', '/page', verifier.url), auth: 'session' }],
      gateway: gatewayConfig({ idleTimeout: '1500ms', touchInterval: '300ms', absoluteTimeout: '1h', websocketIdle: 'requests' }),
    });
    try {
      const id = await login(gw);
      const s = await open(gw, '/live/kept', cookie(id));
      const poke = setInterval(() => void request(`${gw.url}/page`, { headers: cookie(id) }).then((r) => r.body.dump()), 300);
      try {
        await new Promise((r) => setTimeout(r, 2500));
        expect(s.client.readyState).toBe(WebSocket.OPEN);
      } finally {
        clearInterval(poke);
      }
      s.client.close();
    } finally {
      await gw.stop();
    }
  }, 15_000);

  it('a bearer-authenticated socket ends when its token expires', async () => {
    const gw = await startTestGateway({ routes: routes(), gateway: gatewayConfig({}, { accessTokens: { ttl: '2s' } }) });
    try {
      const tokens = (await (
        await request(`${gw.url}/auth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: 'pw-alice' }) })
      ).body.json()) as { access_token: string };
      const started = Date.now();
      const s = await open(gw, '/feed/t', { authorization: `Bearer ${tokens.access_token}` });
      const closed = await Promise.race([s.closed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 4500))]);
      expect(closed).toMatchObject({ code: 1008, reason: 'token_expired' });
      expect((closed?.at ?? 0) - started).toBeLessThanOrEqual(3300);
    } finally {
      await gw.stop();
    }
  }, 15_000);
});

describe('shutdown', () => {
  it('closes every upgraded connection with 1001 at once, public ones included, and does not wait for them', async () => {
    const gw = await startTestGateway({
      routes: [...routes(), { ...route('open', '/open', ws.url), websocket: true }],
      gateway: gatewayConfig({}, { shutdown: { drainTimeout: '10s' } }),
    });
    const id = await login(gw);
    const session = await open(gw, '/live/s', cookie(id));
    const pub = await open(gw, '/open/s', {});
    const started = Date.now();
    await gw.stop();
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await session.closed).toMatchObject({ code: 1001, reason: 'shutdown' });
    expect((await pub.closed).code).toBe(1001);
  }, 15_000);
});
