// The sign-in and devices pages as HTML: every inserted value escaped, no script and no inline
// style anywhere (the CSP forbids both), labels tied to their fields, messages only from the fixed
// lists, provider links that carry the return path encoded, and a stylesheet made of validated
// colours only.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DEVICES_MESSAGES, devicesMessage, relativeTime, renderDevices, utcText, type DeviceSession, type DevicesView } from '../../src/endpoints/auth/pages/devices.js';
import { PAGE_CSP, pageCsp } from '../../src/endpoints/auth/pages/html.js';
import { providerStartUrl, renderSignIn, SIGN_IN_MESSAGES, signInMessage, type SignInView } from '../../src/endpoints/auth/pages/sign-in.js';
import { buildStylesheet } from '../../src/endpoints/auth/pages/theme.js';
import { describeUserAgent } from '../../src/endpoints/auth/pages/user-agent.js';

const EVIL = `<script>alert("x")</script>'&`;
const theme = { productName: `Acme ${EVIL}`, logoUrl: 'https://cdn.example/logo.png?a=1&b=2' };

/** What every page must be: a document in English with no script, no inline style, nothing unescaped of EVIL. */
function expectSafePage(html: string): void {
  expect(html.startsWith('<!doctype html>\n<html lang="en">')).toBe(true);
  expect(html).not.toMatch(/<script/i);
  expect(html).not.toMatch(/<style/i);
  expect(html).not.toMatch(/\sstyle\s*=/i);
  expect(html).not.toMatch(/\son[a-z]+\s*=/i);
  expect(html).not.toContain('alert("x")');
  expect(html).toContain('&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;&#39;&#38;');
  expect(html.match(/<h1>/g)).toHaveLength(1);
  expect(html).toMatch(/<link rel="stylesheet" href="\/auth\/assets\/pages-[0-9a-f]{16}\.css">/);
}

/** Every visible field has a label naming it, and every label names a field. */
function expectLabelledFields(html: string): void {
  const ids = [...html.matchAll(/<input (?![^>]*type="hidden")[^>]*\bid="([^"]+)"/g)].map((m) => m[1]);
  const fields = [...html.matchAll(/<input (?![^>]*type="hidden")[^>]*>/g)];
  expect(ids).toHaveLength(fields.length);
  const labels = [...html.matchAll(/<label for="([^"]+)">/g)].map((m) => m[1]);
  expect(labels.sort()).toEqual([...ids].sort());
}

const signIn = (over: Partial<SignInView> = {}): string =>
  renderSignIn({ theme, stylesheetPath: buildStylesheet({ primary: '#1f5fbf', background: '#ffffff', text: '#111111' }).path, providers: [], password: true, returnTo: '/', message: undefined, ...over });

describe('the sign-in page', () => {
  it('escapes the product name, the logo URL, provider labels and the return path', () => {
    const html = signIn({ returnTo: `/app?q=${EVIL}`, providers: [{ name: 'corp', label: `Corp ${EVIL}` }] });
    expectSafePage(html);
    expect(html).toContain('<img class="logo" src="https://cdn.example/logo.png?a=1&#38;b=2" alt="">');
    expect(html).toContain(`Sign in with Corp &#60;script&#62;`);
    expect(html).toContain('name="redirect" value="/app?q=&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;&#39;&#38;"');
  });

  it('leaves out a logo that is not an https URL or a path', () => {
    for (const logoUrl of ['javascript:alert(1)', 'http://cdn.example/a.png', '//evil.example/a.png', 'https://a.example/"onerror="x']) {
      expect(signIn({ theme: { productName: 'Acme', logoUrl } })).not.toContain('<img');
    }
  });

  it('offers each provider as a plain link to its start URL, carrying the return path encoded', () => {
    const html = signIn({ returnTo: '/app/orders?page=2&x=a b', providers: [{ name: 'keycloak', label: 'Keycloak' }, { name: 'google', label: 'Google' }] });
    expect(providerStartUrl('keycloak', '/app/orders?page=2&x=a b')).toBe('/auth/oidc/keycloak/start?return=%2Fapp%2Forders%3Fpage%3D2%26x%3Da%20b');
    expect(html).toContain('<a class="button block" href="/auth/oidc/keycloak/start?return=%2Fapp%2Forders%3Fpage%3D2%26x%3Da%20b">Sign in with Keycloak</a>');
    expect(html).toContain('href="/auth/oidc/google/start?return=%2Fapp%2Forders%3Fpage%3D2%26x%3Da%20b">Sign in with Google</a>');
    expect(html.indexOf('Keycloak')).toBeLessThan(html.indexOf('Google'));
    // Links, not forms: CSP form-action would also govern the redirect to the provider.
    expect(html.match(/<form /g)).toHaveLength(1);
    expect(html).toContain('<p class="divider">or</p>');
  });

  it('has the password form with labelled fields, autocomplete and the redirect, posting to /auth/login', () => {
    const html = signIn({ returnTo: '/app/x' });
    expectSafePage(html);
    expectLabelledFields(html);
    expect(html).toContain('<form method="post" action="/auth/login">');
    expect(html).toContain('name="redirect" value="/app/x"');
    expect(html).toMatch(/<input id="username" name="username" autocomplete="username"[^>]* required>/);
    expect(html).toMatch(/<input id="password" name="password" type="password" autocomplete="current-password" required>/);
    expect(html).toContain('<button class="block" type="submit">Sign in</button>');
    // Focus order follows the document: username, password, submit.
    expect(html.indexOf('id="username"')).toBeLessThan(html.indexOf('id="password"'));
    expect(html.indexOf('id="password"')).toBeLessThan(html.indexOf('type="submit"'));
  });

  it('shows providers only when the password form is off, and says so when there is nothing at all', () => {
    const providersOnly = signIn({ password: false, providers: [{ name: 'dex', label: 'Dex' }] });
    expect(providersOnly).not.toContain('<form');
    expect(providersOnly).not.toContain('divider');
    expect(signIn({ password: false })).toContain('No way to sign in is configured');
  });

  it('takes messages only from the fixed list, by word', () => {
    const words = Object.keys(SIGN_IN_MESSAGES) as (keyof typeof SIGN_IN_MESSAGES)[];
    expect(words.sort()).toEqual(['invalid_credentials', 'provider_error', 'rate_limited', 'signed_out', 'unavailable']);
    for (const word of words) {
      expect(signInMessage(new URLSearchParams({ error: word }))).toBe(word);
      const html = signIn({ message: word });
      expectSafePage(html);
      const role = word === 'signed_out' ? 'status' : 'alert';
      expect(html).toContain(`role="${role}">${SIGN_IN_MESSAGES[word]}</p>`);
    }
    expect(signInMessage(new URLSearchParams('failed=1'))).toBe('invalid_credentials');
    for (const q of ['error=<script>alert(1)</script>', 'error=Your+account+is+locked', 'error=toString', 'error=__proto__', 'failed=yes', '']) {
      expect(signInMessage(new URLSearchParams(q))).toBeUndefined();
    }
    expect(signIn()).not.toContain('role="alert"');
  });

  it('ties a refused password to its message for screen readers', () => {
    expect(signIn({ message: 'invalid_credentials' })).toMatch(/id="password"[^>]*aria-describedby="message" aria-invalid="true"/);
    expect(signIn({ message: 'rate_limited' })).not.toContain('aria-invalid');
  });
});

const NOW = Date.UTC(2025, 2, 1, 14, 5, 30);
const CHROME_LINUX = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36';
const SAFARI_IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1';

function session(over: Partial<DeviceSession>): DeviceSession {
  return { handle: 'A'.repeat(22), createdAt: NOW - 3_600_000, lastSeenAt: NOW - 300_000, clientIp: '203.0.113.7', userAgent: CHROME_LINUX, current: false, ...over };
}

const devices = (over: Partial<DevicesView> = {}): string =>
  renderDevices({
    theme,
    stylesheetPath: '/auth/assets/pages-0123456789abcdef.css',
    who: `alice ${EVIL}`,
    sessions: [session({ handle: 'cur_rent-handle_000000', current: true, lastSeenAt: NOW }), session({ handle: 'other-handle_000000000', userAgent: SAFARI_IPHONE })],
    csrfToken: 'csrf-token-value',
    now: NOW,
    message: undefined,
    ...over,
  });

describe('the devices page', () => {
  it('escapes the user agent, the address, the name and every value in the forms', () => {
    const html = devices({
      csrfToken: `t${EVIL}`,
      sessions: [session({ current: true }), session({ handle: `h"${EVIL}`, userAgent: `${EVIL} <img src=x onerror=alert(1)>`, clientIp: `10.0.0.1${EVIL}` })],
    });
    expectSafePage(html);
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('<dd>10.0.0.1&#60;script&#62;');
    expect(html).toContain('name="session" value="h&#34;&#60;script&#62;');
    expect(html).toContain('name="csrf" value="t&#60;script&#62;');
  });

  it('lists every session, marks this device first, and offers sign-out for the others only', () => {
    const html = devices();
    expectSafePage(html);
    expect(html.match(/<li class="card session/g)).toHaveLength(2);
    expect(html.match(/This device/g)).toHaveLength(1);
    expect(html.indexOf('This device')).toBeLessThan(html.indexOf('Safari 17 on iOS'));
    expect(html).toContain('<h2>Chrome 140 on Linux</h2><span class="badge">This device</span>');
    expect(html).toContain('<dt>Device</dt><dd>Phone</dd>');
    expect(html).toContain('<dt>Address</dt><dd>203.0.113.7</dd>');
    expect(html).toContain('<dt>Signed in</dt><dd><time datetime="2025-03-01T13:05:30.000Z">2025-03-01 13:05 UTC</time> (1 hour ago)</dd>');
    expect(html).toContain('<dt>Last seen</dt><dd><time datetime="2025-03-01T14:00:30.000Z">2025-03-01 14:00 UTC</time> (5 minutes ago)</dd>');
    // One sign-out form, for the other session, named for screen readers.
    expect(html.match(/action="\/auth\/devices\/sign-out"/g)).toHaveLength(1);
    expect(html).toContain('name="session" value="other-handle_000000000"');
    expect(html).not.toContain('name="session" value="cur_rent-handle_000000"');
    expect(html).toContain('Sign out<span class="visually-hidden"> Safari 17 on iOS, last seen 5 minutes ago</span>');
    expect(html).toContain('Sign out everywhere else');
    expect(html).toContain('Sign out everywhere</button>');
  });

  it('puts the CSRF token in every form, each a POST to the devices actions', () => {
    const html = devices();
    const forms = [...html.matchAll(/<form method="post" action="([^"]+)">\n<input type="hidden" name="csrf" value="csrf-token-value">/g)].map((m) => m[1]);
    expect(forms).toEqual(['/auth/devices/sign-out', '/auth/devices/sign-out-others', '/auth/devices/sign-out-everywhere']);
    expect(html.match(/<form /g)).toHaveLength(3);
  });

  it('offers no "everywhere else" when this is the only session', () => {
    const html = devices({ sessions: [session({ current: true })] });
    expect(html).not.toContain('sign-out-others');
    expect(html).toContain('on one device');
    expect(html).toContain('/auth/devices/sign-out-everywhere');
  });

  it('shows confirmations only from the fixed list', () => {
    expect(devicesMessage(new URLSearchParams('done=session'))).toBe('session');
    expect(devicesMessage(new URLSearchParams('done=others'))).toBe('others');
    expect(devicesMessage(new URLSearchParams('done=<b>hi</b>'))).toBeUndefined();
    expect(devicesMessage(new URLSearchParams('done=constructor'))).toBeUndefined();
    expect(devices({ message: 'others' })).toContain(`role="status">${DEVICES_MESSAGES.others}</p>`);
    expect(devices()).not.toContain('role="status"');
  });

  it('writes times in UTC with how long ago', () => {
    expect(utcText(Date.UTC(2025, 0, 2, 3, 4, 59))).toBe('2025-01-02 03:04 UTC');
    expect(relativeTime(NOW - 59_000, NOW)).toBe('just now');
    expect(relativeTime(NOW + 5_000, NOW)).toBe('just now');
    expect(relativeTime(NOW - 60_000, NOW)).toBe('1 minute ago');
    expect(relativeTime(NOW - 5 * 60_000 - 10_000, NOW)).toBe('5 minutes ago');
    expect(relativeTime(NOW - 2 * 3_600_000, NOW)).toBe('2 hours ago');
    expect(relativeTime(NOW - 86_400_000, NOW)).toBe('1 day ago');
  });

  it('names browsers, systems and device kinds from user agents, and unknown ones plainly', () => {
    expect(describeUserAgent(CHROME_LINUX)).toEqual({ title: 'Chrome 140 on Linux', kind: 'Computer' });
    expect(describeUserAgent(SAFARI_IPHONE)).toEqual({ title: 'Safari 17 on iOS', kind: 'Phone' });
    expect(describeUserAgent('Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15').title).toBe('Safari 17 on macOS');
    expect(describeUserAgent('curl/8.5.0')).toEqual({ title: 'curl/8.5.0', kind: 'Unknown device' });
    expect(describeUserAgent('')).toEqual({ title: 'Unknown browser', kind: 'Unknown device' });
  });
});

describe('the pages stylesheet', () => {
  it('is made of the configured colours and colours derived from them, nothing else', () => {
    const sheet = buildStylesheet({ primary: '#1F5FBF', background: '#f6f7f9', text: '#123' });
    expect(sheet.css).toContain('background:#1f5fbf');
    expect(sheet.css).toContain('background:#f6f7f9;color:#112233');
    expect(sheet.css).not.toMatch(/url\(|@import|expression|rgb\(|hsl\(|var\(|\\/i);
    for (const m of sheet.css.matchAll(/#[0-9A-Za-z]+/g)) expect(m[0]).toMatch(/^#[0-9a-f]{6}$/);
  });

  it('refuses anything but #rgb or #rrggbb', () => {
    for (const bad of ['red', '#12345', '#1234567', '#ggg', '#fff;}body{background:url(//evil)', 'url(x)', ' #ffffff', '#ffffff ']) {
      expect(() => buildStylesheet({ primary: bad, background: '#ffffff', text: '#000000' })).toThrow(/pages\.colors\.primary/);
      expect(() => buildStylesheet({ primary: '#000000', background: bad, text: '#000000' })).toThrow(/pages\.colors\.background/);
      expect(() => buildStylesheet({ primary: '#000000', background: '#ffffff', text: bad })).toThrow(/pages\.colors\.text/);
    }
  });

  it('is served at a path named by the hash of its content', () => {
    const a = buildStylesheet({ primary: '#1f5fbf', background: '#ffffff', text: '#000000' });
    const b = buildStylesheet({ primary: '#bf1f5f', background: '#ffffff', text: '#000000' });
    expect(a.path).toBe(`/auth/assets/pages-${createHash('sha256').update(a.css).digest('hex').slice(0, 16)}.css`);
    expect(b.path).not.toBe(a.path);
  });

  it('writes button text in black or white, whichever reads on the primary colour', () => {
    expect(buildStylesheet({ primary: '#1f5fbf', background: '#ffffff', text: '#000000' }).css).toContain('background:#1f5fbf;color:#ffffff');
    expect(buildStylesheet({ primary: '#ffd600', background: '#ffffff', text: '#000000' }).css).toContain('background:#ffd600;color:#000000');
  });
});

describe('the pages CSP', () => {
  it('is strict: no script at all, styles and images from the gateway, forms only to itself', () => {
    expect(PAGE_CSP).toBe("default-src 'none'; style-src 'self'; img-src 'self' https:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    expect(pageCsp()).toBe(PAGE_CSP);
  });

  it('lets the sign-in form end at allowed redirect origins, and nothing that is not an origin', () => {
    expect(pageCsp(['https://app.example', 'http://127.0.0.1:8080'])).toContain("form-action 'self' https://app.example http://127.0.0.1:8080;");
    expect(pageCsp(["https://a.example; script-src 'unsafe-inline'"])).toBe(PAGE_CSP);
  });
});
