// Request and response framing a client could misread: `Expect: 100-continue` is answered only
// once the route's checks passed, so a refused upload is never invited; and an upstream that breaks
// off mid-body looks broken to every client, HTTP/1.0 ones (whose body ends with the connection)
// included: the connection is reset, never closed cleanly.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { route, startTestGateway, type TestGateway } from '../support/gateway.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

let up: Upstream;
let breaking: Upstream;
let gw: TestGateway;
beforeAll(async () => {
  up = await startUpstream();
  breaking = await startUpstream((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('part of the answer');
    setTimeout(() => res.socket?.destroy(), 50);
  });
  gw = await startTestGateway({
    routes: [
      route('open', '/open', up.url, { maxBodySize: '1KiB' }),
      { ...route('private', '/private', up.url), auth: 'session' },
      route('breaking', '/breaking', breaking.url),
    ],
  });
});
afterAll(async () => {
  await gw.stop();
  await Promise.all([up.close(), breaking.close()]);
});

/** Send the head; answer what comes back first (before any body is sent), then send `body` if asked. */
function expectContinue(path: string, headers: string, body?: string): Promise<{ first: string; all: string }> {
  return new Promise((resolve) => {
    const sock = connect(Number(new URL(gw.url).port), '127.0.0.1', () =>
      sock.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nConnection: close\r\n${headers}\r\n`),
    );
    let all = '';
    let first = '';
    sock.on('data', (d: Buffer) => {
      all += d.toString();
      if (!first) {
        first = all.split('\r\n')[0] as string;
        if (first.includes(' 100 ') && body !== undefined) sock.write(body);
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => resolve({ first, all }));
    setTimeout(() => sock.destroy(), 3000).unref();
  });
}

describe('Expect: 100-continue', () => {
  it('is not invited without a session: 401 first, nothing reaches the upstream', async () => {
    const before = up.received.length;
    const r = await expectContinue('/private/upload', 'Content-Length: 1000000\r\n');
    expect(r.first).toMatch(/^HTTP\/1\.1 401 /);
    expect(r.all).not.toContain('100 Continue');
    expect(up.received.length).toBe(before);
  });

  it('is not invited over the size limit: 413 first', async () => {
    const r = await expectContinue('/open/upload', 'Content-Length: 5000\r\n');
    expect(r.first).toMatch(/^HTTP\/1\.1 413 /);
    expect(r.all).not.toContain('100 Continue');
  });

  it('is invited when the checks pass, and the body then goes through', async () => {
    const before = up.received.length;
    const r = await expectContinue('/open/upload', 'Content-Length: 5\r\n', 'hello');
    expect(r.first).toBe('HTTP/1.1 100 Continue');
    expect(r.all).toMatch(/HTTP\/1\.1 200 /);
    expect(up.received.length).toBe(before + 1);
    expect(up.received.at(-1)?.bodyBytes).toBe(5);
  });
});

describe('an upstream breaking off mid-body', () => {
  it('resets an HTTP/1.0 client\'s connection (a clean close would look like a complete body)', async () => {
    const outcome = await new Promise<{ error?: string; data: string }>((resolve) => {
      const sock = connect(Number(new URL(gw.url).port), '127.0.0.1', () => sock.write('GET /breaking/x HTTP/1.0\r\n\r\n'));
      let data = '';
      sock.on('data', (d: Buffer) => (data += d.toString()));
      sock.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code, data }));
      sock.on('end', () => resolve({ data }));
    });
    expect(outcome.data).toContain('part of the answer');
    expect(outcome.error).toBe('ECONNRESET');
  });
});
