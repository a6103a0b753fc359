// Limits, smuggling shapes and upstream failures: each answered with its stable code, and nothing
// that must not be forwarded reaches an upstream.
import { connect } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { route, startTestGateway, type TestGateway } from '../support/gateway.js';
import { rawGet, rawRequest } from '../support/raw.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

let up: Upstream;
let gw: TestGateway;
let host: string;

beforeAll(async () => {
  up = await startUpstream();
  gw = await startTestGateway({
    routes: [route('small', '/small', up.url, { maxBodySize: '1KB' }), route('main', '/', up.url)],
    gateway: { limits: { maxUrlLength: '1KiB', maxHeaderSize: '8KiB' } },
  });
  host = new URL(gw.url).host;
});
afterAll(async () => {
  await gw.stop();
  await up.close();
});

function noneForwarded<T>(fn: () => Promise<T>): Promise<T> {
  const before = up.received.length;
  return fn().then((r) => {
    expect(up.received.length, 'nothing reached the upstream').toBe(before);
    return r;
  });
}

describe('request limits', () => {
  it('answers 431 for headers over maxHeaderSize', async () => {
    const res = await noneForwarded(() => rawGet(gw.url, '/x', { 'X-Big': 'a'.repeat(9000) }));
    expect(res.status).toBe(431);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'headers_too_large' });
  });

  it('answers 414 for a URL over maxUrlLength', async () => {
    const res = await noneForwarded(() => rawGet(gw.url, '/x?' + 'q'.repeat(1100)));
    expect(res.status).toBe(414);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'url_too_long' });
  });

  it('answers 413 from Content-Length before forwarding anything', async () => {
    const res = await noneForwarded(() =>
      rawRequest(gw.url, `POST /small HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 5000\r\n\r\n` + 'a'.repeat(5000)),
    );
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'body_too_large' });
  });

  it('answers 413 when a chunked body outgrows the limit, and the upstream never gets a complete request', async () => {
    const before = up.received.length;
    const chunk = 'a'.repeat(600);
    const body = `258\r\n${chunk}\r\n258\r\n${chunk}\r\n258\r\n${chunk}\r\n0\r\n\r\n`;
    const res = await rawRequest(gw.url, `POST /small HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n${body}`);
    expect(res.status).toBe(413);
    for (const r of up.received.slice(before)) expect(r.completed).toBe(false);
  });

  it('streams a body within the limit, chunked or not', async () => {
    const a = await request(`${gw.url}/small`, { method: 'POST', body: 'x'.repeat(900) });
    expect(((await a.body.json()) as { bodyBytes: number }).bodyBytes).toBe(900);
    const b = await rawRequest(gw.url, `POST /small HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`);
    expect(b.status).toBe(200);
    expect(up.received[up.received.length - 1]?.bodyBytes).toBe(5);
  });
});

describe('request smuggling shapes are refused and never forwarded', () => {
  it.each([
    ['Content-Length with Transfer-Encoding', 'Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['duplicate Content-Length, different values', 'Content-Length: 4\r\nContent-Length: 5\r\n\r\nabcde'],
    ['duplicate Content-Length, same value', 'Content-Length: 4\r\nContent-Length: 4\r\n\r\nabcd'],
    ['Transfer-Encoding other than chunked', 'Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n'],
    ['Transfer-Encoding twice', 'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['obfuscated Transfer-Encoding', 'Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n'],
    ['space before colon', 'Transfer-Encoding : chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n'],
  ])('%s → 400', async (_name, tail) => {
    const res = await noneForwarded(() =>
      rawRequest(gw.url, `POST /x HTTP/1.1\r\nHost: ${host}\r\n${tail}GET /smuggled HTTP/1.1\r\nHost: ${host}\r\n\r\n`),
    );
    expect(res.status).toBe(400);
    expect(['request_smuggling', 'bad_request']).toContain(JSON.parse(res.body).error);
    expect(up.received.some((r) => r.url === '/smuggled')).toBe(false);
  });

  it('malformed chunking → 400; the upstream never sees a complete request nor the smuggled one', async () => {
    const before = up.received.length;
    const res = await rawRequest(
      gw.url,
      `POST /x HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
    );
    expect(res.status).toBe(400);
    await new Promise((r) => setTimeout(r, 100));
    for (const r of up.received.slice(before)) expect(r.completed).toBe(false);
    expect(up.received.some((r) => r.url === '/smuggled')).toBe(false);
  });
});

describe('upstream failures', () => {
  it('answers 502 upstream_unavailable when the upstream refuses connections', async () => {
    const dead = await startUpstream();
    await dead.close();
    const g = await startTestGateway({ routes: [route('dead', '/', dead.url)] });
    try {
      const res = await request(`${g.url}/x`);
      expect(res.statusCode).toBe(502);
      expect(await res.body.json()).toMatchObject({ error: 'upstream_unavailable' });
      expect(await g.registry.getSingleMetricAsString('gateway_upstream_errors_total')).toContain('route="dead",kind="connect"} 1');
    } finally {
      await g.stop();
    }
  });

  it('answers 504 upstream_timeout when the upstream does not answer within timeoutMs', async () => {
    const slow = await startUpstream((req) => req.resume());
    const g = await startTestGateway({ routes: [route('slow', '/', slow.url, { upstream: { timeoutMs: 300 } })] });
    try {
      const started = Date.now();
      const res = await request(`${g.url}/x`);
      expect(res.statusCode).toBe(504);
      expect(await res.body.json()).toMatchObject({ error: 'upstream_timeout' });
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await g.stop();
      await slow.close();
    }
  });

  it('aborts the client response (not a clean end) when the upstream resets mid-body', async () => {
    const breaking = await startUpstream((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-length': '100000' });
      res.write('a'.repeat(1000));
      setTimeout(() => res.socket?.destroy(), 50);
    });
    const g = await startTestGateway({ routes: [route('breaking', '/', breaking.url)] });
    try {
      const res = await request(`${g.url}/x`);
      expect(res.statusCode).toBe(200);
      await expect(res.body.text()).rejects.toThrow();
    } finally {
      await g.stop();
      await breaking.close();
    }
  });

  it('aborts a chunked response too, so the client cannot mistake it for complete', async () => {
    const breaking = await startUpstream((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
      setTimeout(() => res.socket?.destroy(), 50);
    });
    const g = await startTestGateway({ routes: [route('breaking', '/', breaking.url)] });
    try {
      const res = await rawGet(g.url, '/x');
      expect(res.status).toBe(200);
      expect(res.headers['transfer-encoding']).toBe('chunked');
      expect(res.body.endsWith('0\r\n\r\n')).toBe(false);
    } finally {
      await g.stop();
      await breaking.close();
    }
  });

  it('aborts the upstream request when the client goes away', async () => {
    let upstreamClosed!: () => void;
    const closed = new Promise<void>((r) => (upstreamClosed = r));
    const hanging = await startUpstream((req, res) => {
      req.resume();
      res.on('close', () => upstreamClosed());
    });
    const g = await startTestGateway({ routes: [route('hang', '/', hanging.url)] });
    try {
      const socket = connect(Number(new URL(g.url).port), '127.0.0.1');
      socket.write(`GET /x HTTP/1.1\r\nHost: x\r\n\r\n`);
      await new Promise((r) => setTimeout(r, 200));
      expect(hanging.received).toHaveLength(1);
      socket.destroy();
      await closed;
    } finally {
      await g.stop();
      await hanging.close();
    }
  });

  it('aborts the upstream request when the client goes away mid-body, with the upstream read paused', async () => {
    let upstreamClosed!: () => void;
    const closed = new Promise<void>((r) => (upstreamClosed = r));
    let written = 0;
    // An endless answer: the gateway must pause reading it while the client does not read.
    const endless = await startUpstream((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 'z');
      const pump = (): void => {
        while (!res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
      };
      pump();
      res.on('close', () => upstreamClosed());
    });
    const g = await startTestGateway({ routes: [route('endless', '/', endless.url)] });
    try {
      const socket = connect(Number(new URL(g.url).port), '127.0.0.1');
      socket.write(`GET /x HTTP/1.1\r\nHost: x\r\n\r\n`);
      await new Promise((r) => socket.once('data', r));
      socket.pause();
      await new Promise((r) => setTimeout(r, 300));
      const stalledAt = written;
      await new Promise((r) => setTimeout(r, 200));
      // Backpressure: with the client not reading, the upstream stops being read too.
      expect(written).toBe(stalledAt);
      expect(written).toBeLessThan(64 * 1024 * 1024);
      socket.destroy();
      await closed;
    } finally {
      await g.stop();
      await endless.close();
    }
  });

  it('round-robins, ejects a target that refuses connections and retries the request on another', async () => {
    const a = await startUpstream();
    const b = await startUpstream();
    const g = await startTestGateway({ routes: [route('rr', '/', '', { upstream: { url: undefined, urls: [a.url, b.url] } })] });
    try {
      for (let i = 0; i < 4; i++) await (await request(`${g.url}/x`)).body.dump();
      expect(a.received.length).toBe(2);
      expect(b.received.length).toBe(2);
      await b.close();
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) {
        const res = await request(`${g.url}/y`);
        statuses.push(res.statusCode);
        await res.body.dump();
      }
      expect(statuses.every((s) => s === 200)).toBe(true);
      expect(a.received.length).toBe(12);
      // Ejected after the first refusal: one connect error, not one for every other request.
      expect(await g.registry.getSingleMetricAsString('gateway_upstream_errors_total')).toContain('route="rr",kind="connect"} 1');
    } finally {
      await g.stop();
      await a.close();
    }
  });
});
