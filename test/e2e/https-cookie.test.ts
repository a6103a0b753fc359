// The production cookie in a real browser, over HTTPS served by the gateway itself (listen.tls with
// a certificate from a CA the test makes; Chromium told to accept it): sign in, a protected page,
// sign out, with the cookie the browser actually stored checked: __Host-session, Secure, HttpOnly,
// SameSite=Lax, Path=/, no Domain. Without HTTPS a browser would refuse to store it at all. The
// browser speaks HTTP/2 to the gateway (ALPN), as browsers do with any HTTPS server offering it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser } from 'playwright-core';
import { assertChromium, launchChromium } from '../support/browser.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCa } from '../support/certs.js';
import { route, startTestGateway, type TestGateway } from '../support/gateway.js';
import { startVerifier } from '../support/session-gateway.js';
import type { Upstream } from '../support/upstream.js';


let browser: Browser;
let gw: TestGateway;
let verifier: Upstream;
let app: Server;
let origin = '';

beforeAll(async () => {
  assertChromium();
  verifier = await startVerifier();
  app = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>App</title><h1 id="hello">Hello</h1>');
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  const ca = await makeCa();
  const cert = await ca.issue('gateway');
  gw = await startTestGateway({
    routes: [{ ...route('web', '/app', `http://127.0.0.1:${(app.address() as AddressInfo).port}`), auth: 'session' }],
    gateway: {
      listen: { host: '127.0.0.1', port: 0, tls: cert },
      // The production cookie: the schema's defaults (__Host-session, Secure, HttpOnly, Lax).
      session: { store: 'memory', cookie: {} },
      login: { verifyUrl: `${verifier.url}/verify` },
    },
  });
  origin = `https://localhost:${new URL(gw.url).port}`;
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await gw?.stop();
  await verifier?.close();
  app?.closeAllConnections();
  app?.close();
});

describe('the production cookie over HTTPS', () => {
  it('signs in, serves the protected page, and signs out, with __Host-session stored Secure, HttpOnly, SameSite=Lax, host-only', async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await page.goto(`${origin}/app/home`);
    expect(new URL(page.url()).pathname).toBe('/auth/login');
    await page.fill('#username', 'alice');
    await page.fill('#password', 'pw-alice');
    await page.click('button[type=submit]');
    await page.waitForURL(`${origin}/app/home`);
    expect(await page.textContent('#hello')).toBe('Hello');
    // The browser chose HTTP/2 by ALPN, and the sign-in form, the redirect and the page all went over it.
    expect(await page.evaluate('performance.getEntriesByType("navigation")[0].nextHopProtocol')).toBe('h2');
    const served = gw.logs.filter((l) => l.msg === 'request').map((l) => `${String(l.method)} ${String(l.path)} ${String(l.protocol)} ${String(l.status)}`);
    expect(served).toEqual(expect.arrayContaining(['POST /auth/login HTTP/2 303', 'GET /app/home HTTP/2 200']));

    const cookies = await context.cookies(origin);
    const session = cookies.find((c) => c.name === '__Host-session');
    expect(session).toMatchObject({ secure: true, httpOnly: true, sameSite: 'Lax', path: '/', domain: 'localhost' });
    // Host-only: stored for exactly this host, no leading dot (a Domain attribute would add one).
    expect(session?.domain.startsWith('.')).toBe(false);
    expect(await page.evaluate('document.cookie')).not.toContain('__Host-session');
    const hsts = await page.evaluate(async () => (await fetch('/app/home')).headers.get('strict-transport-security'));
    expect(hsts).toBe('max-age=31536000');

    expect(await page.evaluate(async () => (await fetch('/auth/logout', { method: 'POST' })).status)).toBe(204);
    expect((await context.cookies(origin)).some((c) => c.name === '__Host-session')).toBe(false);
    await page.goto(`${origin}/app/home`);
    expect(new URL(page.url()).pathname).toBe('/auth/login');
    await context.close();
  }, 60_000);
});
