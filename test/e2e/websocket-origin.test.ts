// Cross-site WebSocket hijacking (CSWSH) in a real browser (Debian's chromium through
// playwright-core): a signed-in user's browser sends the session cookie with every WebSocket
// handshake to the gateway, from whatever page opens it, and the same-origin policy does not guard
// the socket. The gateway's own page gets its socket; a page of another origin gets nothing, while
// the gateway shows it authenticated the cookie and then refused the Origin (403 csrf_failed).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { assertChromium, launchChromium } from '../support/browser.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { route } from '../support/gateway.js';
import { COOKIE, startSessionEnv, type SessionEnv } from '../support/session-gateway.js';
import { startWsUpstream, type WsUpstream } from '../support/ws-upstream.js';

const PROBE_MS = 4000;
const PROXIED = 'gateway_websocket_upgrades_total{route="live",result="proxied"}';

/** What a page's socket did: opened or not, what it read, and how it ended. */
interface Outcome {
  opened: boolean;
  errored: boolean;
  messages: string[];
  closeCode: number | null;
  timedOut: boolean;
}

// The page script both pages run on load: open the socket, send 'hi', keep what comes back, close;
// `window.outcome` resolves when the socket closes (or after PROBE_MS, whatever happened by then).
function pageHtml(title: string, wsUrl: string): string {
  return `<!doctype html><title>${title}</title><h1>${title}</h1><script>
window.outcome = new Promise((resolve) => {
  const r = { opened: false, errored: false, messages: [], closeCode: null, timedOut: false };
  const timer = setTimeout(() => resolve({ ...r, timedOut: true }), ${PROBE_MS});
  const s = new WebSocket(${JSON.stringify(wsUrl)});
  s.onopen = () => { r.opened = true; s.send('hi'); };
  s.onmessage = (e) => { r.messages.push(String(e.data)); s.close(1000, 'done'); };
  s.onerror = () => { r.errored = true; };
  s.onclose = (e) => { clearTimeout(timer); r.closeCode = e.code; resolve(r); };
});
</script>`;
}

const outcomeOf = (page: Page) => page.evaluate(() => (globalThis as unknown as { outcome: Promise<Outcome> }).outcome);

async function listenLocal(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

/** The value of one series in the gateway's registry (0 when absent), or the sum of those starting with `prefix`. */
async function metric(env: SessionEnv, series: string): Promise<number> {
  const lines = (await env.gw.registry.metrics()).split('\n').filter((l) => l.startsWith(series));
  return lines.reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

let browser: Browser;
let context: BrowserContext;
let env: SessionEnv;
let ws: WsUpstream;
let app: Server;
let sibling: Server;
let gwOrigin = '';
let wsUrl = '';
let siblingOrigin = '';

beforeAll(async () => {
  assertChromium();
  ws = await startWsUpstream();
  // The application's own page, served through the gateway on a session route: the sign-in page
  // cannot host the positive control, its CSP (default-src 'none') blocks any WebSocket from it.
  app = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(pageHtml('Chat', wsUrl));
  });
  const appPort = await listenLocal(app);
  env = await startSessionEnv({
    routes: () => [
      { ...route('live', '/live', ws.url), auth: 'session', websocket: true, token: { audience: 'live' } },
      { ...route('chat', '/chat', `http://127.0.0.1:${appPort}`), auth: 'session' },
    ],
    // publicOrigins keeps the harness's unrelated 'http://app.example': the gateway's port is only
    // known once it listens, and the browser's own-origin requests pass as the origin computed from
    // their Host header (sameOriginRequest), which is what this test relies on.
    gateway: { publicOrigins: ['http://app.example'] },
  });
  // One host name for the gateway throughout: cookies belong to a host, not to host and port.
  gwOrigin = `http://localhost:${new URL(env.gw.url).port}`;
  wsUrl = `${gwOrigin.replace('http:', 'ws:')}/live/feed`;
  // A sibling app on another port of the same host: same SITE as the gateway (ports do not count
  // for sites, and cookies are not port-scoped at all), so the SameSite=Lax session cookie IS sent
  // with its WebSocket handshake. That is the realistic CSWSH case of a compromised sibling app;
  // only the gateway's Origin check stands in the way.
  sibling = createServer((req, res) => {
    req.resume();
    if (req.url !== '/') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(pageHtml('Sibling', wsUrl));
  });
  siblingOrigin = `http://localhost:${await listenLocal(sibling)}`;
  browser = await launchChromium();
  context = await browser.newContext();
  context.setDefaultTimeout(5000);
  context.setDefaultNavigationTimeout(5000);
}, 60_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  for (const s of [app, sibling]) {
    s?.closeAllConnections();
    s?.close();
  }
  await env?.close();
  await ws?.close();
});

describe('WebSocket origin check in a browser (CSWSH)', () => {
  it('signed in, the gateway\'s own page opens the socket with the session cookie and gets the echo', async () => {
    const page = await context.newPage();
    await page.goto(`${gwOrigin}/chat/room`);
    expect(new URL(page.url()).pathname).toBe('/auth/login');
    await page.fill('#username', 'alice');
    await page.fill('#password', 'pw-alice');
    const before = ws.upgrades.length;
    await page.click('button[type=submit]');
    await page.waitForURL(`${gwOrigin}/chat/room`);
    expect((await context.cookies(gwOrigin)).map((c) => c.name)).toContain(COOKIE);

    const outcome = await outcomeOf(page);
    expect(outcome).toEqual({ opened: true, errored: false, messages: ['echo:hi'], closeCode: 1000, timedOut: false });
    expect(ws.upgrades.length).toBe(before + 1);
    // It went through as alice: the upstream got the internal token, never the session cookie.
    const seen = ws.upgrades[ws.upgrades.length - 1]?.headers;
    expect(seen?.authorization).toMatch(/^Bearer /);
    expect(seen?.cookie ?? '').not.toContain(COOKIE);
    await page.close();
    // The gateway counts a proxied upgrade when its socket closes: let that land before the next test.
    await expect.poll(() => metric(env, PROXIED), { timeout: 3000 }).toBe(1);
  }, 30_000);

  it('a page of another origin on the same site: cookie sent, authenticated, refused 403 csrf_failed; nothing opens, nothing is read', async () => {
    const session = (await context.cookies(gwOrigin)).find((c) => c.name === COOKIE);
    expect(session, 'the previous test signs in').toBeDefined();
    const upgradesBefore = ws.upgrades.length;
    const logsBefore = env.gw.logs.length;
    const authenticated = `gateway_auth_outcomes_total{route="live",result="authenticated",reason="session"}`;
    const authRefused = `gateway_auth_outcomes_total{route="live",result="refused",`;
    const upgradeRefused = `gateway_websocket_upgrades_total{route="live",result="refused"}`;
    const metricsBefore = await Promise.all([authenticated, authRefused, upgradeRefused, PROXIED].map((s) => metric(env, s)));

    const page = await context.newPage();
    await page.goto(`${siblingOrigin}/`);
    const outcome = await outcomeOf(page);
    await page.close();

    // The browser: the socket never opened and the page read nothing (1006: closed without a handshake).
    expect(outcome).toEqual({ opened: false, errored: true, messages: [], closeCode: 1006, timedOut: false });
    // The upstream: no upgrade reached it.
    expect(ws.upgrades.length).toBe(upgradesBefore);
    // The gateway's answer: the upgrade refused with the stable code of the origin check.
    const refusals = env.gw.logs.slice(logsBefore).filter((l) => l.msg === 'upgrade refused');
    expect(refusals.map((l) => [l.route, l.code])).toEqual([['live', 'csrf_failed']]);
    // Its metrics: the cookie authenticated alice on the route (no authentication refusal, so not
    // a 401), then the upgrade was refused and none was proxied.
    const metricsAfter = await Promise.all([authenticated, authRefused, upgradeRefused, PROXIED].map((s) => metric(env, s)));
    expect(metricsAfter.map((v, i) => v - (metricsBefore[i] as number))).toEqual([1, 0, 1, 0]);
  }, 30_000);
});
