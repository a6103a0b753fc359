// Sign-in with a real OpenID Connect provider (oidc-provider over HTTPS with the tests' CA, trusted
// through outboundTls.caFile), two gateway instances on one redis-server: the code flow end to end
// with the mapped claims in the internal token; state, PKCE, nonce and replay tampering refused;
// back-channel logout (from the provider's own logout, and hand-made tokens good and bad) ending
// sessions on both instances at once; RP-initiated logout; a route that names its provider; a
// provider that is down.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, exportPKCS8, generateKeyPair } from 'jose';
import { request } from 'undici';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSessionId } from '../../src/sessions/ids.js';
import { ADMIN_AUTH, route, startTestGateway, type TestGateway } from '../support/gateway.js';
import { startOidcProvider, type TestOidcProvider } from '../support/oidc-provider.js';
import { freePort, startRedis, type RedisServer } from '../support/redis.js';
import { startUpstream, type Upstream } from '../support/upstream.js';
import { startWsUpstream, type WsUpstream } from '../support/ws-upstream.js';

let idp: TestOidcProvider;
let redis: RedisServer;
let up: Upstream;
let ws: WsUpstream;
let gw1: TestGateway;
let gw2: TestGateway;
let origin = '';
let keyFile = '';

const ACCOUNTS = {
  alice: { sub: 'alice-sub', email: 'alice@example.com', email_verified: true, name: 'Alice', groups: ['staff'], realm_access: { roles: ['admin', 'user'] } },
  // An address the provider has not verified: never the session's email.
  bob: { sub: 'bob-sub', email: 'alice@example.com', email_verified: false, name: 'Bob', groups: [] },
};

beforeAll(async () => {
  redis = await startRedis();
  up = await startUpstream();
  ws = await startWsUpstream();
  const port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  // private_key_jwt: the gateway's client key, its public half registered with the provider.
  const clientKey = await generateKeyPair('ES256', { extractable: true });
  const keyDir = await mkdtemp(join(tmpdir(), 'gw-client-key-'));
  keyFile = join(keyDir, 'client.pem');
  await writeFile(keyFile, await exportPKCS8(clientKey.privateKey), { mode: 0o600 });
  idp = await startOidcProvider({
    clients: [
      {
        client_id: 'gateway-pkjwt',
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [{ ...(await exportJWK(clientKey.publicKey)), kid: 'gw-client-1', alg: 'ES256', use: 'sig' }] },
        redirect_uris: [`${origin}/auth/oidc/pkjwt/callback`],
      },
      {
        client_id: 'gateway',
        client_secret: 'gateway-secret-0123456789',
        redirect_uris: [`${origin}/auth/oidc/corp/callback`, `${origin}/auth/oidc/strong/callback`, `${origin}/auth/oidc/mfa/callback`, `${origin}/auth/oidc/aliased/callback`],
        post_logout_redirect_uris: [`${origin}/`],
        backchannel_logout_uri: `${origin}/auth/oidc/backchannel-logout`,
        backchannel_logout_session_required: true,
      },
    ],
    accounts: ACCOUNTS,
  });
  const gateway = (listenPort: number) => ({
    listen: { host: '127.0.0.1', port: listenPort },
    publicOrigins: [origin],
    redis: { url: redis.url, commandTimeout: '500ms', connectTimeout: '1s' },
    session: { store: 'redis', cookie: { name: 'gw-session', secure: false } },
    outboundTls: { caFile: idp.caFile },
    login: {
      oidc: {
        corp: {
          issuer: idp.issuer,
          clientId: 'gateway',
          clientSecretEnv: 'CORP_SECRET',
          scopes: ['openid', 'email', 'profile', 'groups'],
          claims: { email: 'email', name: 'name', roles: 'realm_access.roles', groups: 'groups' },
        },
        // The same provider and client, asked for a stronger authentication than it gives.
        strong: { issuer: idp.issuer, clientId: 'gateway', clientSecretEnv: 'CORP_SECRET', acrValues: ['gold'] },
        mfa: { issuer: idp.issuer, clientId: 'gateway', clientSecretEnv: 'CORP_SECRET', requireAmr: ['hwk', 'otp'], backchannelLogout: false },
        pkjwt: { issuer: idp.issuer, clientId: 'gateway-pkjwt', privateKeyJwt: { keyFile, algorithm: 'ES256', kid: 'gw-client-1' } },
        // An `email` taken from another claim (Entra's upn, Keycloak's preferred_username): a name, not a verified mailbox.
        aliased: { issuer: idp.issuer, clientId: 'gateway', clientSecretEnv: 'CORP_SECRET', claims: { email: 'name', name: 'name' } },
      },
    },
  });
  const routes = [
    { ...route('app', '/app', up.url), auth: 'session', token: { audience: 'app', claims: ['email', 'roles', 'groups', 'name'] } },
    { ...route('direct', '/direct', up.url), auth: 'session', signIn: 'corp' },
    // Only users a given provider vouched for; another issuer's (or a password user) is refused.
    { ...route('corp-only', '/corp', up.url), auth: 'session', require: { issuers: ['https://idp.example/corp'] } },
    { ...route('idp-only', '/idp', up.url), auth: 'session', require: { issuers: [idp.issuer] } },
    { ...route('live', '/live', ws.url), auth: 'session', websocket: true, upstream: { url: ws.url, stripPrefix: true } },
  ];
  const env = { ...process.env, CORP_SECRET: 'gateway-secret-0123456789' };
  gw1 = await startTestGateway({ routes, gateway: gateway(port), env });
  gw2 = await startTestGateway({ routes, gateway: gateway(0), env });
}, 60_000);

afterAll(async () => {
  await gw1?.stop();
  await gw2?.stop();
  await idp?.close();
  await Promise.all([up?.close(), ws?.close()]);
  await redis?.dispose();
});

const setCookies = (h: Record<string, string | string[] | undefined>) => {
  const v = h['set-cookie'];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
};
const cookieValue = (h: Record<string, string | string[] | undefined>, name: string) =>
  setCookies(h)
    .map((c) => new RegExp(`^${name}=([^;]*)`).exec(c)?.[1])
    .find((v) => v !== undefined);

interface Started {
  flowCookie: string;
  authorizationUrl: string;
}

async function start(gw = gw1, path = '/auth/oidc/corp/start?return=%2Fapp%2Fhome'): Promise<Started> {
  const res = await request(`${gw.url}${path}`);
  await res.body.dump();
  expect(res.statusCode).toBe(303);
  return { flowCookie: `gw-oidc=${cookieValue(res.headers, 'gw-oidc') as string}`, authorizationUrl: String(res.headers.location) };
}

async function callback(location: string, flowCookie: string | undefined, gw = gw1) {
  const u = new URL(location);
  const res = await request(`${gw.url}${u.pathname}${u.search}`, { headers: flowCookie ? { cookie: flowCookie } : {} });
  await res.body.dump();
  return { status: res.statusCode, location: String(res.headers.location), error: res.headers['x-gateway-error'], session: cookieValue(res.headers, 'gw-session') };
}

async function signIn(username = 'alice'): Promise<{ cookie: string; jar: Awaited<ReturnType<TestOidcProvider['authorize']>>['cookies'] }> {
  const s = await start();
  const auth = await idp.authorize(s.authorizationUrl, username);
  const cb = await callback(auth.location, s.flowCookie);
  expect(cb.status).toBe(303);
  expect(cb.location).toBe('/app/home');
  expect(cb.session).toBeTruthy();
  return { cookie: `gw-session=${cb.session as string}`, jar: auth.cookies };
}

async function status(gw: TestGateway, cookie: string, path = '/app/x'): Promise<number> {
  const res = await request(`${gw.url}${path}`, { headers: { cookie, accept: 'application/json' } });
  await res.body.dump();
  return res.statusCode;
}

async function metric(gw: TestGateway, pattern: RegExp): Promise<boolean> {
  const text = await (await request(`${gw.adminUrl}/metrics`, { headers: ADMIN_AUTH })).body.text();
  return pattern.test(text);
}

describe('OpenID Connect sign-in', () => {
  it('signs in with the code flow and PKCE; the upstream gets a verified internal token with the mapped claims, on either instance', async () => {
    const s = await start();
    const authz = new URL(s.authorizationUrl);
    expect(authz.origin).toBe(idp.issuer);
    expect(authz.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authz.searchParams.get('nonce')).toBeTruthy();
    expect(authz.searchParams.get('redirect_uri')).toBe(`${origin}/auth/oidc/corp/callback`);
    const auth = await idp.authorize(s.authorizationUrl, 'alice');
    const cb = await callback(auth.location, s.flowCookie);
    expect([cb.status, cb.location]).toEqual([303, '/app/home']);
    for (const gw of [gw1, gw2]) {
      const res = await request(`${gw.url}/app/x`, { headers: { cookie: `gw-session=${cb.session as string}; theme=1` } });
      const seen = (await res.body.json()) as { headers: Record<string, string> };
      expect(res.statusCode).toBe(200);
      expect(seen.headers.cookie).toBe('theme=1');
      const token = seen.headers.authorization?.slice(7) ?? '';
      const claims = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as Record<string, unknown>;
      expect(claims).toMatchObject({ sub: 'alice-sub', email: 'alice@example.com', name: 'Alice', roles: ['admin', 'user'], groups: ['staff'], aud: 'app', src_iss: idp.issuer });
    }
    expect(await metric(gw1, /gateway_oidc_sign_ins_total\{provider="corp",result="success"\} [1-9]/)).toBe(true);
    // The provider vouched for this user, and not another issuer.
    expect(await status(gw1, `gw-session=${cb.session as string}`, '/idp/x')).toBe(200);
    expect(await status(gw1, `gw-session=${cb.session as string}`, '/corp/x')).toBe(403);
  });

  it('refuses a callback whose state is not this browser\'s, one without the flow cookie, and a replayed one', async () => {
    const s = await start();
    const auth = await idp.authorize(s.authorizationUrl, 'alice');
    const tampered = new URL(auth.location);
    tampered.searchParams.set('state', 'attacker-state');
    const bad = await callback(tampered.href, s.flowCookie);
    expect([bad.status, bad.location, bad.error, bad.session]).toEqual([303, '/auth/login?error=provider_error', 'sign_in_failed', undefined]);
    // The flow was used up by that attempt: even the right state is refused now.
    expect((await callback(auth.location, s.flowCookie)).session).toBeUndefined();

    const s2 = await start();
    const auth2 = await idp.authorize(s2.authorizationUrl, 'alice');
    expect((await callback(auth2.location, undefined)).session).toBeUndefined();
    expect((await callback(auth2.location, 'gw-oidc=forged')).session).toBeUndefined();

    const s3 = await start();
    const auth3 = await idp.authorize(s3.authorizationUrl, 'alice');
    expect((await callback(auth3.location, s3.flowCookie)).session).toBeTruthy();
    expect((await callback(auth3.location, s3.flowCookie)).session).toBeUndefined();
    expect(await metric(gw1, /gateway_oidc_sign_ins_total\{provider="corp",result="state_mismatch"\} [1-9]/)).toBe(true);
  });

  it('binds the code to its PKCE verifier: a code from another sign-in, under this browser\'s state, is refused by the provider', async () => {
    const victim = await start();
    const attacker = await start();
    const stolen = new URL((await idp.authorize(attacker.authorizationUrl, 'bob')).location);
    const forged = new URL(`${origin}/auth/oidc/corp/callback`);
    forged.searchParams.set('code', stolen.searchParams.get('code') as string);
    forged.searchParams.set('state', new URL(victim.authorizationUrl).searchParams.get('state') as string);
    forged.searchParams.set('iss', idp.issuer);
    const res = await callback(forged.href, victim.flowCookie);
    expect([res.status, res.error, res.session]).toEqual([303, 'sign_in_failed', undefined]);
  });

  it('refuses an ID token whose nonce is not the sign-in\'s', async () => {
    const s = await start();
    // Change the kept nonce in Redis: the provider's ID token then carries another one.
    const client = redis.client();
    for (const k of await client.keys('*oidc:f:*')) {
      const v = JSON.parse((await client.get(k)) as string) as Record<string, string>;
      await client.set(k, JSON.stringify({ ...v, nonce: 'other-nonce' }), 'PX', 60_000);
    }
    client.disconnect();
    const auth = await idp.authorize(s.authorizationUrl, 'alice');
    const res = await callback(auth.location, s.flowCookie);
    expect([res.status, res.error, res.session]).toEqual([303, 'sign_in_failed', undefined]);
    expect(await metric(gw1, /gateway_oidc_sign_ins_total\{provider="corp",result="token_invalid"\} [1-9]/)).toBe(true);
  });

  it('authenticates to the token endpoint with private_key_jwt when configured so (no client secret)', async () => {
    const s = await start(gw1, '/auth/oidc/pkjwt/start?return=%2Fapp%2Fk');
    const cb = await callback((await idp.authorize(s.authorizationUrl, 'bob')).location, s.flowCookie);
    expect([cb.status, cb.location, cb.error]).toEqual([303, '/app/k', undefined]);
    expect(await status(gw2, `gw-session=${cb.session as string}`)).toBe(200);
  });

  it('keeps an email the provider has not verified out of the session (and out of the internal token)', async () => {
    const s = await start();
    const cb = await callback((await idp.authorize(s.authorizationUrl, 'bob')).location, s.flowCookie);
    const res = await request(`${gw1.url}/app/x`, { headers: { cookie: `gw-session=${cb.session as string}` } });
    const seen = (await res.body.json()) as { headers: Record<string, string> };
    const claims = JSON.parse(Buffer.from((seen.headers.authorization ?? '').slice(7).split('.')[1] as string, 'base64url').toString()) as Record<string, unknown>;
    expect(claims.sub).toBe('bob-sub');
    expect(claims.name).toBe('Bob');
    expect(claims.email).toBeUndefined();
    // Verified, but mapped from another claim: still not an email.
    const a = await start(gw1, '/auth/oidc/aliased/start');
    const acb = await callback((await idp.authorize(a.authorizationUrl, 'alice')).location, a.flowCookie);
    const ares = await request(`${gw1.url}/app/x`, { headers: { cookie: `gw-session=${acb.session as string}` } });
    const aseen = (await ares.body.json()) as { headers: Record<string, string> };
    const aclaims = JSON.parse(Buffer.from((aseen.headers.authorization ?? '').slice(7).split('.')[1] as string, 'base64url').toString()) as Record<string, unknown>;
    expect([aclaims.name, aclaims.email]).toEqual(['Alice', undefined]);
  });

  it('passes prompt and login_hint through when asked (known prompts only)', async () => {
    const s = await start(gw1, '/auth/oidc/corp/start?prompt=login&login_hint=alice%40example.com');
    const u = new URL(s.authorizationUrl);
    expect([u.searchParams.get('prompt'), u.searchParams.get('login_hint')]).toEqual(['login', 'alice@example.com']);
    const odd = new URL((await start(gw1, '/auth/oidc/corp/start?prompt=evil')).authorizationUrl);
    expect(odd.searchParams.get('prompt')).toBeNull();
  });

  it('refuses an ID token whose acr is not the one asked for, or without a required amr', async () => {
    idp.acr = 'silver';
    idp.amr = ['pwd'];
    try {
      const s = await start(gw1, '/auth/oidc/strong/start');
      expect(new URL(s.authorizationUrl).searchParams.get('acr_values')).toBe('gold');
      const res = await callback((await idp.authorize(s.authorizationUrl, 'alice')).location, s.flowCookie);
      expect([res.error, res.session]).toEqual(['sign_in_failed', undefined]);
      const m = await start(gw1, '/auth/oidc/mfa/start');
      expect((await callback((await idp.authorize(m.authorizationUrl, 'alice')).location, m.flowCookie)).session).toBeUndefined();
      idp.amr = ['pwd', 'otp'];
      const ok = await start(gw1, '/auth/oidc/mfa/start');
      expect((await callback((await idp.authorize(ok.authorizationUrl, 'alice')).location, ok.flowCookie)).session).toBeTruthy();
      expect(await metric(gw1, /gateway_oidc_sign_ins_total\{provider="strong",result="acr"\} 1/)).toBe(true);
      expect(await metric(gw1, /gateway_oidc_sign_ins_total\{provider="mfa",result="amr"\} 1/)).toBe(true);
    } finally {
      idp.acr = undefined;
      idp.amr = undefined;
    }
  });

  it('sends a browser on a route with signIn straight to its provider, and keeps the return path safe', async () => {
    const res = await request(`${gw1.url}/direct/page?x=1`, { headers: { accept: 'text/html' } });
    await res.body.dump();
    expect([res.statusCode, res.headers.location]).toEqual([302, `/auth/oidc/corp/start?return=${encodeURIComponent('/direct/page?x=1')}`]);
    const evil = await request(`${gw1.url}/auth/oidc/corp/start?return=https%3A%2F%2Fevil.example%2F`);
    await evil.body.dump();
    const s = { flowCookie: `gw-oidc=${cookieValue(evil.headers, 'gw-oidc') as string}`, authorizationUrl: String(evil.headers.location) };
    const cb = await callback((await idp.authorize(s.authorizationUrl, 'alice')).location, s.flowCookie);
    expect(cb.location).toBe('/');
  });
});

describe('back-channel logout', () => {
  it('the provider\'s logout ends the session on both instances at once, and closes its WebSocket', async () => {
    const { cookie, jar } = await signIn();
    expect(await status(gw1, cookie)).toBe(200);
    expect(await status(gw2, cookie)).toBe(200);
    const socket = new WebSocket(`${gw2.url.replace('http', 'ws')}/live/chat`, { headers: { cookie, origin } });
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    const closed = new Promise<number>((r) => socket.once('close', (code) => r(code)));
    const out = await idp.endSession({ cookies: jar, clientId: 'gateway' });
    expect(out.deliveries.map((d) => [d.status, d.claims.sid !== undefined])).toEqual([[200, true]]);
    expect(await status(gw1, cookie)).toBe(401);
    expect(await status(gw2, cookie)).toBe(401);
    expect(await closed).toBeGreaterThanOrEqual(1000);
    expect(await metric(gw1, /gateway_oidc_backchannel_logouts_total\{provider="corp",result="ended"\} [1-9]/)).toBe(true);
  });

  async function post(token: string, gw = gw1): Promise<{ status: number; error: unknown }> {
    const res = await request(`${gw.url}/auth/oidc/backchannel-logout`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ logout_token: token }).toString() });
    const text = await res.body.text();
    return { status: res.statusCode, error: text ? (JSON.parse(text) as { error?: string }).error : undefined };
  }

  it('ends the sessions a token names by sid, or by sub; a replayed jti is refused on every instance', async () => {
    const a = await signIn();
    const b = await signIn();
      const listed = (await (await request(`${gw1.url}/auth/sessions`, { headers: { cookie: a.cookie } })).body.json()) as { sessions: unknown[] };
    expect(listed.sessions.length).toBeGreaterThanOrEqual(2);
    // By sub: every session alice has from this provider.
    const bySub = await idp.signLogoutToken({ sub: 'alice-sub', sid: undefined, aud: 'gateway' });
    expect((await post(bySub)).status).toBe(200);
    expect(await status(gw1, a.cookie)).toBe(401);
    expect(await status(gw2, b.cookie)).toBe(401);
    // The same token again, to the other instance: replay.
    expect(await post(bySub, gw2)).toEqual({ status: 400, error: 'invalid_logout_token' });
    expect(await metric(gw2, /gateway_oidc_backchannel_logouts_total\{provider="corp",result="replayed"\} 1/)).toBe(true);
  });

  it('a token naming only the provider session (sid) ends just that session, found without a sub', async () => {
    const keep = await signIn();
    const end = await signIn();
    // The provider's sid of `end`, from its session record (the gateway kept it from the ID token).
    const client = redis.client();
    const record = JSON.parse((await client.get(`gw:s:${hashSessionId(end.cookie.slice('gw-session='.length))}`)) as string) as { idp: { sid: string } };
    client.disconnect();
    expect(record.idp.sid).toBeTruthy();
    const sidOnly = await idp.signLogoutToken({ sub: undefined, sid: record.idp.sid, aud: 'gateway' });
    expect((await post(sidOnly)).status).toBe(200);
    expect(await status(gw2, end.cookie)).toBe(401);
    expect(await status(gw2, keep.cookie)).toBe(200);
  });

  it('refuses logout tokens that fail a check, ending nothing', async () => {
    const { cookie } = await signIn();
    const bad: [string, string][] = [
      ['nonce', await idp.signLogoutToken({ sub: 'alice-sub', aud: 'gateway', nonce: 'n' })],
      ['no events', await idp.signLogoutToken({ sub: 'alice-sub', aud: 'gateway', events: undefined })],
      ['wrong event', await idp.signLogoutToken({ sub: 'alice-sub', aud: 'gateway', events: { 'http://schemas.openid.net/event/other': {} } })],
      ['another audience', await idp.signLogoutToken({ sub: 'alice-sub', aud: 'someone-else' })],
      ['another issuer', await idp.signLogoutToken({ sub: 'alice-sub', aud: 'gateway', iss: 'https://evil.example' })],
      ['old', await idp.signLogoutToken({ sub: 'alice-sub', aud: 'gateway', iat: Math.floor(Date.now() / 1000) - 3600 })],
      ['neither sub nor sid', await idp.signLogoutToken({ sub: undefined, sid: undefined, aud: 'gateway' })],
      ['no jti', await idp.signLogoutToken({ sub: 'alice-sub', aud: 'gateway', jti: undefined })],
      ['unsigned', await idp.signLogoutToken({ sub: 'alice-sub', aud: 'gateway' }, { alg: 'none' })],
    ];
    const forger = await generateKeyPair('RS256');
    bad.push(['another key', await idp.signLogoutToken({ sub: 'alice-sub', aud: 'gateway' }, { key: { privateKey: forger.privateKey, alg: 'RS256', kid: idp.keys[0]?.kid as string } })]);
    for (const [why, token] of bad) expect([why, await post(token)]).toEqual([why, { status: 400, error: 'invalid_logout_token' }]);
    expect(await post('not-a-jwt')).toEqual({ status: 400, error: 'invalid_logout_token' });
    expect(await status(gw1, cookie)).toBe(200);
  });
});

describe('logging out', () => {
  it('a form logout ends the gateway session and sends the browser to the provider\'s end-session endpoint with id_token_hint', async () => {
    const { cookie } = await signIn();
    const res = await request(`${gw1.url}/auth/logout`, { method: 'POST', headers: { cookie, origin, 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    await res.body.dump();
    expect(res.statusCode).toBe(303);
    const to = new URL(String(res.headers.location));
    expect(`${to.origin}${to.pathname}`).toBe(idp.endSessionEndpoint);
    expect(to.searchParams.get('client_id')).toBe('gateway');
    expect(to.searchParams.get('id_token_hint')).toMatch(/^ey/);
    expect(to.searchParams.get('post_logout_redirect_uri')).toBe(`${origin}/`);
    expect(await status(gw2, cookie)).toBe(401);
  });
});

describe('login.claimsUrl beside OpenID Connect', () => {
  it('is not asked about a provider\'s users (its "unknown user" would sign them out, its roles would be another person\'s)', async () => {
    const asked: string[] = [];
    const source = await startUpstream((req, res) => {
      req.resume();
      asked.push(req.url ?? '');
      res.writeHead(404).end();
    });
    const gw = await startTestGateway({
      routes: [{ ...route('app', '/app', up.url), auth: 'session' }],
      gateway: {
        publicOrigins: [origin],
        redis: { url: redis.url },
        session: { store: 'redis', cookie: { name: 'gw-session', secure: false }, touchInterval: '50ms', cacheTtl: '0s' },
        outboundTls: { caFile: idp.caFile },
        login: { claimsUrl: `${source.url}/claims`, oidc: { corp: { issuer: idp.issuer, clientId: 'gateway', clientSecretEnv: 'CORP_SECRET' } } },
      },
      env: { ...process.env, CORP_SECRET: 'gateway-secret-0123456789' },
    });
    try {
      const s = await start(gw);
      const cb = await callback((await idp.authorize(s.authorizationUrl, 'alice')).location, s.flowCookie, gw);
      const cookie = `gw-session=${cb.session as string}`;
      for (let i = 0; i < 4; i++) {
        await new Promise((r) => setTimeout(r, 80));
        expect(await status(gw, cookie)).toBe(200);
      }
      expect(asked).toEqual([]);
    } finally {
      await gw.stop();
      await source.close();
    }
  });
});

describe('sign-in starts from one address', () => {
  it('are bounded (each keeps a flow in Redis): beyond the budget, back to the sign-in page with rate_limited; a long return path is not kept', async () => {
    const gw = await startTestGateway({
      routes: [],
      gateway: {
        publicOrigins: [origin],
        // Counters of its own: the other instances' starts from this address are in gw:.
        redis: { url: redis.url, keyPrefix: 'limits:' },
        session: { store: 'redis', cookie: { name: 'gw-session', secure: false } },
        outboundTls: { caFile: idp.caFile },
        login: { rateLimit: { perAddress: { max: 2, window: '1m' } }, oidc: { corp: { issuer: idp.issuer, clientId: 'gateway', clientSecretEnv: 'CORP_SECRET' } } },
      },
      env: { ...process.env, CORP_SECRET: 'gateway-secret-0123456789' },
    });
    try {
      const long = await start(gw, `/auth/oidc/corp/start?return=${encodeURIComponent(`/${'a'.repeat(3000)}`)}`);
      const cb = await callback((await idp.authorize(long.authorizationUrl, 'alice')).location, long.flowCookie, gw);
      expect(cb.location).toBe('/');
      const codes: number[] = [];
      for (let i = 0; i < 12; i++) {
        const res = await request(`${gw.url}/auth/oidc/corp/start`);
        await res.body.dump();
        codes.push(res.statusCode);
        if (res.headers['x-gateway-error'] === 'rate_limited') {
          expect(res.headers.location).toBe('/auth/login?error=rate_limited');
          break;
        }
      }
      expect(codes.length).toBe(10);
      expect(await metric(gw, /gateway_rate_limit_refusals_total\{limit="oidc_start"\} 1/)).toBe(true);
    } finally {
      await gw.stop();
    }
  });
});

describe('a provider that does not answer', () => {
  it('does not stop the start; a sign-in answers 502 provider_unavailable', async () => {
    const deadPort = await freePort();
    const gw = await startTestGateway({
      routes: [],
      gateway: { publicOrigins: ['http://127.0.0.1:1'], login: { oidc: { down: { issuer: `https://127.0.0.1:${deadPort}`, clientId: 'x' } } } },
    });
    try {
      const res = await request(`${gw.url}/auth/oidc/down/start`);
      const body = (await res.body.json()) as { error: string };
      expect([res.statusCode, body.error]).toEqual([502, 'provider_unavailable']);
      expect(gw.logs.some((l) => l.msg === 'OpenID Connect discovery failed; retried at the next sign-in')).toBe(true);
    } finally {
      await gw.stop();
    }
  });

  it('a route naming a provider that is not configured is a load error', async () => {
    await expect(startTestGateway({ routes: [{ ...route('x', '/x', 'http://127.0.0.1:1'), auth: 'session', signIn: 'nope' }] })).rejects.toThrow(/signIn/);
  });
});
