// limits.headersTimeout and limits.requestTimeout hold at their configured value (within about a
// second), not at Node's 30 s connection check: a slow-header client (slowloris) is answered 408
// and closed in time, and so is a client that stops sending its body.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { route, startTestGateway, type TestGateway } from '../support/gateway.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

let up: Upstream;
let gw: TestGateway;
beforeAll(async () => {
  up = await startUpstream();
  gw = await startTestGateway({ routes: [route('site', '/', up.url)], gateway: { limits: { headersTimeout: '1s', requestTimeout: '2s' } } });
});
afterAll(async () => {
  await gw.stop();
  await up.close();
});

/** Send `text`, never finish; resolve with what came back and when the gateway closed the connection. */
function stall(text: string): Promise<{ ms: number; answer: string }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const sock = connect(Number(new URL(gw.url).port), '127.0.0.1', () => sock.write(text));
    let answer = '';
    sock.on('data', (d: Buffer) => (answer += d.toString()));
    sock.on('error', () => undefined);
    sock.on('close', () => resolve({ ms: Date.now() - started, answer }));
    setTimeout(() => sock.destroy(), 10_000).unref();
  });
}

describe('timeouts hold at the configured value', () => {
  it('a client that never finishes its headers gets 408 request_timeout within headersTimeout + 1 s', async () => {
    const r = await stall('GET /slow HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    expect(r.answer).toMatch(/^HTTP\/1\.1 408 [^]*x-gateway-error: request_timeout/);
    expect(r.ms).toBeGreaterThanOrEqual(900);
    expect(r.ms).toBeLessThan(2_500);
  });

  it('a client that stops sending its body is closed within requestTimeout + 1 s', async () => {
    const r = await stall('POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly-part');
    expect(r.ms).toBeGreaterThanOrEqual(1_900);
    expect(r.ms).toBeLessThan(3_500);
  });
});
