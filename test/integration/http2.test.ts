// HTTP/2 on the HTTPS listener, beside HTTP/1.1 on the same port (ALPN): the same routing, sign-in,
// header hygiene, errors, logs and metrics; HTTP/2's own shapes (`:authority` against Host,
// pseudo-headers, header list size, CONNECT) refused or handled; a broken upstream answer resets
// its stream and not its neighbours; the stream limit, the idle timeout and a rapid-reset flood
// (CVE-2023-44487) bounded; shutdown tells sessions GOAWAY; WebSockets still upgrade over HTTP/1.1.
import { readFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { connect, constants, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { request } from 'undici';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCa } from '../support/certs.js';
import { ADMIN_AUTH, route, startTestGateway, type TestGateway } from '../support/gateway.js';
import { startVerifier } from '../support/session-gateway.js';
import { echo, startUpstream, type Upstream } from '../support/upstream.js';
import { startWsUpstream, type WsUpstream } from '../support/ws-upstream.js';
import { rapidReset } from '../support/h2-flood.js';

let ca: Buffer;
let tls: { certFile: string; keyFile: string };
let up: Upstream;
let verifier: Upstream;
let ws: WsUpstream;
let gw: TestGateway;
/** Upstream requests in flight now, and the most seen at once. */
let inFlight = 0;
let peak = 0;

beforeAll(async () => {
  const authority = await makeCa();
  ca = await readFile(authority.certFile);
  tls = await authority.issue('gateway');
  verifier = await startVerifier();
  ws = await startWsUpstream();
  up = await startUpstream((req, res, rec) => {
    if (req.url?.includes('/broken')) {
      // Half an answer, then the connection breaks.
      res.writeHead(200, { 'content-length': '1000' });
      res.write('x'.repeat(100), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    if (req.url?.includes('/slow')) {
      inFlight++;
      peak = Math.max(peak, inFlight);
      req.resume();
      setTimeout(() => {
        inFlight--;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ url: rec.url }));
      }, 300);
      return;
    }
    echo(req, res, rec);
  });
  gw = await startTestGateway({
    routes: [
      route('public', '/pub', up.url, { keepUnderscoreHeaders: true, websocket: true, maxBodySize: '1KiB' }),
      { ...route('app', '/app', up.url), auth: 'session', token: { audience: 'app', claims: ['email'] } },
      route('ws', '/ws', ws.url, { websocket: true, upstream: { url: ws.url, stripPrefix: true } }),
    ],
    gateway: {
      listen: { host: '127.0.0.1', port: 0, tls: { ...tls, http2: { maxConcurrentStreams: 8, idleTimeout: '1s', maxResetsPerSecond: 100 } } },
      login: { verifyUrl: `${verifier.url}/verify` },
      limits: { maxHeaderSize: '4KiB', maxHeaderCount: 20, requestTimeout: '2s' },
    },
  });
}, 30_000);

afterAll(async () => {
  await gw?.stop();
  await Promise.all([up?.close(), verifier?.close(), ws?.close()]);
});

function open(): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = connect(gw.url, { ca });
    session.once('connect', () => resolve(session));
    session.once('error', reject);
  });
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The stream's RST_STREAM code when it was reset (0 when it ended normally). */
  rst: number;
  error: string | undefined;
}

function call(session: ClientHttp2Session, headers: OutgoingHttpHeaders, body?: string): Promise<Answer> {
  return new Promise((resolve) => {
    const stream = session.request(headers, { endStream: body === undefined });
    let status = 0;
    let got: IncomingHttpHeaders = {};
    let text = '';
    let error: string | undefined;
    stream.on('response', (h) => {
      got = h;
      status = Number(h[':status']);
    });
    stream.setEncoding('utf8');
    stream.on('data', (c: string) => (text += c));
    stream.on('error', (e: NodeJS.ErrnoException) => (error = e.code));
    stream.on('close', () => resolve({ status, headers: got, body: text, rst: stream.rstCode ?? 0, error }));
    if (body !== undefined) stream.end(body);
  });
}

async function signIn(session: ClientHttp2Session): Promise<string> {
  const res = await call(
    session,
    { ':method': 'POST', ':path': '/auth/login', 'content-type': 'application/json', origin: gw.url, accept: 'application/json' },
    JSON.stringify({ username: 'alice', password: 'pw-alice' }),
  );
  expect(res.status).toBe(200);
  const cookie = /^gw-session=([^;]+)/.exec(String(res.headers['set-cookie']))?.[1];
  expect(cookie).toBeDefined();
  return `gw-session=${cookie}`;
}

describe('HTTP/2 beside HTTP/1.1 on the HTTPS port', () => {
  it('negotiates h2 by ALPN and still serves HTTP/1.1 on the same port; logs and metrics name the protocol', async () => {
    const session = await open();
    expect(session.alpnProtocol).toBe('h2');
    expect((await call(session, { ':path': '/pub/a' })).status).toBe(200);
    session.close();
    const http1 = await new Promise<number>((resolve, reject) => {
      const { port } = new URL(gw.url);
      httpsRequest({ host: '127.0.0.1', port, path: '/pub/b', ca, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
        .on('error', reject)
        .end();
    });
    expect(http1).toBe(200);
    const lines = gw.logs.filter((l) => l.msg === 'request' && typeof l.path === 'string' && l.path.startsWith('/pub/'));
    expect(lines.map((l) => `${String(l.path)} ${String(l.protocol)}`)).toEqual(expect.arrayContaining(['/pub/a HTTP/2', '/pub/b HTTP/1.1']));
    const metrics = await (await request(`${gw.adminUrl}/metrics`, { headers: ADMIN_AUTH })).body.text();
    expect(metrics).toMatch(/gateway_requests_by_protocol_total\{protocol="HTTP\/2"\} [1-9]/);
    expect(metrics).toMatch(/gateway_requests_by_protocol_total\{protocol="HTTP\/1\.1"\} [1-9]/);
  });

  it('signs in and forwards with the same hygiene: no session cookie, no client identity headers, no pseudo-headers; the authority is the host', async () => {
    const session = await open();
    const cookie = await signIn(session);
    const res = await call(session, {
      ':path': '/app/x',
      cookie: [cookie, 'theme=dark'],
      'x-user': 'root',
      x_user: 'root',
      'x-forwarded-host': 'evil.example',
    });
    expect(res.status).toBe(200);
    const seen = (JSON.parse(res.body) as { headers: Record<string, string> }).headers;
    expect(seen.cookie).toBe('theme=dark');
    expect(seen['x-user']).toBeUndefined();
    expect(seen.x_user).toBeUndefined();
    expect(seen['x-forwarded-host']).toBe(new URL(gw.url).host);
    expect(seen['x-forwarded-proto']).toBe('https');
    expect(seen.authorization).toMatch(/^Bearer ey/);
    expect(Object.keys(seen).filter((n) => n.startsWith(':'))).toEqual([]);
    // A route that keeps underscore names still never passes a pseudo-header on.
    const open2 = await call(session, { ':path': '/pub/y', x_custom: '1' });
    const seen2 = (JSON.parse(open2.body) as { headers: Record<string, string> }).headers;
    expect(seen2.x_custom).toBe('1');
    expect(Object.keys(seen2).filter((n) => n.startsWith(':') || n.startsWith('-'))).toEqual([]);
    // Without the cookie the route refuses, as over HTTP/1.1.
    expect((await call(session, { ':path': '/app/x', accept: 'application/json' })).status).toBe(401);
    session.close();
  });

  it('refuses a Host that names another authority, too large or too many headers, and CONNECT, each with its stable code', async () => {
    const session = await open();
    const other = await call(session, { ':path': '/pub/a', ':authority': new URL(gw.url).host, host: 'intranet.example' });
    expect([other.status, other.headers['x-gateway-error']]).toEqual([400, 'duplicate_header']);
    // A header list over maxHeaderSize (as HPACK counts it: 32 more per field) is reset by Node
    // before any handler runs (ENHANCE_YOUR_CALM), as HTTP/2 allows instead of a 431.
    const over = await call(session, { ':path': '/pub/a', 'x-big': 'a'.repeat(3950) });
    expect([over.status, over.rst]).toEqual([0, constants.NGHTTP2_ENHANCE_YOUR_CALM]);
    expect(up.received.some((r) => r.headers['x-big'] !== undefined)).toBe(false);
    const many: OutgoingHttpHeaders = { ':path': '/pub/a' };
    for (let i = 0; i < 21; i++) many[`x-h${i}`] = 'v';
    const tooMany = await call(session, many);
    expect([tooMany.status, tooMany.headers['x-gateway-error']]).toEqual([431, 'too_many_headers']);
    const tunnel = await call(session, { ':method': 'CONNECT', ':authority': '127.0.0.1:22' });
    expect([tunnel.status, tunnel.headers['x-gateway-error']]).toEqual([405, 'method_not_allowed']);
    const missing = await call(session, { ':path': '/nowhere' });
    expect([missing.status, missing.headers['x-gateway-error'], missing.headers.connection]).toEqual([404, 'route_not_found', undefined]);
    // An answer that closes an HTTP/1.1 connection (a body over the limit) ends only its stream here.
    const tooBig = await call(session, { ':method': 'POST', ':path': '/pub/upload', 'content-length': '5000' }, 'x'.repeat(5000));
    expect([tooBig.status, tooBig.headers['x-gateway-error']]).toEqual([413, 'body_too_large']);
    expect((await call(session, { ':path': '/pub/after' })).status).toBe(200);
    session.close();
  });

  it('a broken upstream answer resets its own stream; a request beside it on the same connection completes', async () => {
    const session = await open();
    const [broken, beside] = await Promise.all([call(session, { ':path': '/pub/broken' }), call(session, { ':path': '/pub/slow' })]);
    expect(broken.status).toBe(200);
    expect(broken.body.length).toBeLessThan(1000);
    expect(broken.rst).not.toBe(0);
    expect(beside.status).toBe(200);
    expect((await call(session, { ':path': '/pub/again' })).status).toBe(200);
    session.close();
  });
});

describe('HTTP/2 request bodies', () => {
  /** The upstream's record of `path` once it has one that ended (or after 1.5 s). */
  async function upstreamSaw(path: string) {
    const until = Date.now() + 1500;
    for (;;) {
      const r = up.received.find((x) => x.url === path);
      if ((r && r.completed) || Date.now() > until) return r;
      await new Promise((res) => setTimeout(res, 20));
    }
  }

  it('forwards a body without Content-Length whole, and holds it to the route\'s limit', async () => {
    const session = await open();
    const ok = await call(session, { ':method': 'PUT', ':path': '/pub/h2-body' }, 'hello world');
    expect(ok.status).toBe(200);
    expect(await upstreamSaw('/pub/h2-body')).toMatchObject({ bodyBytes: 11, completed: true });
    const big = await call(session, { ':method': 'PUT', ':path': '/pub/h2-big' }, 'x'.repeat(5000));
    expect([big.status, big.headers['x-gateway-error']]).toEqual([413, 'body_too_large']);
    expect((await upstreamSaw('/pub/h2-big'))?.completed ?? false).toBe(false);
    session.close();
  });

  it('a body the client breaks off (reset stream) never reaches the upstream as a whole, shorter request', async () => {
    const session = await open();
    const stream = session.request({ ':method': 'PUT', ':path': '/pub/h2-cancel', 'content-length': '1000' }, { endStream: false });
    stream.on('error', () => undefined);
    stream.write('1234567');
    await new Promise((r) => setTimeout(r, 200));
    stream.close(constants.NGHTTP2_CANCEL);
    const seen = await upstreamSaw('/pub/h2-cancel');
    expect(seen?.completed ?? false).toBe(false);
    session.close();
  });

  it('resets a stream whose body has not arrived within limits.requestTimeout', async () => {
    const session = await open();
    const stream = session.request({ ':method': 'PUT', ':path': '/pub/h2-slow', 'content-length': '100' }, { endStream: false });
    stream.on('error', () => undefined);
    stream.write('1');
    const t0 = Date.now();
    const closed = await new Promise<number>((r) => stream.once('close', () => r(stream.rstCode ?? 0)));
    expect(closed).toBe(constants.NGHTTP2_CANCEL);
    expect(Date.now() - t0).toBeLessThan(4000);
    expect((await upstreamSaw('/pub/h2-slow'))?.completed ?? false).toBe(false);
    session.close();
  });
});

describe('HTTP/2 limits', () => {
  it('advertises maxConcurrentStreams and never has more requests in flight for one connection', async () => {
    const session = await open();
    await new Promise((r) => setTimeout(r, 50));
    expect(session.remoteSettings.maxConcurrentStreams).toBe(8);
    peak = 0;
    const answers = await Promise.all(Array.from({ length: 20 }, () => call(session, { ':path': '/pub/slow' })));
    expect(peak).toBeLessThanOrEqual(8);
    expect(answers.filter((a) => a.status === 200).length).toBeGreaterThanOrEqual(8);
    session.close();
  });

  it('closes a connection idle for idleTimeout with GOAWAY', async () => {
    const session = await open();
    const goaway = new Promise<number>((r) => session.once('goaway', (code: number) => r(code)));
    const t0 = Date.now();
    expect(await goaway).toBe(constants.NGHTTP2_NO_ERROR);
    expect(Date.now() - t0).toBeLessThan(3000);
    session.destroy();
  });

  it('survives a rapid-reset flood: the attacking connection is cut with ENHANCE_YOUR_CALM, other clients are served throughout', async () => {
    const before = up.received.length;
    const victim = await open();
    const flood = rapidReset(gw.url, ca, '/pub/flood', 20_000);
    const during = await call(victim, { ':path': '/pub/during' });
    const outcome = await flood;
    expect(outcome.goaway).toBe(constants.NGHTTP2_ENHANCE_YOUR_CALM);
    expect(outcome.closed).toBe(true);
    expect(outcome.sent).toBeLessThan(20_000);
    expect(during.status).toBe(200);
    expect((await call(victim, { ':path': '/pub/after' })).status).toBe(200);
    // Cut after about maxResetsPerSecond streams: the flood never became thousands of upstream requests.
    expect(up.received.length - before).toBeLessThan(1000);
    const metrics = await (await request(`${gw.adminUrl}/metrics`, { headers: ADMIN_AUTH })).body.text();
    expect(metrics).toMatch(/gateway_http2_reset_floods_total [1-9]/);
    expect(gw.logs.some((l) => String(l.msg).includes('rapid reset'))).toBe(true);
    victim.close();
  }, 30_000);

  it('a client within maxResetsPerSecond keeps its connection', async () => {
    const outcome = await rapidReset(gw.url, ca, '/pub/few', 50);
    expect(outcome).toMatchObject({ sent: 50, goaway: undefined, closed: false });
  });
});

describe('HTTP/1.1 on the HTTP/2 listener', () => {
  /** A raw HTTP/1.1 exchange over TLS (ALPN http/1.1): the status line and the error code. */
  function raw(text: string): Promise<string> {
    const { port } = new URL(gw.url);
    return new Promise((resolve) => {
      let got = '';
      const socket = tlsConnect({ host: '127.0.0.1', port: Number(port), ca, ALPNProtocols: ['http/1.1'] }, () => socket.write(text));
      socket.on('data', (c: Buffer) => (got += c.toString()));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(`${got.split('\r\n')[0] ?? ''} ${/x-gateway-error: (\S+)/i.exec(got)?.[1] ?? ''}`.trim()));
      setTimeout(() => socket.destroy(), 3000);
    });
  }

  it('keeps node:http\'s limits and parser answers: header size, header count, framing', async () => {
    expect(await raw(`GET /pub/a HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(5000)}\r\nConnection: close\r\n\r\n`)).toBe('HTTP/1.1 431 Request Header Fields Too Large headers_too_large');
    const many = Array.from({ length: 21 }, (_, i) => `X-H${i}: v\r\n`).join('');
    expect(await raw(`GET /pub/a HTTP/1.1\r\nHost: x\r\n${many}Connection: close\r\n\r\n`)).toBe('HTTP/1.1 431 Request Header Fields Too Large too_many_headers');
    expect(await raw('POST /pub/a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\nConnection: close\r\n\r\nab')).toMatch(/^HTTP\/1\.1 400 Bad Request request_smuggling$/);
    expect(await raw('GET /pub/a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toBe('HTTP/1.1 200 OK');
  });

  it('answers an HTTP/1.1 CONNECT 405 and keeps serving (it used to crash the process), and a request without Host 400', async () => {
    expect(await raw('CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n')).toBe('HTTP/1.1 405 Method Not Allowed method_not_allowed');
    expect(await raw('GET /pub/a HTTP/1.1\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
    expect(await raw('GET /pub/a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toBe('HTTP/1.1 200 OK');
  });
});

describe('WebSockets on the HTTP/2 listener', () => {
  it('upgrade over HTTP/1.1 on the same port', async () => {
    const client = new WebSocket(`${gw.url.replace('https', 'wss')}/ws/chat`, { ca });
    await new Promise((resolve, reject) => {
      client.once('open', resolve);
      client.once('error', reject);
    });
    const reply = new Promise<string>((r) => client.once('message', (d) => r(String(d))));
    client.send('hi');
    expect(await reply).toBe('echo:hi');
    client.close();
  });
});

describe('shutdown with HTTP/2 connections open', () => {
  it('finishes the request in flight, tells the connection GOAWAY, and stops without waiting for the drain time', async () => {
    const up2 = await startUpstream((req, res) => {
      req.resume();
      setTimeout(() => res.writeHead(200).end('done'), 400);
    });
    const gw2 = await startTestGateway({
      routes: [route('slow', '/slow', up2.url)],
      gateway: { listen: { host: '127.0.0.1', port: 0, tls }, shutdown: { drainTimeout: '5s' } },
    });
    const session = await new Promise<ClientHttp2Session>((resolve, reject) => {
      const s = connect(gw2.url, { ca });
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
    const idle = await new Promise<ClientHttp2Session>((resolve, reject) => {
      const s = connect(gw2.url, { ca });
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
    const goaway = new Promise<void>((r) => idle.once('goaway', () => r()));
    const inflight = call(session, { ':path': '/slow/x' });
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await gw2.stop();
    expect(Date.now() - t0).toBeLessThan(3000);
    expect((await inflight).status).toBe(200);
    await goaway;
    session.destroy();
    idle.destroy();
    await up2.close();
  }, 20_000);
});
