// The devices page against a real redis-server: it lists the user's sessions with this one marked;
// its three actions refuse a request without the session's CSRF token or from another origin and
// then change nothing; signing out one session, every other one or all of them ends exactly those;
// another user's session cannot be named.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSessionEnv, type SessionEnv } from '../support/session-gateway.js';

const FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0';
const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1';
const ACTIONS = ['/auth/devices/sign-out', '/auth/devices/sign-out-others', '/auth/devices/sign-out-everywhere'] as const;

let env: SessionEnv;
beforeAll(async () => {
  env = await startSessionEnv();
});
afterAll(async () => env.close());

// Each test starts from no sessions at all.
beforeEach(async () => {
  const c = env.redis.client();
  try {
    const keys = await c.keys('gw:*');
    if (keys.length > 0) await c.del(...keys);
  } finally {
    c.disconnect();
  }
});

const signIn = (userAgent: string, user = 'alice') => env.login(user, undefined, { 'user-agent': userAgent });
const alive = async (cookie: string) => (await env.get('/app/x', cookie)).status === 200;

async function page(cookie: string): Promise<{ html: string; csrf: string }> {
  const res = await env.get('/auth/devices', cookie, { accept: 'text/html' });
  expect(res.status).toBe(200);
  return { html: res.body, csrf: /name="csrf" value="([^"]+)"/.exec(res.body)?.[1] as string };
}

async function handles(cookie: string): Promise<{ handle: string; current: boolean }[]> {
  return (JSON.parse((await env.get('/auth/sessions', cookie)).body) as { sessions: { handle: string; current: boolean }[] }).sessions;
}

function post(path: string, cookie: string, fields: Record<string, string>, headers: Record<string, string> = { origin: env.origin }) {
  return env.send('POST', path, cookie, { 'content-type': 'application/x-www-form-urlencoded', ...headers }, new URLSearchParams(fields).toString());
}

describe('the devices page', () => {
  it('lists both sessions of the user, this one marked, as HTML under the strict CSP', async () => {
    const a = await signIn(FIREFOX);
    await signIn(IPHONE);
    const res = await env.get('/auth/devices', a, { accept: 'text/html' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['content-security-policy']).toBe("default-src 'none'; style-src 'self'; img-src 'self' https:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    expect(res.body.match(/<li class="card session/g)).toHaveLength(2);
    expect(res.body.match(/This device/g)).toHaveLength(1);
    expect(res.body).toContain('<h2>Firefox 128 on Windows</h2><span class="badge">This device</span>');
    expect(res.body).toContain('<h2>Safari 17 on iOS</h2>');
    expect(res.body).toContain('<dt>Address</dt><dd>127.0.0.1</dd>');
    expect(res.body).toContain('Signed in as <strong>alice@example.com</strong> on 2 devices');
    expect(res.body).toContain('(just now)');
    // The stylesheet it links is served, cacheable for good.
    const sheet = /href="(\/auth\/assets\/pages-[0-9a-f]{16}\.css)"/.exec(res.body)?.[1] as string;
    const css = await env.get(sheet);
    expect(css.status).toBe(200);
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(css.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect((await env.get('/auth/assets/pages-0000000000000000.css')).status).toBe(404);
  });

  it('sends a browser that is not signed in to the sign-in page, coming back here', async () => {
    const res = await env.get('/auth/devices', undefined, { accept: 'text/html' });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/auth/login?return=%2Fauth%2Fdevices');
    const dead = await env.get('/auth/devices', 'A'.repeat(43), { accept: 'text/html' });
    expect(dead.status).toBe(303);
    expect(dead.headers['set-cookie']).toMatch(/^gw-session=; .*Max-Age=0/);
  });

  it('refuses every action without the CSRF token, with a wrong one, or from another origin, and revokes nothing', async () => {
    const a = await signIn(FIREFOX);
    const b = await signIn(IPHONE);
    const { csrf } = await page(a);
    const other = (await handles(a)).find((s) => !s.current)?.handle as string;
    for (const action of ACTIONS) {
      const attempts = [
        post(action, a, { session: other }),
        post(action, a, { session: other, csrf: `${csrf.slice(0, -1)}x` }),
        post(action, a, { session: other, csrf: '' }),
        post(action, a, { session: other, csrf }, { origin: 'https://evil.example' }),
        post(action, a, { session: other, csrf }, { origin: env.origin, 'sec-fetch-site': 'cross-site' }),
        post(action, a, { session: other, csrf }, { referer: 'https://evil.example/page' }),
      ];
      for (const res of await Promise.all(attempts)) {
        expect(res.status).toBe(403);
        expect(JSON.parse(res.body)).toMatchObject({ error: 'csrf_failed' });
      }
    }
    // Another session's token is no proof either.
    const { csrf: csrfB } = await page(b);
    expect((await post('/auth/devices/sign-out-everywhere', a, { csrf: csrfB })).status).toBe(403);
    expect(await alive(a)).toBe(true);
    expect(await alive(b)).toBe(true);
    expect(await handles(a)).toHaveLength(2);
  });

  it('signs out another session: its next request is refused, this one goes on', async () => {
    const a = await signIn(FIREFOX);
    const b = await signIn(IPHONE);
    const { csrf } = await page(a);
    const handleB = (await handles(b)).find((s) => s.current)?.handle as string;
    const res = await post('/auth/devices/sign-out', a, { csrf, session: handleB });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/auth/devices?done=session');
    expect(res.headers['set-cookie']).toBeUndefined();
    expect((await env.get('/app/x', b)).status).toBe(401);
    expect(await alive(a)).toBe(true);
    const after = await page(a);
    expect(after.html.match(/<li class="card session/g)).toHaveLength(1);
  });

  it('signs out this session by its own handle like a logout, cookie cleared', async () => {
    const a = await signIn(FIREFOX);
    const { csrf } = await page(a);
    const own = (await handles(a))[0]?.handle as string;
    const res = await post('/auth/devices/sign-out', a, { csrf, session: own });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/auth/login?error=signed_out');
    expect(res.headers['set-cookie']).toMatch(/^gw-session=; .*Max-Age=0/);
    expect(await alive(a)).toBe(false);
  });

  it('signs out everywhere else, keeping this session', async () => {
    const a = await signIn(FIREFOX);
    const b = await signIn(IPHONE);
    const c = await signIn('curl/8.5.0');
    const root = await signIn(FIREFOX, 'root');
    const { csrf } = await page(a);
    const res = await post('/auth/devices/sign-out-others', a, { csrf });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/auth/devices?done=others');
    expect(await alive(a)).toBe(true);
    expect(await alive(b)).toBe(false);
    expect(await alive(c)).toBe(false);
    expect(await alive(root)).toBe(true);
    expect(await handles(a)).toHaveLength(1);
  });

  it('signs out everywhere: every session of the user ends and the cookie is cleared', async () => {
    const a = await signIn(FIREFOX);
    const b = await signIn(IPHONE);
    const root = await signIn(FIREFOX, 'root');
    const { csrf } = await page(a);
    const res = await post('/auth/devices/sign-out-everywhere', a, { csrf });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/auth/login?error=signed_out');
    expect(res.headers['set-cookie']).toMatch(/^gw-session=; .*Max-Age=0/);
    expect(await alive(a)).toBe(false);
    expect(await alive(b)).toBe(false);
    expect(await alive(root)).toBe(true);
  });

  it("refuses another user's session handle with 404 and changes nothing", async () => {
    const a = await signIn(FIREFOX);
    const root = await signIn(FIREFOX, 'root');
    const rootHandle = (await handles(root))[0]?.handle as string;
    const { csrf } = await page(a);
    for (const session of [rootHandle, 'x'.repeat(22), '', '../../etc']) {
      const res = await post('/auth/devices/sign-out', a, { csrf, session });
      expect(res.status).toBe(404);
      expect(JSON.parse(res.body)).toMatchObject({ error: 'session_not_found' });
    }
    expect(await alive(root)).toBe(true);
    expect(await alive(a)).toBe(true);
  });

  it('sends an action without a session to the sign-in page, and answers other methods 405', async () => {
    const res = await post('/auth/devices/sign-out-everywhere', '', { csrf: 'x' });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/auth/login?return=%2Fauth%2Fdevices');
    expect((await env.get('/auth/devices/sign-out')).status).toBe(405);
    expect((await env.send('DELETE', '/auth/devices')).status).toBe(405);
  });
});
