// A real browser (Debian's chromium through playwright-core) against the gateway's pages: a
// protected page sends it to the sign-in form, signing in brings it back with a session the
// upstream sees only as a verified internal JWT, and signing out ends it.
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { type Browser } from 'playwright-core';
import { assertChromium, launchChromium } from '../support/browser.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { route, startTestGateway, type TestGateway } from '../support/gateway.js';
import { startVerifier } from '../support/session-gateway.js';
import type { Upstream } from '../support/upstream.js';


let browser: Browser;
let gw: TestGateway;
let verifier: Upstream;
let app: Server;
const seenCookies: (string | undefined)[] = [];

beforeAll(async () => {
  assertChromium();
  verifier = await startVerifier();
  let jwksUrl = '';
  // The upstream page: verifies the internal token through the gateway's JWKS and greets the user.
  app = createServer((req, res) => {
    seenCookies.push(req.headers.cookie);
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    jwtVerify(token, createRemoteJWKSet(new URL(jwksUrl)), { audience: 'web' }).then(
      ({ payload }) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end(`<!doctype html><title>App</title><h1 id="hello">Hello ${String(payload.email)}</h1>`);
      },
      () => {
        res.writeHead(500).end('token not verified');
      },
    );
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  const appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  gw = await startTestGateway({
    routes: [{ ...route('web', '/app', appUrl), auth: 'session', token: { audience: 'web', claims: ['email'] } }],
    gateway: { login: { verifyUrl: `${verifier.url}/verify` } },
  });
  jwksUrl = `${gw.url}/.well-known/jwks.json`;
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await gw?.stop();
  await verifier?.close();
  app?.closeAllConnections();
  app?.close();
});

describe('signing in with a browser', () => {
  it('protected page → sign-in form → back to the page with a verified token → sign out', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${gw.url}/app/dashboard?tab=1`);
    expect(new URL(page.url()).pathname).toBe('/auth/login');
    await page.fill('#username', 'alice');
    await page.fill('#password', 'wrong');
    await page.click('button[type=submit]');
    await expect(page.locator('[role=alert]').textContent()).resolves.toContain('not accepted');

    await page.fill('#username', 'alice');
    await page.fill('#password', 'pw-alice');
    await page.click('button[type=submit]');
    await page.waitForURL(`${gw.url}/app/dashboard?tab=1`);
    expect(await page.textContent('#hello')).toBe('Hello alice@example.com');
    await mkdir('test-results', { recursive: true });
    await page.screenshot({ path: 'test-results/e2e-signed-in.png' });

    // HttpOnly: page scripts cannot read the session cookie; the upstream never saw it.
    expect(await page.evaluate('document.cookie')).not.toContain('gw-session');
    expect(seenCookies.every((c) => !c?.includes('gw-session'))).toBe(true);

    // Sign out from the page (same-origin POST, as an app's logout button would).
    const status = await page.evaluate(async () => (await fetch('/auth/logout', { method: 'POST' })).status);
    expect(status).toBe(204);
    await page.goto(`${gw.url}/app/dashboard`);
    expect(new URL(page.url()).pathname).toBe('/auth/login');
    await context.close();
  }, 60_000);

  it('a form post from another origin of the same site carries the cookie and is refused with 403', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${gw.url}/auth/login?return=%2Fapp%2Fhome`);
    await page.fill('#username', 'alice');
    await page.fill('#password', 'pw-alice');
    await page.click('button[type=submit]');
    await page.waitForURL(`${gw.url}/app/home`);
    // A sibling app on the same site (another port of 127.0.0.1): SameSite=Lax lets the cookie
    // through, so only the gateway's Origin / Sec-Fetch-Site checks stand in the way.
    const attacker = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<form id=f method=post action="${gw.url}/app/transfer"><input name=a value=1></form><script>f.submit()</script>`);
    });
    await new Promise<void>((r) => attacker.listen(0, '127.0.0.1', r));
    try {
      const before = seenCookies.length;
      const transfer = page.waitForResponse((r) => r.url().includes('/app/transfer'));
      await page.goto(`http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`);
      const res = await transfer;
      expect(res.status()).toBe(403);
      expect(res.headers()['x-gateway-error']).toBe('csrf_failed');
      expect(seenCookies.length).toBe(before);
    } finally {
      attacker.closeAllConnections();
      attacker.close();
      await context.close();
    }
  }, 60_000);
});
