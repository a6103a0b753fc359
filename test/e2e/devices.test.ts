// The sign-in and devices pages in a real browser (Debian's chromium through playwright-core): the
// sign-in page works from the keyboard, says why a password was refused, loads its themed
// stylesheet under the strict CSP with no violation; two browsers sign in as the same user, one
// signs the other out from the devices page, and the other's next page is the sign-in page.
// Screenshots of both pages at desktop and phone widths go to test-results/screenshots/.
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertChromium, launchChromium } from '../support/browser.js';
import { route, startTestGateway, type TestGateway } from '../support/gateway.js';
import { startVerifier } from '../support/session-gateway.js';
import type { Upstream } from '../support/upstream.js';

const SHOTS = 'test-results/screenshots';
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const PRIMARY = '#0b6e4f';
const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';
const CSP = "default-src 'none'; style-src 'self'; img-src 'self' https:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

let browser: Browser;
let gw: TestGateway;
let verifier: Upstream;
let app: Server;

beforeAll(async () => {
  assertChromium();
  verifier = await startVerifier();
  app = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>App</title><h1 id="hello">Hello</h1>');
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  gw = await startTestGateway({
    routes: [{ ...route('web', '/app', `http://127.0.0.1:${(app.address() as AddressInfo).port}`), auth: 'session' }],
    gateway: {
      login: { verifyUrl: `${verifier.url}/verify` },
      pages: { productName: 'Acme Portal', colors: { primary: PRIMARY, background: '#f4f6f8', text: '#1b1f24' } },
    },
  });
  browser = await launchChromium();
  await mkdir(SHOTS, { recursive: true });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await gw?.stop();
  await verifier?.close();
  app?.closeAllConnections();
  app?.close();
});

/**
 * CSP violations as Chrome reports them on the console (a page cannot listen for
 * securitypolicyviolation without a script of its own). The favicon's 404 is no violation.
 */
function cspViolations(page: Page): string[] {
  const violations: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) violations.push(m.text());
  });
  return violations;
}

async function signIn(context: BrowserContext, username: string, password: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${gw.url}/app/home`);
  expect(new URL(page.url()).pathname).toBe('/auth/login');
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('button[type=submit]');
  return page;
}

// Expressions evaluated in the page (the tests are typed without the DOM library).
const focused = (page: Page) => page.evaluate('document.activeElement && (document.activeElement.id || document.activeElement.type)') as Promise<string>;
const background = (page: Page, selector: string) => page.evaluate(`getComputedStyle(document.querySelector(${JSON.stringify(selector)})).backgroundColor`) as Promise<string>;
const pageWidth = (page: Page) => page.evaluate('document.documentElement.scrollWidth') as Promise<number>;
const rgb = (hex: string) => `rgb(${[1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(', ')})`;

describe('the sign-in page in a browser', () => {
  it('is served under the strict CSP, themed by its stylesheet, with no violation', async () => {
    const context = await browser.newContext({ viewport: DESKTOP });
    const page = await context.newPage();
    const violations = cspViolations(page);
    const res = await page.goto(`${gw.url}/app/home`);
    expect(new URL(page.url()).pathname).toBe('/auth/login');
    expect(res?.headers()['content-security-policy']).toBe(CSP);
    // The stylesheet loaded and applied: the button wears the configured primary colour.
    expect(await background(page, 'button[type=submit]')).toBe(rgb(PRIMARY));
    expect(await background(page, 'body')).toBe(rgb('#f4f6f8'));
    expect(await page.title()).toBe('Sign in · Acme Portal');
    expect(violations).toEqual([]);
    await page.screenshot({ path: `${SHOTS}/sign-in-desktop.png`, fullPage: true });
    await page.setViewportSize(PHONE);
    // Nothing wider than a phone: the form fits without sideways scrolling.
    expect(await pageWidth(page)).toBeLessThanOrEqual(PHONE.width);
    await page.screenshot({ path: `${SHOTS}/sign-in-phone.png`, fullPage: true });
    await context.close();
  }, 60_000);

  it('is used from the keyboard: Tab goes username → password → submit, Enter signs in', async () => {
    const context = await browser.newContext({ viewport: DESKTOP });
    const page = await context.newPage();
    await page.goto(`${gw.url}/auth/login?return=%2Fapp%2Fkeys`);
    await page.keyboard.press('Tab');
    expect(await focused(page)).toBe('username');
    await page.keyboard.type('alice');
    await page.keyboard.press('Tab');
    expect(await focused(page)).toBe('password');
    await page.keyboard.type('pw-alice');
    await page.keyboard.press('Tab');
    expect(await focused(page)).toBe('submit');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${gw.url}/app/keys`);
    await context.close();
  }, 60_000);

  it('says a wrong password was not accepted, as an alert, and keeps the form usable', async () => {
    const context = await browser.newContext({ viewport: DESKTOP });
    const page = await signIn(context, 'alice', 'wrong');
    await page.waitForURL(/error=invalid_credentials/);
    const alert = page.locator('[role=alert]');
    expect(await alert.textContent()).toContain('not accepted');
    expect(await page.getAttribute('#password', 'aria-describedby')).toBe('message');
    expect(await page.inputValue('#password')).toBe('');
    await page.screenshot({ path: `${SHOTS}/sign-in-error-desktop.png`, fullPage: true });
    await context.close();
  }, 60_000);
});

describe('the devices page in a browser', () => {
  it('two browsers signed in as one user: one signs the other out, whose next page is the sign-in page', async () => {
    const a = await browser.newContext({ viewport: DESKTOP });
    const b = await browser.newContext({ viewport: PHONE, userAgent: IPHONE });
    // root: a user no other test signs in, so the page lists exactly these two sessions.
    const pageA = await signIn(a, 'root', 'pw-root');
    await pageA.waitForURL(`${gw.url}/app/home`);
    const pageB = await signIn(b, 'root', 'pw-root');
    await pageB.waitForURL(`${gw.url}/app/home`);

    const violations = cspViolations(pageA);
    const res = await pageA.goto(`${gw.url}/auth/devices`);
    expect(res?.headers()['content-security-policy']).toBe(CSP);
    const sessions = pageA.locator('li.session');
    expect(await sessions.count()).toBe(2);
    expect(await pageA.locator('li.session.current').textContent()).toContain('This device');
    const other = pageA.locator('li.session:not(.current)');
    expect(await other.locator('h2').textContent()).toBe('Safari 17 on iOS');
    expect(await other.textContent()).toContain('Phone');
    expect(await background(pageA, '.badge')).toBe(rgb(PRIMARY));
    expect(violations).toEqual([]);
    await pageA.screenshot({ path: `${SHOTS}/devices-desktop.png`, fullPage: true });
    await pageA.setViewportSize(PHONE);
    expect(await pageWidth(pageA)).toBeLessThanOrEqual(PHONE.width);
    await pageA.screenshot({ path: `${SHOTS}/devices-phone.png`, fullPage: true });
    await pageA.setViewportSize(DESKTOP);

    // Sign B out from A's page: a form post with the CSRF token, back to the page with one session.
    await other.getByRole('button', { name: /Sign out Safari 17 on iOS/ }).click();
    await pageA.waitForURL(`${gw.url}/auth/devices?done=session`);
    expect(await pageA.locator('[role=status]').textContent()).toBe('That device was signed out.');
    expect(await sessions.count()).toBe(1);

    // B's next request is refused: its next page is the sign-in page.
    await pageB.goto(`${gw.url}/app/home`);
    expect(new URL(pageB.url()).pathname).toBe('/auth/login');
    // A is still signed in.
    await pageA.goto(`${gw.url}/app/home`);
    expect(await pageA.textContent('#hello')).toBe('Hello');

    // Sign out everywhere from the page: A lands on the sign-in page, told it signed out.
    await pageA.goto(`${gw.url}/auth/devices`);
    await pageA.getByRole('button', { name: 'Sign out everywhere', exact: true }).click();
    await pageA.waitForURL(/\/auth\/login\?error=signed_out/);
    expect(await pageA.locator('[role=status]').textContent()).toBe('You have signed out.');
    await pageA.goto(`${gw.url}/app/home`);
    expect(new URL(pageA.url()).pathname).toBe('/auth/login');
    await a.close();
    await b.close();
  }, 60_000);
});
