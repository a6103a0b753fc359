// The JWKS cache hands key selection to jose's local key set: what jose picks, what it refuses
// (no key, several keys for a token without kid), and what is dropped before jose is asked.
import { errors as joseErrors, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { NoMatchingKeyError, type RemoteJwks } from '../../src/keys/remote-jwks.js';
import { fakeIssuer } from '../support/fake-jwks.js';

let now = 1_700_000_000_500;
const clock = { now: () => now };
const verify = (jwks: RemoteJwks, token: string) =>
  jwtVerify(token, (header, jws) => jwks.getKey(header, jws), { algorithms: ['ES256'], currentDate: new Date(now) });

describe('RemoteJwks key selection (jose local key set)', () => {
  it('verifies a token without kid against the one key that fits', async () => {
    const idp = await fakeIssuer('https://one.example', clock);
    const jwks = idp.jwks(clock);
    await expect(verify(jwks, await idp.sign({ sub: 'a' }, { kid: false }))).resolves.toMatchObject({ payload: { sub: 'a' } });
    expect(idp.fetches).toBe(1);
  });

  it('refuses a token without kid that several keys fit as no matching key, after at most one refetch per cooldown', async () => {
    const idp = await fakeIssuer('https://two.example', clock, ['k1', 'k2']);
    const jwks = idp.jwks(clock, { cooldownMs: 30_000 });
    const token = await idp.sign({ sub: 'a' }, { kid: false });
    // jose's own answer is JWKSMultipleMatchingKeys; the cache turns it into the "no key" answer.
    const err = await verify(jwks, token).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoMatchingKeyError);
    expect(err).not.toBeInstanceOf(joseErrors.JWKSMultipleMatchingKeys);
    expect(idp.fetches).toBe(2); // the first fetch, and one more for the key it could not pick
    await expect(verify(jwks, token)).rejects.toBeInstanceOf(NoMatchingKeyError);
    expect(idp.fetches).toBe(2);
    // With a kid, the same set answers.
    await expect(verify(jwks, await idp.sign({ sub: 'a' }))).resolves.toBeDefined();
  });

  it('refetches for an unknown kid at most once per cooldown, and so finds a rotated key', async () => {
    const idp = await fakeIssuer('https://rotate.example', clock);
    const jwks = idp.jwks(clock, { cooldownMs: 30_000 });
    await verify(jwks, await idp.sign({ sub: 'a' }));
    const rotated = await idp.newKey('k2');
    await expect(verify(jwks, await idp.sign({ sub: 'a' }, { key: rotated }))).resolves.toBeDefined();
    expect(idp.fetches).toBe(2);
    const unpublished = await idp.newKey('k3');
    idp.keys.pop();
    for (let i = 0; i < 5; i++) await expect(verify(jwks, await idp.sign({ sub: 'a' }, { key: unpublished }))).rejects.toBeInstanceOf(NoMatchingKeyError);
    expect(idp.fetches).toBe(2);
    now += 30_000;
    await expect(verify(jwks, await idp.sign({ sub: 'a' }, { key: unpublished }))).rejects.toBeInstanceOf(NoMatchingKeyError);
    expect(idp.fetches).toBe(3);
  });

  it('never asks for a key of an algorithm the issuer is not pinned to', async () => {
    const idp = await fakeIssuer('https://pinned.example', clock);
    const jwks = idp.jwks(clock);
    await expect(jwks.getKey({ alg: 'ES384', kid: 'k1' })).rejects.toBeInstanceOf(NoMatchingKeyError);
    await expect(jwks.getKey({ alg: 'HS256', kid: 'k1' })).rejects.toBeInstanceOf(NoMatchingKeyError);
    expect(idp.fetches).toBe(0);
  });

  it('drops symmetric, enc, unpinned and broken keys before jose sees the set, and reads a private key for its public part', async () => {
    const idp = await fakeIssuer('https://mixed.example', clock);
    const enc = await idp.newKey('e');
    enc.publicJwk = { ...enc.publicJwk, use: 'enc' };
    const leaked = await idp.newKey('p');
    leaked.publicJwk = { ...(await exportJWK(leaked.privateKey)), kid: 'p', alg: 'ES256', use: 'sig' };
    const es384 = await generateKeyPair('ES384', { extractable: true });
    idp.extra = [
      { kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA', kid: 'o' },
      { ...(await exportJWK(es384.publicKey)), kid: 'x', alg: 'ES384' },
      { kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA', kid: 'b' },
    ];
    const jwks = idp.jwks(clock);
    await expect(verify(jwks, await idp.sign({ sub: 'a' }))).resolves.toBeDefined();
    expect(jwks.keyCount).toBe(2); // k1 and the public part of p
    await expect(verify(jwks, await idp.sign({ sub: 'a' }, { key: leaked }))).resolves.toBeDefined();
    await expect(verify(jwks, await idp.sign({ sub: 'a' }, { key: enc }))).rejects.toBeInstanceOf(NoMatchingKeyError);
  });
});
