// The bearer authenticator over its two verifiers (the gateway's own access tokens, configured
// issuers' tokens) and the one verified-token cache they share: what a cache keyed by the token's
// hash must never do (outlive a revocation, answer for another issuer's or a re-signed token), and
// how a token without kid that several keys fit is counted.
import { decodeJwt } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { MemoryNotBeforeStore } from '../../src/adapters/memory/not-before-store.js';
import { GatewayError } from '../../src/errors.js';
import { loadKeySet, type KeySet } from '../../src/keys/keyset.js';
import { bearerAuthenticator } from '../../src/pipeline/authn/bearer-jwt.js';
import type { TrustedIssuer } from '../../src/pipeline/authn/issuer-token.js';
import type { Exchange } from '../../src/pipeline/exchange.js';
import { accessTokenSigner } from '../../src/refresh/access-token.js';
import { NotBeforeRegistry } from '../../src/revocation/not-before.js';
import { fakeIssuer, type FakeIssuer } from '../support/fake-jwks.js';

const OWN = 'https://gateway.example';
// Half a second past a whole second: a revocation "now" is later than a token's iat of this second.
let now = 1_700_000_000_500;
const clock = { now: () => now };
let keys: KeySet;

beforeAll(async () => {
  keys = await loadKeySet({ dir: '/nonexistent/gw-test-keys', algorithm: 'ES256', generateDevKey: true, warn: () => undefined });
});

function trusted(idp: FakeIssuer): TrustedIssuer {
  return { issuer: idp.issuer, jwks: idp.jwks(clock), audiences: ['gateway'], algorithms: ['ES256'], claims: { sub: 'sub' }, clockToleranceS: 30, subjectAsIs: false };
}

function setup(idps: FakeIssuer[] = []) {
  const notBefore = new NotBeforeRegistry(new MemoryNotBeforeStore(), clock, 60_000, 600_000);
  const outcomes: string[] = [];
  const caches: string[] = [];
  const bearer = bearerAuthenticator(
    new Map(idps.map((i) => [i.issuer, trusted(i)])),
    { issuer: OWN, audience: 'gateway', keys },
    notBefore,
    clock,
    { outcome: (issuer, result, reason) => outcomes.push(`${issuer} ${result} ${reason}`), cache: (r) => caches.push(r) },
    100,
  );
  const auth = async (token: string) => bearer.authenticate({ req: { headers: { authorization: `Bearer ${token}` } } } as unknown as Exchange);
  const refused = async (token: string) => {
    const err = await auth(token).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    return (err as GatewayError).code;
  };
  const signOwn = async (sub: string) => (await accessTokenSigner(keys, OWN, 'gateway', 600_000, clock, (s) => notBefore.minIat(s))(sub, {}, 'fam-1')).token;
  return { notBefore, outcomes, caches, auth, refused, signOwn };
}

describe('the verified-token cache both kinds of bearer token share', () => {
  it('an own access token answered from cache is refused once its user is revoked, and stays refused', async () => {
    const t = setup();
    const token = await t.signOwn('u-alice');
    expect((await t.auth(token))?.sub).toBe('u-alice');
    expect((await t.auth(token))?.sub).toBe('u-alice');
    expect(t.caches).toEqual(['miss', 'hit']);
    await t.notBefore.revoke('u-alice', now);
    expect(await t.refused(token)).toBe('invalid_token');
    expect(t.caches).toEqual(['miss', 'hit']); // refused on the cached entry, not counted as served
    expect(t.outcomes.at(-1)).toBe(`${OWN} refused revoked`);
    expect(await t.refused(token)).toBe('invalid_token');
    expect(t.outcomes.at(-1)).toBe(`${OWN} refused revoked`);
    // A token issued after the revocation is not caught by it.
    now += 1_000;
    expect((await t.auth(await t.signOwn('u-alice')))?.sub).toBe('u-alice');
  });

  it('answers a cached issuer token only for its very bytes: not for the same claims from another issuer, another iss, or another signature', async () => {
    const a = await fakeIssuer('https://a.example', clock, ['a1']);
    const b = await fakeIssuer('https://b.example', clock, ['b1']);
    const t = setup([a, b]);
    const fromA = await a.sign({ sub: 'u1' });
    expect((await t.auth(fromA))?.sub).toBe('https://a.example#u1');
    expect((await t.auth(fromA))?.sub).toBe('https://a.example#u1');
    expect(t.caches).toEqual(['miss', 'hit']);
    // The same claims from issuer B: B's principal, verified with B's keys.
    const fromB = await b.sign({ sub: 'u1' });
    expect((await t.auth(fromB))?.sub).toBe('https://b.example#u1');
    expect(t.outcomes.at(-1)).toBe('https://b.example verified ok');
    // A's key, claiming to be B: B's set has no such key, cached A token or not.
    expect(await t.refused(await a.sign({ sub: 'u1' }, { iss: b.issuer }))).toBe('invalid_token');
    expect(t.outcomes.at(-1)).toBe('https://b.example refused unknown_key');
    // The cached token's header and payload with another signature.
    const forged = `${fromA.slice(0, fromA.lastIndexOf('.'))}.${fromB.slice(fromB.lastIndexOf('.') + 1)}`;
    expect(decodeJwt(forged)).toEqual(decodeJwt(fromA));
    expect(await t.refused(forged)).toBe('invalid_token');
    expect(t.outcomes.at(-1)).toBe('https://a.example refused signature');
    expect(t.caches).toEqual(['miss', 'hit', 'miss', 'miss', 'miss']);
  });

  it('an own token and an issuer token of the same subject stay apart, and only the own one is revoked', async () => {
    const a = await fakeIssuer('https://a2.example', clock, ['a1']);
    const t = setup([a]);
    const own = await t.signOwn('u-bob');
    const ext = await a.sign({ sub: 'u-bob' });
    expect((await t.auth(own))?.sub).toBe('u-bob');
    expect((await t.auth(ext))?.sub).toBe('https://a2.example#u-bob');
    await t.notBefore.revoke('u-bob', now);
    expect(await t.refused(own)).toBe('invalid_token');
    // Revocation of the gateway's user u-bob is not the external issuer's u-bob.
    expect((await t.auth(ext))?.sub).toBe('https://a2.example#u-bob');
    expect(t.caches.at(-1)).toBe('hit');
  });
});

describe('a token without kid', () => {
  it('verifies against the one key that fits', async () => {
    const one = await fakeIssuer('https://single.example', clock, ['s1']);
    const t = setup([one]);
    expect((await t.auth(await one.sign({ sub: 'u' }, { kid: false })))?.sub).toBe('https://single.example#u');
  });

  it('that several keys fit is refused as an unknown key (jose: JWKSMultipleMatchingKeys), as an unknown kid is', async () => {
    const two = await fakeIssuer('https://several.example', clock, ['k1', 'k2']);
    const t = setup([two]);
    expect(await t.refused(await two.sign({ sub: 'u' }, { kid: false }))).toBe('invalid_token');
    expect(t.outcomes.at(-1)).toBe('https://several.example refused unknown_key');
    const unpublished = await two.newKey('k3');
    two.keys.pop();
    expect(await t.refused(await two.sign({ sub: 'u' }, { key: unpublished }))).toBe('invalid_token');
    expect(t.outcomes.at(-1)).toBe('https://several.example refused unknown_key');
    expect(two.fetches).toBe(2); // one fetch, one refetch for the key it could not pick, none within the cooldown
  });
});
