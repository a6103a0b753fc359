// Sign-in through a real OpenID Connect provider in Chromium: a protected page sends the browser to
// the provider (oidc-provider over HTTPS), its login form brings it back signed in, and the upstream
// verifies the internal token with the mapped claims. Then the provider's back-channel logout ends
// that browser's session, on this gateway instance and on a second one sharing the Redis, and its
// next page is the provider's login again.
import { mkdir, mkdtemp } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { type Browser } from 'playwright-core';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeKey } from '../../src/keys/keygen.js';
import { assertChromium, launchChromium } from '../support/browser.js';
import { route, startTestGateway, type TestGateway } from '../support/gateway.js';
import { CookieJar, startOidcProvider, type TestOidcProvider } from '../support/oidc-provider.js';
import { freePort, startRedis, type RedisServer } from '../support/redis.js';

let browser: Browser;
let idp: TestOidcProvider;
let redis: RedisServer;
let app: Server;
let gw1: TestGateway;
let gw2: TestGateway;
let origin = '';

beforeAll(async () => {
  assertChromium();
  redis = await startRedis();
  const port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  idp = await startOidcProvider({
    clients: [
      {
        client_id: 'web',
        client_secret: 'web-secret-0123456789',
        redirect_uris: [`${origin}/auth/oidc/corp/callback`],
        post_logout_redirect_uris: [`${origin}/`],
        backchannel_logout_uri: `${origin}/auth/oidc/backchannel-logout`,
        backchannel_logout_session_required: true,
      },
    ],
    accounts: { alice: { sub: 'alice-sub', email: 'alice@example.com', email_verified: true, name: 'Alice Liddell', realm_access: { roles: ['editor'] } } },
  });
  let jwksUrl = '';
  // The upstream page verifies the internal token through the gateway's JWKS and shows its claims.
  app = createServer((req, res) => {
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    jwtVerify(token, createRemoteJWKSet(new URL(jwksUrl)), { audience: 'web' }).then(
      ({ payload }) => res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><title>App</title><h1 id="hello">Hello ${String(payload.name)}</h1><p id="who">${String(payload.sub)} ${String(payload.email)} ${JSON.stringify(payload.roles)}</p>`),
      (err: Error) => res.writeHead(500).end(`token not verified: ${err.message}`),
    );
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  const appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  // One signing key for both instances, as a deployment shares its keys.
  const keys = await mkdtemp(join(tmpdir(), 'gw-keys-'));
  await writeKey(keys, 'ES256');
  const gateway = (listenPort: number) => ({
    listen: { host: '127.0.0.1', port: listenPort },
    tokens: { generateDevKey: false, keys },
    publicOrigins: [origin],
    redis: { url: redis.url },
    session: { store: 'redis', cookie: { name: 'gw-session', secure: false } },
    outboundTls: { caFile: idp.caFile },
    pages: { productName: 'Example Corp' },
    login: { oidc: { corp: { label: 'Corporate account', issuer: idp.issuer, clientId: 'web', clientSecretEnv: 'WEB_SECRET', claims: { email: 'email', name: 'name', roles: 'realm_access.roles' } } } },
  });
  const routes = [{ ...route('web', '/app', appUrl), auth: 'session', signIn: 'corp', token: { audience: 'web', claims: ['email', 'name', 'roles'] } }];
  const env = { ...process.env, WEB_SECRET: 'web-secret-0123456789' };
  gw1 = await startTestGateway({ routes, gateway: gateway(port), env });
  gw2 = await startTestGateway({ routes, gateway: gateway(0), env });
  jwksUrl = `${gw1.url}/.well-known/jwks.json`;
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await gw1?.stop();
  await gw2?.stop();
  await idp?.close();
  app?.closeAllConnections();
  app?.close();
  await redis?.dispose();
});

describe('signing in with an OpenID Connect provider in a browser', () => {
  it('the sign-in page offers the provider, and its button starts the sign-in there (screenshots at desktop and phone widths)', async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${origin}/auth/login?return=%2Fapp%2Fhome`);
    const button = page.getByRole('link', { name: 'Corporate account' });
    expect(await button.count()).toBe(1);
    await mkdir('test-results/screenshots', { recursive: true });
    await page.screenshot({ path: 'test-results/screenshots/sign-in-providers-desktop.png', fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: 'test-results/screenshots/sign-in-providers-phone.png', fullPage: true });
    await Promise.all([page.waitForURL((u) => u.origin === idp.issuer), button.click()]);
    await context.close();
  }, 30_000);

  it('protected page → the provider\'s login → back with a verified token and the mapped claims; back-channel logout ends it on both instances', async () => {
    // The provider's certificate is from the tests' CA: the browser is told to accept it.
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await page.goto(`${origin}/app/reports?month=11`);
    expect(new URL(page.url()).origin).toBe(idp.issuer);
    await page.fill('#login', 'alice');
    await page.fill('#password', 'pw-alice');
    await Promise.all([page.waitForURL(`${origin}/app/reports?month=11`), page.click('button[type=submit]')]);
    expect(await page.textContent('#hello')).toBe('Hello Alice Liddell');
    expect(await page.textContent('#who')).toBe('alice-sub alice@example.com ["editor"]');
    // HttpOnly session cookie; the one-use sign-in cookie is gone.
    const cookies = await context.cookies(origin);
    expect(cookies.find((c) => c.name === 'gw-session')?.httpOnly).toBe(true);
    expect(cookies.some((c) => c.name === 'gw-oidc')).toBe(false);
    const session = `gw-session=${cookies.find((c) => c.name === 'gw-session')?.value ?? ''}`;
    const other = await request(`${gw2.url}/app/x`, { headers: { cookie: session, accept: 'application/json' } });
    const otherBody = await other.body.text();
    expect([other.statusCode, otherBody]).toEqual([200, expect.stringContaining('alice-sub')]);

    // The user signs out at the provider (an admin could end the session there too): the provider
    // tells the gateway over the back channel.
    const jar = new CookieJar();
    for (const c of await context.cookies(idp.issuer)) jar.store(`${c.name}=${c.value}; Path=${c.path}`);
    const out = await idp.endSession({ cookies: jar, clientId: 'web' });
    expect(out.deliveries.map((d) => d.status)).toEqual([200]);
    const after = await request(`${gw2.url}/app/x`, { headers: { cookie: session, accept: 'application/json' } });
    await after.body.dump();
    expect(after.statusCode).toBe(401);
    await page.goto(`${origin}/app/reports`);
    expect(new URL(page.url()).origin).toBe(idp.issuer);
    await context.close();
  }, 60_000);
});
