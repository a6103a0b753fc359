// An issuer in memory for unit tests of the JWKS cache and the bearer authenticator: its JWKS is
// answered by an injected fetch (counted), and it signs tokens with its keys, with or without kid.
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import type { Clock } from '../../src/clock.js';
import { RemoteJwks, type JwksFetch } from '../../src/keys/remote-jwks.js';

export interface FakeKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export interface FakeIssuer {
  issuer: string;
  keys: FakeKey[];
  /** JWKs served besides the keys' public ones. */
  extra: JWK[];
  fetches: number;
  fetch: JwksFetch;
  newKey(kid: string): Promise<FakeKey>;
  /** ES256, signed with `key` (default the first); `kid: false` leaves the kid out of the header. */
  sign(claims: JWTPayload, opts?: { key?: FakeKey; kid?: boolean; iss?: string }): Promise<string>;
  jwks(clock: Clock, settings?: Partial<{ cooldownMs: number; staleForMs: number }>, algorithms?: string[]): RemoteJwks;
}

export async function fakeIssuer(issuer: string, clock: Clock, kids: string[] = ['k1']): Promise<FakeIssuer> {
  const t: FakeIssuer = {
    issuer,
    keys: [],
    extra: [],
    fetches: 0,
    fetch: async () => {
      t.fetches++;
      return { status: 200, cacheControl: 'max-age=300', body: JSON.stringify({ keys: [...t.keys.map((k) => k.publicJwk), ...t.extra] }) };
    },
    async newKey(kid) {
      const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
      const key = { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
      t.keys.push(key);
      return key;
    },
    async sign(claims, opts = {}) {
      const key = opts.key ?? (t.keys[0] as FakeKey);
      const nowS = Math.floor(clock.now() / 1000);
      return new SignJWT({ ...claims })
        .setProtectedHeader(opts.kid === false ? { alg: 'ES256' } : { alg: 'ES256', kid: key.kid })
        .setIssuer(opts.iss ?? issuer)
        .setAudience('gateway')
        .setIssuedAt(nowS)
        .setExpirationTime(nowS + 300)
        .sign(key.privateKey);
    },
    jwks(clk, settings = {}, algorithms = ['ES256']) {
      const s = { minTtlMs: 60_000, maxTtlMs: 3_600_000, cooldownMs: 30_000, staleForMs: 600_000, timeoutMs: 1_000, maxBytes: 65_536, ...settings };
      return new RemoteJwks(issuer, `${issuer}/jwks`, algorithms, s, clk, t.fetch, { fetched: () => undefined, servedStale: () => undefined });
    },
  };
  for (const kid of kids) await t.newKey(kid);
  return t;
}
