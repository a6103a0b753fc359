// The OpenID Connect provider the OIDC tests run against (test/support/oidc-provider.ts), checked
// end to end with openid-client as the relying party: discovery over HTTPS trusting only the test
// CA, the code flow with PKCE and nonce through authorize(), the ID token's claims, forged logout
// tokens that verify against the provider's JWKS, and RP-initiated logout that makes the provider
// POST a logout token to a receiver registered as backchannel_logout_uri.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, type CryptoKey, type JWTPayload } from 'jose';
import * as oidc from 'openid-client';
import { fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOidcProvider, type TestOidcProvider } from '../support/oidc-provider.js';

const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const REDIRECT_URI = 'https://127.0.0.1:1/auth/oidc/callback'; // never requested: authorize() stops before it

// A relying party's back-channel endpoint: records each logout token, answers `status`.
interface Receiver {
  url: string;
  tokens: string[];
  status: number;
  server: Server;
}
async function startReceiver(): Promise<Receiver> {
  const r = { tokens: [] as string[], status: 200 } as Receiver;
  r.server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const token = new URLSearchParams(body).get('logout_token');
      if (req.method === 'POST' && token) r.tokens.push(token);
      res.writeHead(r.status).end();
    });
  });
  await new Promise<void>((ok) => r.server.listen(0, '127.0.0.1', ok));
  r.url = `http://127.0.0.1:${(r.server.address() as AddressInfo).port}/auth/oidc/backchannel-logout`;
  return r;
}

let idp: TestOidcProvider;
let receiver: Receiver;
let config: oidc.Configuration;
let clientKey: { privateKey: CryptoKey; publicKey: CryptoKey };

// openid-client's requests go through undici with the provider's dispatcher (the test CA only).
const fetchTrustingCa: oidc.CustomFetch = (url, options) =>
  undiciFetch(url, { ...options, dispatcher: idp.dispatcher } as Parameters<typeof undiciFetch>[1]) as unknown as Promise<Response>;

async function signIn(username: string, scope = 'openid email profile groups', rp = config) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(rp, {
    redirect_uri: REDIRECT_URI,
    scope,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  const callback = await idp.authorize(url, username);
  const tokens = await oidc.authorizationCodeGrant(rp, callback.url, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
  return { callback, tokens, claims: tokens.claims() as JWTPayload };
}

beforeAll(async () => {
  receiver = await startReceiver();
  clientKey = await generateKeyPair('ES256');
  idp = await startOidcProvider({
    clients: [
      {
        client_id: 'gateway',
        client_secret: 'gateway-secret',
        redirect_uris: [REDIRECT_URI],
        post_logout_redirect_uris: ['https://127.0.0.1:1/signed-out'],
        backchannel_logout_uri: receiver.url,
        backchannel_logout_session_required: true,
      },
      {
        // A confidential client without a secret: it signs its token requests (RFC 7523), and wants ES256 ID tokens.
        client_id: 'gateway-pkjwt',
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [{ ...(await exportJWK(clientKey.publicKey)), kid: 'rp-1', alg: 'ES256', use: 'sig' }] },
        id_token_signed_response_alg: 'ES256',
        redirect_uris: [REDIRECT_URI],
      },
    ],
    accounts: {
      alice: { sub: 'alice-sub', email: 'alice@example.test', email_verified: true, name: 'Alice A', groups: ['staff', 'admins'], realm_access: { roles: ['reader', 'writer'] } },
      bob: { email: 'bob@example.test', name: 'Bob B', groups: [] },
    },
    acr: 'urn:test:pwd',
    amr: ['pwd'],
  });
  config = await oidc.discovery(new URL(idp.issuer), 'gateway', undefined, oidc.ClientSecretBasic('gateway-secret'), { [oidc.customFetch]: fetchTrustingCa });
});

afterAll(async () => {
  await idp?.close();
  await new Promise((r) => receiver?.server.close(r));
});

describe('test OpenID Connect provider', () => {
  it('is discovered over HTTPS at its issuer, with PKCE S256, back-channel and RP-initiated logout', () => {
    const meta = config.serverMetadata();
    expect(idp.issuer).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(meta.issuer).toBe(idp.issuer);
    expect(meta.code_challenge_methods_supported).toEqual(['S256']);
    expect(meta.backchannel_logout_supported).toBe(true);
    expect(meta.backchannel_logout_session_supported).toBe(true);
    expect(meta.end_session_endpoint).toBe(idp.endSessionEndpoint);
    expect(meta.id_token_signing_alg_values_supported).toContain('RS256');
  });

  it('signs a user in through its login form: code flow with PKCE and nonce, claims in the ID token', async () => {
    const { callback, claims, tokens } = await signIn('alice');
    expect(callback.url.origin + callback.url.pathname).toBe(REDIRECT_URI);
    expect(callback.url.searchParams.get('iss')).toBe(idp.issuer);
    expect(callback.cookies.list().map((c) => c.name)).toContain('_session');
    expect(claims).toMatchObject({
      iss: idp.issuer,
      aud: 'gateway',
      sub: 'alice-sub',
      email: 'alice@example.test',
      email_verified: true,
      name: 'Alice A',
      groups: ['staff', 'admins'],
      realm_access: { roles: ['reader', 'writer'] },
      acr: 'urn:test:pwd',
      amr: ['pwd'],
    });
    expect(claims.sid).toEqual(expect.any(String));
    expect(decodeProtectedHeader(tokens.id_token as string)).toMatchObject({ alg: 'RS256', kid: idp.keys[0]?.kid });
    expect(idp.serverErrors).toEqual([]);
  });

  it('releases claims by scope and takes the username as sub when an account names none', async () => {
    const { claims } = await signIn('bob', 'openid email');
    expect(claims.sub).toBe('bob');
    expect(claims.email).toBe('bob@example.test');
    expect(claims).not.toHaveProperty('name');
    expect(claims).not.toHaveProperty('groups');
  });

  it('refuses a wrong password, a missing PKCE challenge, and answers access_denied when the user cancels', async () => {
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256', state: 's1' });
    await expect(idp.authorize(url, 'alice', 'nope')).rejects.toThrow(/refused the sign-in as alice \(Wrong username or password/);
    const denied = await idp.authorize(url, 'alice', undefined, { deny: true });
    expect(denied.url.searchParams.get('error')).toBe('access_denied');
    const noPkce = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid', state: 's2' });
    const refused = await idp.authorize(noPkce, 'alice');
    expect(refused.url.searchParams.get('error')).toBe('invalid_request');
    expect(refused.url.searchParams.get('error_description')).toMatch(/requires PKCE/);
  });

  it('takes private_key_jwt client authentication and signs ID tokens with the alg a client registered', async () => {
    const rp = await oidc.discovery(new URL(idp.issuer), 'gateway-pkjwt', { id_token_signed_response_alg: 'ES256' }, oidc.PrivateKeyJwt({ key: clientKey.privateKey, kid: 'rp-1' }), { [oidc.customFetch]: fetchTrustingCa });
    const { tokens, claims } = await signIn('alice', 'openid email', rp);
    const es = idp.keys.find((k) => k.alg === 'ES256');
    expect(decodeProtectedHeader(tokens.id_token as string)).toMatchObject({ alg: 'ES256', kid: es?.kid });
    expect(claims).toMatchObject({ aud: 'gateway-pkjwt', sub: 'alice-sub', email: 'alice@example.test' });
    expect(claims).not.toHaveProperty('sid'); // no back-channel logout URI registered: oidc-provider leaves sid out
    expect(decodeProtectedHeader(await idp.signLogoutToken({ sub: 'alice-sub', aud: 'gateway-pkjwt' }, { alg: 'ES256' })).kid).toBe(es?.kid);
  });

  it('signs logout tokens with its own key: they verify against its JWKS, and each claim can be changed or removed', async () => {
    const jwks = createLocalJWKSet((await (await undiciFetch(config.serverMetadata().jwks_uri as string, { dispatcher: idp.dispatcher })).json()) as { keys: [] });
    const token = await idp.signLogoutToken({ sid: 'sid-1', sub: 'alice-sub' });
    const { payload, protectedHeader } = await jwtVerify(token, jwks, { issuer: idp.issuer, audience: 'gateway', typ: 'logout+jwt' });
    expect(protectedHeader).toMatchObject({ alg: 'RS256', typ: 'logout+jwt', kid: idp.keys[0]?.kid });
    expect(payload).toMatchObject({ sid: 'sid-1', sub: 'alice-sub', events: { [BACKCHANNEL_EVENT]: {} } });
    expect(payload.jti).toEqual(expect.any(String));
    expect(payload).not.toHaveProperty('nonce');
    expect(await idp.signLogoutToken({ sid: 'x' })).not.toBe(await idp.signLogoutToken({ sid: 'x' })); // jti differs

    const bad = (await jwtVerify(await idp.signLogoutToken({ sid: 'x', nonce: 'n', events: undefined, aud: 'other', jti: 'fixed' }, { header: { typ: undefined } }), jwks)).payload;
    expect(bad).toMatchObject({ nonce: 'n', aud: 'other', jti: 'fixed' });
    expect(bad).not.toHaveProperty('events');

    const unsigned = await idp.signLogoutToken({ sid: 'x' }, { alg: 'none' });
    expect(decodeProtectedHeader(unsigned).alg).toBe('none');
    expect(unsigned.endsWith('.')).toBe(true);
    const other = await generateKeyPair('RS256');
    const forged = await idp.signLogoutToken({ sid: 'x' }, { key: { privateKey: other.privateKey, alg: 'RS256', kid: idp.keys[0]?.kid } });
    await expect(jwtVerify(forged, jwks)).rejects.toThrow(/signature verification failed/);
  });

  it('RP-initiated logout makes it POST a logout token (sub, sid) to the back-channel URI, and records the delivery', async () => {
    const { callback, tokens, claims } = await signIn('alice');
    const before = receiver.tokens.length;
    const ended = await idp.endSession({ cookies: callback.cookies, idTokenHint: tokens.id_token as string, postLogoutRedirectUri: 'https://127.0.0.1:1/signed-out', state: 'bye' });
    expect(ended.status).toBe(303);
    expect(ended.location).toBe('https://127.0.0.1:1/signed-out?state=bye');
    expect(receiver.tokens.length).toBe(before + 1);
    expect(ended.deliveries).toEqual([expect.objectContaining({ clientId: 'gateway', uri: receiver.url, status: 200, ok: true })]);

    const logoutToken = receiver.tokens.at(-1) as string;
    expect(ended.deliveries[0]?.logoutToken).toBe(logoutToken);
    const jwks = createLocalJWKSet({ keys: idp.keys.map((k) => k.publicJwk) });
    const { payload } = await jwtVerify(logoutToken, jwks, { issuer: idp.issuer, audience: 'gateway', typ: 'logout+jwt' });
    expect(payload).toMatchObject({ sub: 'alice-sub', sid: claims.sid, events: { [BACKCHANNEL_EVENT]: {} } });
    expect(payload).not.toHaveProperty('nonce');

    // The provider session is gone: the same browser is asked to sign in again.
    const again = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid', prompt: 'none', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256', state: 's' });
    expect((await idp.authorize(again, 'alice', undefined, { cookies: callback.cookies })).url.searchParams.get('error')).toBe('login_required');
  });

  it('records a delivery the relying party refuses, with its status', async () => {
    const { callback } = await signIn('alice');
    receiver.status = 400;
    try {
      const ended = await idp.endSession({ cookies: callback.cookies, clientId: 'gateway' });
      expect(ended.deliveries).toEqual([expect.objectContaining({ clientId: 'gateway', status: 400, ok: false, error: expect.stringMatching(/expected 200 OK/) })]);
      expect(await idp.backchannelSettled(idp.backchannel.length)).toHaveLength(idp.backchannel.length);
    } finally {
      receiver.status = 200;
    }
  });

  it('keeps one browser signed in across authorizations (SSO) until it signs out', async () => {
    const first = await signIn('alice');
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid', prompt: 'none', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256', state: 'sso' });
    // No login form this time: a wrong password is never asked for.
    const silent = await idp.authorize(url, 'alice', 'unused', { cookies: first.callback.cookies });
    expect(silent.url.searchParams.get('code')).toEqual(expect.any(String));
    await idp.endSession({ cookies: first.callback.cookies, clientId: 'gateway' });
  });
});
