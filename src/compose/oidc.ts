// login.oidc, wired: each provider's client authentication (a secret from a file or the environment,
// or private_key_jwt), its redirect URI, its keys through the gateway's JWKS cache, and the
// gateway's outbound TLS settings (outboundTls.caFile) for discovery, token, userinfo and JWKS
// calls alike. Discovery starts at once in the background; a provider that does not answer yet
// is retried on the first sign-in (502 provider_unavailable meanwhile), never a failed start.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { createPrivateKey, webcrypto } from 'node:crypto';
import * as oidc from 'openid-client';
import { fetch as undiciFetch, type Dispatcher } from 'undici';
import type { Clock } from '../clock.js';
import type { LoadedConfig } from '../config/load.js';
import { OidcProvider } from '../endpoints/auth/oidc/provider.js';
import { ConfigError } from '../errors.js';
import { RemoteJwks, undiciJwksFetch } from '../keys/remote-jwks.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/metrics.js';
import { jwksObserver } from './tokens.js';

type ProviderConfig = LoadedConfig['gateway']['login']['oidc'][string];

// The provider's JWKS: the same bounds as an issuer's defaults (issuers[].jwks).
const JWKS_SETTINGS = { minTtlMs: 60_000, maxTtlMs: 86_400_000, cooldownMs: 30_000, staleForMs: 3_600_000, timeoutMs: 5_000, maxBytes: 256 * 1024 };

export async function buildOidcProviders(config: LoadedConfig, env: NodeJS.ProcessEnv, outbound: Dispatcher | undefined, clock: Clock, metrics: Metrics, logger: Logger): Promise<Map<string, OidcProvider>> {
  const gw = config.gateway;
  const providers = new Map<string, OidcProvider>();
  const located = (name: string, key: string, message: string) => new ConfigError([{ file: config.gatewayFile, line: 0, column: 0, path: `login.oidc.${name}${key}`, message }]);
  // openid-client's requests go through undici with the gateway's CA settings.
  const fetchImpl = ((url: string, options: RequestInit) => undiciFetch(url, { ...(options as object), ...(outbound ? { dispatcher: outbound } : {}) })) as unknown as oidc.CustomFetch;
  for (const [name, p] of Object.entries(gw.login.oidc)) {
    const firstOrigin = gw.publicOrigins[0];
    const redirectUri = p.redirectUri ?? (firstOrigin ? `${new URL(firstOrigin).origin}/auth/oidc/${name}/callback` : undefined);
    if (!redirectUri) throw located(name, '.redirectUri', 'set redirectUri, or publicOrigins (the redirect URI is <first public origin>/auth/oidc/<name>/callback)');
    if (p.issuer.startsWith('http:')) logger.warn({ key: `login.oidc.${name}.issuer` }, 'development setting: an http:// OpenID Connect issuer; tokens and codes travel in clear');
    const provider = new OidcProvider(
      {
        name,
        issuer: p.issuer,
        clientId: p.clientId,
        redirectUri,
        clientAuth: await clientAuth(config, name, p, env, located),
        scopes: p.scopes.includes('openid') ? p.scopes : ['openid', ...p.scopes],
        algorithm: p.idTokenAlgorithm,
        claims: p.claims,
        acrValues: p.acrValues,
        requireAmr: p.requireAmr,
        userinfo: p.userinfo,
        requireVerifiedEmail: p.requireVerifiedEmail,
        endSession: p.endSession,
        backchannel: p.backchannelLogout,
        postLogoutRedirect: p.postLogoutRedirect ?? (firstOrigin ? `${new URL(firstOrigin).origin}/` : undefined),
        scopedSubject: p.subject === 'scoped',
      },
      (jwksUri) =>
        new RemoteJwks(p.issuer, jwksUri, [p.idTokenAlgorithm], JWKS_SETTINGS, clock, undiciJwksFetch(outbound), jwksObserver(metrics, logger)),
      fetchImpl,
      (err) => logger.warn({ provider: name, issuer: p.issuer, cause: err instanceof Error ? err.message.slice(0, 200) : String(err) }, 'OpenID Connect discovery failed; retried at the next sign-in'),
    );
    // Warm: discovery and the JWKS before the first user arrives (a failure is only logged).
    void provider.config().catch(() => undefined);
    providers.set(name, provider);
  }
  return providers;
}

async function clientAuth(
  config: LoadedConfig,
  name: string,
  p: ProviderConfig,
  env: NodeJS.ProcessEnv,
  located: (name: string, key: string, message: string) => ConfigError,
): Promise<oidc.ClientAuth | undefined> {
  const fromConfig = (f: string) => resolve(dirname(config.gatewayFile), f);
  if (p.clientSecretFile) {
    let secret: string;
    try {
      secret = (await readFile(fromConfig(p.clientSecretFile), 'utf8')).trim();
    } catch (err) {
      throw located(name, '.clientSecretFile', `${fromConfig(p.clientSecretFile)} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if (!secret) throw located(name, '.clientSecretFile', 'the file is empty');
    return oidc.ClientSecretBasic(secret);
  }
  if (p.clientSecretEnv) {
    const secret = env[p.clientSecretEnv]?.trim();
    if (!secret) throw located(name, '.clientSecretEnv', `${p.clientSecretEnv} is not set`);
    return oidc.ClientSecretBasic(secret);
  }
  if (p.privateKeyJwt) {
    let pem: string;
    try {
      pem = await readFile(fromConfig(p.privateKeyJwt.keyFile), 'utf8');
    } catch (err) {
      throw located(name, '.privateKeyJwt.keyFile', `${fromConfig(p.privateKeyJwt.keyFile)} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    const alg = p.privateKeyJwt.algorithm;
    const keyObject = createPrivateKey(pem);
    const key = await webcrypto.subtle.importKey('pkcs8', keyObject.export({ format: 'der', type: 'pkcs8' }), importParams(alg), false, ['sign']);
    return oidc.PrivateKeyJwt({ key, ...(p.privateKeyJwt.kid ? { kid: p.privateKeyJwt.kid } : {}) });
  }
  // A public client: PKCE is its only proof (some providers allow that for web clients too).
  return undefined;
}

function importParams(alg: string): { name: string; hash?: string; namedCurve?: string } {
  switch (alg) {
    case 'PS256':
      return { name: 'RSA-PSS', hash: 'SHA-256' };
    case 'ES256':
      return { name: 'ECDSA', namedCurve: 'P-256' };
    case 'EdDSA':
      return { name: 'Ed25519' };
    default:
      return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  }
}
