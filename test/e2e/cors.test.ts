// A single-page app on another origin calls a bearer API through the gateway, in a real browser
// (Debian's chromium through playwright-core): its preflight (OPTIONS never carries credentials)
// is answered by the gateway, the call goes through with the token and the page reads the data. A
// page of an origin the route does not list is refused: the browser hides the answer and the
// upstream never sees the call.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, type Page } from 'playwright-core';
import { assertChromium, launchChromium } from '../support/browser.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { route, startTestGateway, type TestGateway } from '../support/gateway.js';
import { startIssuer, type TestIssuer } from '../support/issuer.js';
import { startUpstream, type Upstream } from '../support/upstream.js';


let browser: Browser;
let idp: TestIssuer;
let up: Upstream;
let gw: TestGateway;
let spa: Server;
let other: Server;
let spaOrigin = '';
let otherOrigin = '';

/** A page that calls the API with a bearer token on load; `window.result` says what it could read. */
function spaHtml(apiUrl: string, token: string): string {
  return `<!doctype html><title>SPA</title><script>
window.result = fetch(${JSON.stringify(apiUrl)}, { method: 'POST', headers: { authorization: 'Bearer ${token}', 'content-type': 'application/json' }, body: '{"n":1}' })
  .then(async (r) => ({ ok: true, status: r.status, body: await r.json() }), (e) => ({ ok: false, error: String(e) }));
</script>`;
}

async function serve(html: () => string): Promise<[Server, string]> {
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(req.url === '/' ? 200 : 404, { 'content-type': 'text/html' }).end(req.url === '/' ? html() : '');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return [server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`];
}

let token = '';
beforeAll(async () => {
  assertChromium();
  idp = await startIssuer();
  up = await startUpstream();
  token = await idp.sign({ sub: 'spa-user', aud: 'gateway' });
  let apiUrl = '';
  [spa, spaOrigin] = await serve(() => spaHtml(apiUrl, token));
  [other, otherOrigin] = await serve(() => spaHtml(apiUrl, token));
  gw = await startTestGateway({
    gateway: { issuers: [{ issuer: idp.issuer, jwksUrl: idp.jwksUrl, audiences: ['gateway'], algorithms: ['RS256'] }] },
    routes: [{ ...route('api', '/api', up.url), auth: 'bearer', cors: { origins: [spaOrigin], methods: ['GET', 'POST'] } }],
  });
  // The API on "localhost": another origin than both pages (127.0.0.1 on other ports).
  apiUrl = `http://localhost:${new URL(gw.url).port}/api/orders`;
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  for (const s of [spa, other]) {
    s?.closeAllConnections();
    s?.close();
  }
  await gw?.stop();
  await up?.close();
  await idp?.close();
});

const resultOf = (page: Page) => page.evaluate(() => (globalThis as unknown as { result: Promise<unknown> }).result);

describe('CORS in a browser', () => {
  it('a listed origin: the preflight is answered, the call goes through with the token, the page reads the data', async () => {
    const before = up.received.length;
    const page = await browser.newPage();
    await page.goto(`${spaOrigin}/`);
    const result = (await resultOf(page)) as { ok: boolean; status: number; body: { method: string } };
    await page.close();
    expect(result.ok).toBe(true);
    expect(result.status).toBe(200);
    expect(result.body.method).toBe('POST');
    // Only the actual call reached the upstream, with the internal token, never the page's own.
    const calls = up.received.slice(before);
    expect(calls.map((c) => c.method)).toEqual(['POST']);
    expect(calls[0]?.headers.authorization).toMatch(/^Bearer /);
    expect(calls[0]?.headers.authorization).not.toContain(token);
  }, 30_000);

  it('an origin the route does not list: the browser refuses, the upstream sees nothing', async () => {
    const before = up.received.length;
    const page = await browser.newPage();
    await page.goto(`${otherOrigin}/`);
    const result = (await resultOf(page)) as { ok: boolean; error?: string };
    await page.close();
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/TypeError/);
    expect(up.received.length).toBe(before);
  }, 30_000);
});
