// One OpenID Connect provider of login.oidc, as a relying party: discovery (lazily, retried until
// the provider answers), the authorization request (code flow, PKCE S256, state, nonce), the code
// exchange and ID token checks, userinfo, logout token verification and the end-session URL.
// openid-client does the protocol; on top of it the ID token's and logout token's signatures are
// checked with the gateway's own JWKS cache (keys/remote-jwks.ts: stale-if-error, size caps,
// metrics), the algorithm pinned by configuration.
import * as oidc from 'openid-client';
import { decodeJwt, jwtVerify, type JWTPayload } from 'jose';
import { GatewayError } from '../../../errors.js';
import type { RemoteJwks } from '../../../keys/remote-jwks.js';
import { valueAt } from '../../../sessions/claim-path.js';
import type { SessionIdp } from '../../../sessions/store.js';

export interface ProviderSettings {
  readonly name: string;
  readonly issuer: string;
  readonly clientId: string;
  readonly redirectUri: string;
  /** undefined: a public client (PKCE only). */
  readonly clientAuth: oidc.ClientAuth | undefined;
  readonly scopes: readonly string[];
  readonly algorithm: string;
  readonly claims: Readonly<Record<string, string>>;
  readonly acrValues: readonly string[] | undefined;
  readonly requireAmr: readonly string[] | undefined;
  readonly userinfo: boolean;
  /** Drop `email` unless the provider says email_verified: true. */
  readonly requireVerifiedEmail: boolean;
  readonly endSession: boolean;
  /** Logout tokens from this provider are taken (login.oidc.<name>.backchannelLogout). */
  readonly backchannel: boolean;
  readonly postLogoutRedirect: string | undefined;
  readonly scopedSubject: boolean;
}

/** What a sign-in keeps between the redirect to the provider and the callback (idp-store.ts). */
export interface Flow {
  readonly provider: string;
  readonly state: string;
  readonly nonce: string;
  readonly verifier: string;
  readonly returnTo: string;
}

/** A signed-in user, as the session gets it. */
export interface OidcUser {
  readonly sub: string;
  readonly claims: Record<string, unknown>;
  readonly idp: SessionIdp;
}

/** Why a sign-in was refused: a label for metrics and logs, never shown to the browser. */
export class SignInRefused extends GatewayError {
  constructor(
    readonly why: 'provider_error' | 'state_mismatch' | 'token_invalid' | 'acr' | 'amr',
    cause?: unknown,
  ) {
    super('sign_in_failed', { cause, detail: why });
  }
}

const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
// Logout tokens older than this are refused (Back-Channel Logout §2.6 leaves the window to the RP).
const LOGOUT_TOKEN_MAX_AGE_S = 300;

export class OidcProvider {
  private configuration: oidc.Configuration | undefined;
  private discovering: Promise<oidc.Configuration> | undefined;

  constructor(
    readonly settings: ProviderSettings,
    /** The provider's keys, through the gateway's JWKS cache; made once its jwks_uri is known. */
    private readonly makeJwks: (jwksUri: string) => RemoteJwks,
    private readonly fetchImpl: oidc.CustomFetch,
    private readonly onDiscoveryFailed: (err: unknown) => void,
  ) {}

  private jwks: RemoteJwks | undefined;

  /** The provider's metadata and client; discovered on first use, retried on the next after a failure. */
  async config(): Promise<oidc.Configuration> {
    if (this.configuration) return this.configuration;
    this.discovering ??= this.discover().finally(() => (this.discovering = undefined));
    return this.discovering;
  }

  private async discover(): Promise<oidc.Configuration> {
    const s = this.settings;
    try {
      const insecure = s.issuer.startsWith('http:');
      const config = await oidc.discovery(new URL(s.issuer), s.clientId, { id_token_signed_response_alg: s.algorithm }, s.clientAuth ?? oidc.None(), {
        [oidc.customFetch]: this.fetchImpl,
        // http:// issuers only for development (a local Keycloak); the loader warns about them.
        ...(insecure ? { execute: [oidc.allowInsecureRequests] } : {}),
      });
      config[oidc.customFetch] = this.fetchImpl;
      const jwksUri = config.serverMetadata().jwks_uri;
      if (!jwksUri) throw new Error('the discovery document names no jwks_uri');
      this.jwks = this.makeJwks(jwksUri);
      this.configuration = config;
      return config;
    } catch (err) {
      this.onDiscoveryFailed(err);
      throw new GatewayError('provider_unavailable', { cause: err });
    }
  }

  /** The provider's authorization URL for a new flow, and the flow to keep. */
  async start(returnTo: string, hints: { prompt?: string; loginHint?: string }): Promise<{ url: URL; flow: Flow }> {
    const config = await this.config();
    const s = this.settings;
    const flow: Flow = { provider: s.name, state: oidc.randomState(), nonce: oidc.randomNonce(), verifier: oidc.randomPKCECodeVerifier(), returnTo };
    const params: Record<string, string> = {
      redirect_uri: s.redirectUri,
      scope: s.scopes.join(' '),
      response_type: 'code',
      code_challenge: await oidc.calculatePKCECodeChallenge(flow.verifier),
      code_challenge_method: 'S256',
      state: flow.state,
      nonce: flow.nonce,
    };
    if (s.acrValues) params.acr_values = s.acrValues.join(' ');
    if (hints.prompt) params.prompt = hints.prompt;
    if (hints.loginHint) params.login_hint = hints.loginHint;
    return { url: oidc.buildAuthorizationUrl(config, params), flow };
  }

  /** The callback: the code exchanged, the ID token checked, the user's claims mapped. */
  async finish(query: string, flow: Flow): Promise<OidcUser> {
    const config = await this.config();
    const s = this.settings;
    const current = new URL(s.redirectUri);
    current.search = query;
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(config, current, { pkceCodeVerifier: flow.verifier, expectedState: flow.state, expectedNonce: flow.nonce, idTokenExpected: true });
    } catch (err) {
      // A state that is not this flow's is the browser's fault (or an attack), not the provider's.
      const code = (err as { code?: string }).code;
      if (code === 'OAUTH_INVALID_RESPONSE' && /state/i.test((err as Error).message)) throw new SignInRefused('state_mismatch', err);
      if (code === 'OAUTH_AUTHORIZATION_RESPONSE_ERROR' || code === 'OAUTH_RESPONSE_BODY_ERROR') throw new SignInRefused('provider_error', err);
      if (err instanceof TypeError || code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' || (err as { cause?: unknown }).cause instanceof TypeError) throw new GatewayError('provider_unavailable', { cause: err });
      throw new SignInRefused('token_invalid', err);
    }
    const idToken = tokens.id_token as string;
    const claims = await this.verifyIdToken(idToken, flow.nonce);
    if (s.acrValues && !s.acrValues.includes(String(claims.acr ?? ''))) throw new SignInRefused('acr');
    const amr = Array.isArray(claims.amr) ? claims.amr.map(String) : [];
    if (s.requireAmr && !s.requireAmr.some((m) => amr.includes(m))) throw new SignInRefused('amr');
    let source: Record<string, unknown> = claims;
    let info: Record<string, unknown> | undefined;
    if (s.userinfo) {
      info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub as string).catch((err: unknown) => {
        throw new SignInRefused('provider_error', err);
      });
      source = { ...info, ...claims };
    }
    // An email is the session's only when the provider vouches for that same email: its
    // email_verified from the source the email came from (the ID token's wins), and only from the
    // `email` claim (upn, preferred_username and the like are editable names, not mailboxes).
    const verified = claims.email !== undefined ? claims.email_verified === true : info?.email_verified === true;
    const mapped: Record<string, unknown> = {};
    for (const [name, path] of Object.entries(s.claims)) {
      if (s.requireVerifiedEmail && (name === 'email' || path === 'email') && (path !== 'email' || !verified)) continue;
      const v = valueAt(source, path);
      if (v !== undefined) mapped[name] = v;
    }
    if (claims.acr !== undefined) mapped.acr = claims.acr;
    if (amr.length > 0) mapped.amr = amr;
    const sid = typeof claims.sid === 'string' ? claims.sid : undefined;
    return { sub: this.subject(claims.sub as string), claims: mapped, idp: { provider: s.name, issuer: s.issuer, ...(sid ? { sid } : {}), idToken } };
  }

  /** The gateway's name for the provider's user (login.oidc.<name>.subject). */
  subject(providerSub: string): string {
    return this.settings.scopedSubject ? `${this.settings.issuer}#${providerSub}` : providerSub;
  }

  /**
   * Signature (the gateway's JWKS cache, the pinned algorithm), issuer, audience, expiry and nonce
   * of the ID token, whatever openid-client already checked: over TLS it may skip the signature,
   * the gateway does not.
   */
  private async verifyIdToken(idToken: string, nonce: string): Promise<JWTPayload> {
    const s = this.settings;
    const jwks = this.jwks as RemoteJwks;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(idToken, (h, t) => jwks.getKey(h, t), { algorithms: [s.algorithm], issuer: s.issuer, audience: s.clientId, requiredClaims: ['sub', 'iat', 'exp'] }));
    } catch (err) {
      if ((err as Error).name === 'JwksUnavailableError') throw new GatewayError('provider_unavailable', { cause: err });
      throw new SignInRefused('token_invalid', err);
    }
    const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    // OIDC Core §3.1.3.7: with several audiences, azp names the client; when present it must be us.
    if ((aud.length > 1 || payload.azp !== undefined) && payload.azp !== s.clientId) throw new SignInRefused('token_invalid', new Error('azp'));
    if (payload.nonce !== nonce) throw new SignInRefused('token_invalid', new Error('nonce'));
    return payload;
  }

  /**
   * A back-channel logout token (Back-Channel Logout 1.0 §2.6): signature with the provider's keys,
   * iss, aud, iat (recent), the logout event, no nonce, a jti, and a sub or a sid. Throws
   * invalid_logout_token.
   */
  async verifyLogoutToken(token: string): Promise<{ sub?: string; sid?: string; jti: string; exp: number }> {
    await this.config();
    const s = this.settings;
    const jwks = this.jwks as RemoteJwks;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, (h, t) => jwks.getKey(h, t), { algorithms: [s.algorithm], issuer: s.issuer, audience: s.clientId, maxTokenAge: LOGOUT_TOKEN_MAX_AGE_S, requiredClaims: ['iat', 'jti'] }));
    } catch (err) {
      if ((err as Error).name === 'JwksUnavailableError') throw new GatewayError('provider_unavailable', { cause: err });
      throw new GatewayError('invalid_logout_token', { cause: err });
    }
    const events = payload.events as Record<string, unknown> | undefined;
    const refuse = (why: string) => new GatewayError('invalid_logout_token', { detail: why });
    if (typeof events !== 'object' || events === null || typeof events[BACKCHANNEL_EVENT] !== 'object' || events[BACKCHANNEL_EVENT] === null) throw refuse('events');
    if (payload.nonce !== undefined) throw refuse('nonce');
    const sub = typeof payload.sub === 'string' ? payload.sub : undefined;
    const sid = typeof payload.sid === 'string' ? payload.sid : undefined;
    if (!sub && !sid) throw refuse('neither sub nor sid');
    const exp = typeof payload.exp === 'number' ? payload.exp : (payload.iat as number) + LOGOUT_TOKEN_MAX_AGE_S;
    return { ...(sub ? { sub } : {}), ...(sid ? { sid } : {}), jti: String(payload.jti), exp };
  }

  /** Where to send the browser for RP-initiated logout at the provider, or undefined when it has none or it is off. */
  async endSessionUrl(idToken: string | undefined): Promise<string | undefined> {
    if (!this.settings.endSession) return undefined;
    const config = await this.config();
    if (!config.serverMetadata().end_session_endpoint) return undefined;
    const params: Record<string, string> = { client_id: this.settings.clientId };
    if (idToken) params.id_token_hint = idToken;
    if (this.settings.postLogoutRedirect) params.post_logout_redirect_uri = this.settings.postLogoutRedirect;
    return oidc.buildEndSessionUrl(config, params).href;
  }
}

/** The issuer a token says it is from, unverified: only to pick which provider verifies it. */
export function claimedIssuer(token: string): string | undefined {
  try {
    const iss = decodeJwt(token).iss;
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    return undefined;
  }
}
