// A real OpenID Connect provider for the tests: panva's oidc-provider (v9) over HTTPS on a loopback
// port, with a certificate from the tests' own CA, a tiny login page of our own instead of its
// development views, consent granted automatically, back-channel and RP-initiated logout enabled,
// and signing keys we generate (so the tests can forge logout tokens with the same key). Nothing
// outside the test is trusted or called: its outbound calls (back-channel logout) go only to
// loopback hosts, trusting only the test CA.
//
// authorize() and endSession() play the browser over plain HTTP (undici, a cookie jar kept here),
// so protocol tests need no Chromium: they get the redirect back to the relying party without
// following it, and can tamper with it.
import { randomBytes, randomUUID } from 'node:crypto';
import { once, EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, base64url, type CryptoKey, type JWK, type JWTPayload } from 'jose';
// @ts-expect-error -- oidc-provider ships no types and @types/oidc-provider is not installed; the
// few parts used here are typed by ProviderApi below.
import { Provider } from 'oidc-provider';
import { Agent, fetch as undiciFetch, getSetCookies, Headers as UndiciHeaders, request } from 'undici';
import { makeCa, type TestCa } from './certs.js';

export interface OidcClient {
  client_id: string;
  client_secret?: string;
  /** Default: client_secret_basic with a secret, private_key_jwt with jwks, else none (public). */
  token_endpoint_auth_method?: 'client_secret_basic' | 'client_secret_post' | 'client_secret_jwt' | 'private_key_jwt' | 'none';
  /** The client's public keys, for private_key_jwt. */
  jwks?: { keys: JWK[] };
  redirect_uris: string[];
  post_logout_redirect_uris?: string[];
  backchannel_logout_uri?: string;
  /** true: logout tokens carry sid, and ID tokens carry sid (oidc-provider puts it in only then). */
  backchannel_logout_session_required?: boolean;
  /** Default: the provider's idTokenSigningAlg. */
  id_token_signed_response_alg?: string;
  /** Any other client metadata oidc-provider knows. */
  [metadata: string]: unknown;
}

/** An account's claims; `sub` defaults to the username. Nested claims (realm_access.roles) are kept as they are. */
export interface AccountClaims {
  sub?: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
  groups?: string[];
  [claim: string]: unknown;
}

export interface OidcProviderOptions {
  clients: OidcClient[];
  /** username → claims; the password of each is `pw-<username>`. */
  accounts: Record<string, AccountClaims>;
  /** acr and amr of every sign-in (changeable later on the returned object). */
  acr?: string;
  amr?: string[];
  /** acr values the provider advertises and accepts in acr_values (default: [acr] when set). */
  acrValues?: string[];
  /** Default RS256. */
  idTokenSigningAlg?: string;
  /**
   * More CAs (PEM files) the provider trusts for its own calls (back-channel logout to an HTTPS
   * receiver whose certificate another test CA signed); its own CA is always trusted.
   */
  trustCaFiles?: string[];
  /**
   * scope → the claims it releases (into the ID token too). Default: openid → sub; email → email,
   * email_verified; profile → name, given_name, family_name, preferred_username and every other
   * claim the accounts have that no scope names (realm_access, ...); groups → groups.
   */
  scopes?: Record<string, string[]>;
}

export interface ProviderKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

/** One POST of a logout token to a client's backchannel_logout_uri. */
export interface BackchannelDelivery {
  clientId: string;
  uri: string;
  logoutToken: string;
  claims: JWTPayload;
  /** The receiver's HTTP status; undefined when the request itself failed. */
  status: number | undefined;
  /** oidc-provider's verdict (200 or 204 is success); undefined until it has one. */
  ok: boolean | undefined;
  error?: string;
}

export interface AuthorizeResult {
  /** The provider's final redirect back to the relying party (code, state, iss; or error), not requested. */
  location: string;
  url: URL;
  /** The provider-side cookies of this "browser", for endSession or a second authorize (SSO). */
  cookies: CookieJar;
}

export interface EndSessionOptions {
  /** The cookies of the user's browser at the provider (from authorize()); without them no session is ended. */
  cookies?: CookieJar;
  idTokenHint?: string;
  clientId?: string;
  postLogoutRedirectUri?: string;
  state?: string;
  /** true (default): "Yes, sign me out" of the whole provider session, every client notified; false: only the requesting client. */
  everywhere?: boolean;
}

export interface EndSessionResult {
  status: number;
  /** Where the provider sends the browser afterwards (post_logout_redirect_uri or its own success page). */
  location: string | undefined;
  /** The back-channel deliveries this logout made (oidc-provider awaits them before answering). */
  deliveries: BackchannelDelivery[];
}

export interface SignLogoutTokenOptions {
  /** Extra or replacing header fields; undefined removes one (typ: undefined). */
  header?: Record<string, unknown>;
  /** Sign with another key (a forged token); default the provider's key for `alg`. */
  key?: { privateKey: CryptoKey; alg: string; kid?: string };
  /** Default the provider's idTokenSigningAlg; 'none' makes an unsigned token. */
  alg?: string;
}

export interface TestOidcProvider {
  /** https://127.0.0.1:<port> (no path; discovery at /.well-known/openid-configuration). */
  readonly issuer: string;
  /** The CA that signed the provider's certificate: give it to the gateway as outboundTls.caFile. */
  readonly caFile: string;
  readonly ca: TestCa;
  /** An undici dispatcher trusting the test CA (for fetches at the provider). */
  readonly dispatcher: Agent;
  readonly endSessionEndpoint: string;
  /** The provider's signing keys, first the default alg's; the same as its JWKS. */
  readonly keys: ProviderKey[];
  /** Every back-channel logout attempt, in order. */
  readonly backchannel: BackchannelDelivery[];
  /** Errors oidc-provider reported as its own (server_error); tests can assert there are none. */
  readonly serverErrors: unknown[];
  /** acr/amr given to the next sign-ins. */
  acr: string | undefined;
  amr: string[] | undefined;
  /** The oidc-provider instance itself, for what this harness does not wrap. */
  readonly provider: unknown;
  /**
   * A logout_token signed with the provider's key (or opts.key). Defaults: iss, aud = the first
   * client's id, iat = now, exp = now + 120 (whatever iat is given), a random jti, the
   * back-channel logout event; sub and sid only as given. A claim set to undefined is removed.
   */
  signLogoutToken(claims?: Record<string, unknown>, opts?: SignLogoutTokenOptions): Promise<string>;
  /** Drive the authorization flow as `username` (password `pw-<username>` by default); see AuthorizeResult. */
  authorize(authorizationUrl: string | URL, username: string, password?: string, opts?: { cookies?: CookieJar; deny?: boolean }): Promise<AuthorizeResult>;
  /** RP-initiated logout at the provider as the browser holding `cookies`. */
  endSession(opts: EndSessionOptions): Promise<EndSessionResult>;
  /** Resolves once `count` back-channel deliveries have an outcome (in total, since start). */
  backchannelSettled(count: number, timeoutMs?: number): Promise<BackchannelDelivery[]>;
  close(): Promise<void>;
}

const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const STANDARD_SCOPES: Record<string, string[]> = {
  openid: ['sub'],
  email: ['email', 'email_verified'],
  profile: ['name', 'given_name', 'family_name', 'preferred_username'],
  groups: ['groups'],
};

// The parts of oidc-provider's API used here (it ships no types).
interface InteractionDetails {
  uid: string;
  prompt: { name: string; details: { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> } };
  params: Record<string, unknown> & { client_id: string };
  session?: { accountId: string };
  grantId?: string;
}
interface Grant {
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: string[]): void;
  addResourceScope(indicator: string, scope: string): void;
  save(): Promise<string>;
}
interface ProviderApi {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
  interactionFinished(req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>, opts?: { mergeWithLastSubmission?: boolean }): Promise<void>;
  Grant: { new (init: { accountId: string; clientId: string }): Grant; find(id: string): Promise<Grant | undefined> };
  on(event: string, listener: (...args: never[]) => void): void;
}
interface KoaContext {
  type: string;
  body: string;
  host: string;
  oidc: { client?: { clientId: string } };
}

export async function startOidcProvider(opts: OidcProviderOptions): Promise<TestOidcProvider> {
  const ca = await makeCa();
  const cert = await ca.issue('idp');
  const caPems = await Promise.all([ca.certFile, ...(opts.trustCaFiles ?? [])].map((f) => readFile(f, 'utf8')));
  // Trust only the tests' CAs (no system roots), for our own requests and for the provider's.
  const dispatcher = new Agent({ connect: { ca: caPems } });

  const defaultAlg = opts.idTokenSigningAlg ?? 'RS256';
  const algs = [...new Set([defaultAlg, ...opts.clients.map((c) => c.id_token_signed_response_alg).filter((a): a is string => typeof a === 'string')])];
  const keys: ProviderKey[] = [];
  const privateJwks: JWK[] = [];
  for (const alg of algs) {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    const kid = `idp-${alg.toLowerCase()}-${randomUUID().slice(0, 8)}`;
    keys.push({ kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } });
    privateJwks.push({ ...(await exportJWK(privateKey)), kid, alg, use: 'sig' });
  }

  // Accounts by sub (what oidc-provider asks for) and by username (what the login form gets).
  const bySub = new Map<string, Record<string, unknown>>();
  const subOf = new Map<string, string>();
  for (const [username, claims] of Object.entries(opts.accounts)) {
    const sub = claims.sub ?? username;
    bySub.set(sub, { ...claims, sub });
    subOf.set(username, sub);
  }
  const scopes = opts.scopes ?? defaultScopes(opts.accounts);
  const acrValues = opts.acrValues ?? (opts.acr ? [opts.acr] : []);

  const backchannel: BackchannelDelivery[] = [];
  const serverErrors: unknown[] = [];
  const events = new EventEmitter();
  const settled = () => backchannel.filter((d) => d.ok !== undefined).length;

  // The server listens first: the issuer needs its port, and the provider needs the issuer.
  let handle: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(503).end();
  const server: Server = createServer({ cert: await readFile(cert.certFile), key: await readFile(cert.keyFile) }, (req, res) => handle(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const state = { acr: opts.acr, amr: opts.amr };

  const config = {
    clients: opts.clients.map((c) => ({
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: c.client_secret ? 'client_secret_basic' : c.jwks ? 'private_key_jwt' : 'none',
      id_token_signed_response_alg: defaultAlg,
      ...c,
    })),
    jwks: { keys: privateJwks },
    adapter: memoryAdapter(),
    // Signed cookies with a key of this run (no "dev keys" notice, nothing shared between runs).
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    async findAccount(_ctx: unknown, sub: string) {
      const claims = bySub.get(sub);
      if (!claims) return undefined;
      // All the account's claims; oidc-provider keeps those the granted scopes release.
      return { accountId: sub, claims: () => structuredClone(claims) };
    },
    // acr, amr and auth_time in every ID token (as Keycloak and Entra ID do), not only when asked for.
    claims: { ...scopes, openid: [...new Set(['sub', 'acr', 'amr', 'auth_time', ...(scopes.openid ?? [])])], acr: null, amr: null, auth_time: null, sid: null },
    // Claims released by scope go into the ID token too (not only userinfo): the relying party
    // maps email, name and groups from the ID token.
    conformIdTokenClaims: false,
    acrValues,
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
    },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    renderError,
    // Only servers (the gateway, openid-client) call the provider's endpoints, never a page's script.
    clientBasedCORS: () => false,
    ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600, RefreshToken: 3600 },
    // The provider's own calls (back-channel logout): loopback only, the test CA only, and recorded.
    // oidc-provider's default dispatcher refuses loopback addresses (SSRF protection), so ours replaces it.
    async fetch(url: string | URL, init: RequestInit & { dispatcher?: unknown }) {
      const target = new URL(url);
      if (!LOOPBACK.has(target.hostname)) throw new Error(`the test provider calls nothing outside the test (${target.href})`);
      const { dispatcher: _ssrfGuard, ...rest } = init;
      const logoutToken = rest.body instanceof URLSearchParams ? rest.body.get('logout_token') : null;
      const delivery = logoutToken ? recordDelivery(target.href, logoutToken) : undefined;
      try {
        const res = await undiciFetch(target, { ...(rest as Parameters<typeof undiciFetch>[1]), dispatcher });
        if (delivery) delivery.status = res.status;
        return res;
      } catch (err) {
        if (delivery) delivery.error = (err as Error).message;
        throw err;
      }
    },
  };
  let provider: ProviderApi;
  try {
    provider = new Provider(issuer, config) as ProviderApi;
  } catch (err) {
    // Bad client metadata or options: nothing left listening.
    server.close();
    await dispatcher.close();
    throw err;
  }

  function recordDelivery(uri: string, logoutToken: string): BackchannelDelivery {
    const claims = decodeJwt(logoutToken);
    const delivery: BackchannelDelivery = { clientId: String(claims.aud), uri, logoutToken, claims, status: undefined, ok: undefined };
    backchannel.push(delivery);
    return delivery;
  }
  // oidc-provider's verdict on each delivery; an error before any request (no token) is recorded too.
  const settle = (clientId: string, ok: boolean, error?: unknown) => {
    let d = backchannel.find((x) => x.clientId === clientId && x.ok === undefined);
    if (!d) backchannel.push((d = { clientId, uri: '', logoutToken: '', claims: {}, status: undefined, ok: undefined }));
    d.ok = ok;
    if (error) d.error ??= (error as Error).message;
    events.emit('settled');
  };
  provider.on('backchannel.success', (_ctx: unknown, client: { clientId: string }) => settle(client.clientId, true));
  provider.on('backchannel.error', (_ctx: unknown, err: unknown, client: { clientId: string }) => settle(client.clientId, false, err));
  provider.on('server_error', (_ctx: unknown, err: unknown) => serverErrors.push(err));

  const callback = provider.callback();
  handle = (req, res) => {
    if (req.url?.startsWith('/interaction/')) {
      interaction(req, res).catch((err: unknown) => {
        serverErrors.push(err);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(err));
      });
    } else {
      callback(req, res);
    }
  };

  // The login page (prompt "login") and automatic consent (prompt "consent").
  async function interaction(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', issuer).pathname;
    let details: InteractionDetails;
    try {
      details = await provider.interactionDetails(req, res);
    } catch (err) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end(`no interaction: ${(err as Error).message}`);
      return;
    }
    const { uid, prompt, params } = details;
    if (req.method === 'GET' && path === `/interaction/${uid}`) {
      if (prompt.name === 'login') {
        sendHtml(res, 200, loginPage(uid, typeof params.login_hint === 'string' ? params.login_hint : ''));
        return;
      }
      if (prompt.name === 'consent') {
        await provider.interactionFinished(req, res, { consent: { grantId: await consent(details) } }, { mergeWithLastSubmission: true });
        return;
      }
    }
    if (req.method === 'POST' && path === `/interaction/${uid}/login` && prompt.name === 'login') {
      const form = new URLSearchParams(await readBody(req));
      if (form.has('cancel')) {
        await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'End-User cancelled the sign-in' }, { mergeWithLastSubmission: false });
        return;
      }
      const username = form.get('login') ?? '';
      const sub = subOf.get(username);
      if (!sub || form.get('password') !== `pw-${username}`) {
        sendHtml(res, 401, loginPage(uid, username, 'Wrong username or password.'));
        return;
      }
      const login = { accountId: sub, ...(state.acr ? { acr: state.acr } : {}), ...(state.amr ? { amr: state.amr } : {}) };
      await provider.interactionFinished(req, res, { login }, { mergeWithLastSubmission: false });
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`nothing at ${req.method} ${path} for prompt ${prompt.name}`);
  }

  // Consent for everything the client asked: a first-party provider, as Keycloak with consent off.
  async function consent(details: InteractionDetails): Promise<string> {
    const { prompt, params, session } = details;
    const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId: session?.accountId ?? '', clientId: params.client_id });
    if (!grant) throw new Error('the interaction names a grant that does not exist');
    if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
    if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    for (const [indicator, scope] of Object.entries(prompt.details.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scope.join(' '));
    return grant.save();
  }

  async function signLogoutToken(claims: Record<string, unknown> = {}, o: SignLogoutTokenOptions = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    // Back-Channel Logout 1.0 §2.4, as oidc-provider makes them (exp 2 minutes); sid and sub come from the caller.
    const payload = dropUndefined({
      iss: issuer,
      aud: opts.clients[0]?.client_id,
      iat: now,
      exp: now + 120,
      jti: randomUUID(),
      events: { [BACKCHANNEL_EVENT]: {} },
      ...claims,
    });
    const alg = o.key?.alg ?? o.alg ?? defaultAlg;
    if (alg === 'none') {
      const header = dropUndefined({ alg: 'none', typ: 'logout+jwt', ...o.header });
      return `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(payload))}.`;
    }
    const key = o.key ?? keys.find((k) => k.alg === alg);
    if (!key) throw new Error(`the provider has no ${alg} key (its algs: ${algs.join(', ')})`);
    const header = dropUndefined({ alg, kid: key.kid, typ: 'logout+jwt', ...o.header });
    return new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(key.privateKey);
  }

  async function authorize(authorizationUrl: string | URL, username: string, password = `pw-${username}`, o: { cookies?: CookieJar; deny?: boolean } = {}): Promise<AuthorizeResult> {
    const cookies = o.cookies ?? new CookieJar();
    let url = new URL(authorizationUrl);
    const redirectUri = url.searchParams.get('redirect_uri');
    let post: string | undefined;
    let loggedIn = false;
    for (let hop = 0; hop < 20; hop++) {
      if (url.origin !== issuer) throw new Error(`authorize() would leave the provider for ${url.href}`);
      const res = await request(url, {
        method: post === undefined ? 'GET' : 'POST',
        headers: { ...cookies.headers(url), ...(post === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }) },
        body: post,
        dispatcher,
      });
      cookies.store(res.headers['set-cookie']);
      const text = await res.body.text();
      post = undefined;
      const location = res.headers.location;
      if (res.statusCode >= 300 && res.statusCode < 400 && typeof location === 'string') {
        const next = new URL(location, url);
        // Back at the relying party: hand the redirect over without following it.
        if (next.origin !== issuer || (redirectUri !== null && `${next.origin}${next.pathname}` === redirectUri)) return { location: next.href, url: next, cookies };
        url = next;
        continue;
      }
      const action = /<form id="login-form" method="post" action="([^"]+)"/.exec(text)?.[1];
      if (action) {
        if (loggedIn) throw new Error(`the provider refused the sign-in as ${username} (${/<p id="error"[^>]*>([^<]*)</.exec(text)?.[1] ?? res.statusCode})`);
        loggedIn = true;
        url = new URL(action, url);
        post = (o.deny ? new URLSearchParams({ cancel: '1' }) : new URLSearchParams({ login: username, password })).toString();
        continue;
      }
      throw new Error(`the provider answered ${res.statusCode} at ${url.pathname}: ${text.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').slice(0, 400)}`);
    }
    throw new Error('authorize(): too many redirects');
  }

  const endSessionEndpoint = `${issuer}/session/end`;

  async function endSession(o: EndSessionOptions): Promise<EndSessionResult> {
    const cookies = o.cookies ?? new CookieJar();
    const first = backchannel.length;
    const url = new URL(endSessionEndpoint);
    const q = { id_token_hint: o.idTokenHint, client_id: o.clientId, post_logout_redirect_uri: o.postLogoutRedirectUri, state: o.state };
    for (const [k, v] of Object.entries(q)) if (v !== undefined) url.searchParams.set(k, v);
    const page = await request(url, { headers: cookies.headers(url), dispatcher });
    cookies.store(page.headers['set-cookie']);
    const html = await page.body.text();
    // The confirmation form (a session) or the self-submitting form (none): action and xsrf either way.
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
    if (page.statusCode !== 200 || !action || !xsrf) throw new Error(`end_session answered ${page.statusCode}: ${html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').slice(0, 400)}`);
    const confirmUrl = new URL(action.replace(/&amp;/g, '&'), url);
    const form = new URLSearchParams({ xsrf });
    if (o.everywhere !== false) form.set('logout', 'yes');
    const res = await request(confirmUrl, {
      method: 'POST',
      headers: { ...cookies.headers(confirmUrl), 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
      dispatcher,
    });
    cookies.store(res.headers['set-cookie']);
    await res.body.dump();
    const location = typeof res.headers.location === 'string' ? new URL(res.headers.location, confirmUrl).href : undefined;
    return { status: res.statusCode, location, deliveries: backchannel.slice(first) };
  }

  async function backchannelSettled(count: number, timeoutMs = 5000): Promise<BackchannelDelivery[]> {
    const signal = AbortSignal.timeout(timeoutMs);
    while (settled() < count) {
      await once(events, 'settled', { signal }).catch(() => {
        throw new Error(`${settled()} of ${count} back-channel deliveries settled within ${timeoutMs} ms`);
      });
    }
    return backchannel.filter((d) => d.ok !== undefined);
  }

  return {
    issuer,
    caFile: ca.certFile,
    ca,
    dispatcher,
    endSessionEndpoint,
    keys,
    backchannel,
    serverErrors,
    get acr() {
      return state.acr;
    },
    set acr(v) {
      state.acr = v;
    },
    get amr() {
      return state.amr;
    },
    set amr(v) {
      state.amr = v;
    },
    provider,
    signLogoutToken,
    authorize,
    endSession,
    backchannelSettled,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await dispatcher.close();
    },
  };
}

/** The provider-side cookies of one "browser": name and path as RFC 6265 keys them (host ignored: one host). */
export class CookieJar {
  private readonly cookies = new Map<string, { name: string; value: string; path: string }>();

  store(setCookie: string | string[] | undefined): void {
    if (!setCookie) return;
    const headers = new UndiciHeaders();
    for (const line of Array.isArray(setCookie) ? setCookie : [setCookie]) headers.append('set-cookie', line);
    for (const c of getSetCookies(headers)) {
      const path = c.path ?? '/';
      const key = `${c.name};${path}`;
      const expired = (c.maxAge !== undefined && c.maxAge <= 0) || (c.expires !== undefined && new Date(c.expires).getTime() <= Date.now());
      if (expired || c.value === '') this.cookies.delete(key);
      else this.cookies.set(key, { name: c.name, value: c.value, path });
    }
  }

  /** The Cookie header a browser would send to `url`. */
  header(url: URL): string {
    const p = url.pathname;
    return [...this.cookies.values()]
      .filter((c) => p === c.path || (p.startsWith(c.path) && (c.path.endsWith('/') || p[c.path.length] === '/')))
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  /** { cookie } for `url`, or nothing when no cookie applies. */
  headers(url: URL): Record<string, string> {
    const cookie = this.header(url);
    return cookie ? { cookie } : {};
  }

  list(): { name: string; value: string; path: string }[] {
    return [...this.cookies.values()];
  }
}

// oidc-provider's storage, in a Map of this provider's own: its built-in memory adapter says it
// MUST be replaced and keeps at most 1000 entries. Expired entries vanish when looked up.
function memoryAdapter(): (model: string) => Record<string, (...args: never[]) => Promise<unknown>> {
  type Payload = Record<string, unknown>;
  const store = new Map<string, { payload: Payload; expiresAt: number }>();
  const live = (key: string): Payload | undefined => {
    const entry = store.get(key);
    if (entry && entry.expiresAt <= Date.now()) store.delete(key);
    return entry && entry.expiresAt > Date.now() ? entry.payload : undefined;
  };
  const findBy = (model: string, field: string, value: string) => {
    for (const key of store.keys()) if (key.startsWith(`${model}:`) && live(key)?.[field] === value) return live(key);
    return undefined;
  };
  return (model) => ({
    upsert: async (id: string, payload: Payload, expiresIn?: number) => {
      store.set(`${model}:${id}`, { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : Infinity });
    },
    find: async (id: string) => live(`${model}:${id}`),
    findByUid: async (uid: string) => findBy(model, 'uid', uid),
    findByUserCode: async (userCode: string) => findBy(model, 'userCode', userCode),
    consume: async (id: string) => {
      const payload = live(`${model}:${id}`);
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    },
    destroy: async (id: string) => {
      store.delete(`${model}:${id}`);
    },
    revokeByGrantId: async (grantId: string) => {
      for (const [key, { payload }] of store) if (key.startsWith(`${model}:`) && payload.grantId === grantId) store.delete(key);
    },
  });
}

function defaultScopes(accounts: Record<string, AccountClaims>): Record<string, string[]> {
  const named = new Set(Object.values(STANDARD_SCOPES).flat());
  const others = new Set<string>();
  for (const claims of Object.values(accounts)) for (const k of Object.keys(claims)) if (!named.has(k)) others.add(k);
  return { ...STANDARD_SCOPES, profile: [...(STANDARD_SCOPES.profile ?? []), ...others] };
}

function dropUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function sendHtml(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': "default-src 'none'" });
  res.end(body);
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title></head><body><h1>${esc(title)}</h1>${body}</body></html>`;
}

function loginPage(uid: string, login: string, error?: string): string {
  return page(
    'Test IdP sign-in',
    `${error ? `<p id="error" role="alert">${esc(error)}</p>` : ''}` +
      `<form id="login-form" method="post" action="/interaction/${esc(uid)}/login">` +
      `<label for="login">Username</label> <input id="login" name="login" autocomplete="username" value="${esc(login)}" required>` +
      `<label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password" required>` +
      `<button type="submit">Sign in</button> <button type="submit" name="cancel" value="1" formnovalidate>Cancel</button></form>`,
  );
}

// oidc-provider's own pages, replaced: its defaults print a "you SHOULD change it" notice and pull Google fonts.
async function logoutSource(ctx: KoaContext, form: string): Promise<void> {
  ctx.type = 'html';
  ctx.body = page(
    `Sign out of ${ctx.host}?`,
    `${form}<button type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button> <button type="submit" form="op.logoutForm">No, stay signed in</button>`,
  );
}

async function postLogoutSuccessSource(ctx: KoaContext): Promise<void> {
  ctx.type = 'html';
  ctx.body = page('Signed out', `<p>You are signed out${ctx.oidc.client ? ` of ${esc(ctx.oidc.client.clientId)}` : ''}.</p>`);
}

async function renderError(ctx: KoaContext, out: Record<string, string>): Promise<void> {
  ctx.type = 'html';
  ctx.body = page('Provider error', Object.entries(out).map(([k, v]) => `<p id="${esc(k)}">${esc(k)}: ${esc(String(v))}</p>`).join(''));
}
