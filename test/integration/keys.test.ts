// Signing keys and the JWKS: several keys at once (one signs, all are published), weak keys refused,
// public keys only, cache headers and ETag, on both listeners.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { writeKey } from '../../src/keys/keygen.js';
import { loadKeySet } from '../../src/keys/keyset.js';
import { ConfigError } from '../../src/errors.js';
import { startTestGateway } from '../support/gateway.js';

const warn = () => undefined;

async function keyDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gw-keys-'));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

async function privateJwk(alg: 'ES256' | 'EdDSA' | 'RS256', kid: string): Promise<string> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  return JSON.stringify({ ...(await exportJWK(privateKey)), kid, alg });
}

describe('key set', () => {
  it('refuses several private keys of unknown age without tokens.activeKid: a key may not sign before it is published', async () => {
    const dir = await keyDir({ 'a.private.jwk.json': await privateJwk('ES256', 'zz-old'), 'b.private.jwk.json': await privateJwk('ES256', 'aa-new') });
    await expect(loadKeySet({ dir, algorithm: 'ES256', generateDevKey: false, warn })).rejects.toThrow(/2 private keys .*tokens\.activeKid is not set/);
  });

  it('keygen names keys by date: of several, the oldest signs until tokens.activeKid names another, and all are published', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gw-keys-'));
    // The newer key is written first, and its thumbprint part may sort either way: the date decides.
    const newer = await writeKey(dir, 'ES256', undefined, new Date('2026-12-04T10:00:00Z'));
    const older = await writeKey(dir, 'ES256', undefined, new Date('2026-06-01T09:30:15Z'));
    expect(older.kid).toMatch(/^20260601T093015Z-[A-Za-z0-9_-]{8}$/);
    expect(newer.kid).toMatch(/^20261204T100000Z-/);
    const ks = await loadKeySet({ dir, algorithm: 'ES256', generateDevKey: false, warn });
    expect(ks.signing.kid).toBe(older.kid);
    const jwks = JSON.parse(ks.jwks.body) as { keys: Record<string, string>[] };
    expect(jwks.keys.map((k) => k.kid).sort()).toEqual([older.kid, newer.kid].sort());
    for (const k of jwks.keys) {
      expect(k).toMatchObject({ use: 'sig', alg: 'ES256', kty: 'EC' });
      expect(k.d).toBeUndefined();
    }
    expect((await loadKeySet({ dir, algorithm: 'ES256', activeKid: newer.kid, generateDevKey: false, warn })).signing.kid).toBe(newer.kid);
  });

  it('signs with tokens.activeKid when set, so a published key can start signing later', async () => {
    const dir = await keyDir({ 'a.private.jwk.json': await privateJwk('ES256', 'old'), 'b.private.jwk.json': await privateJwk('ES256', 'new') });
    expect((await loadKeySet({ dir, algorithm: 'ES256', activeKid: 'new', generateDevKey: false, warn })).signing.kid).toBe('new');
    await expect(loadKeySet({ dir, algorithm: 'ES256', activeKid: 'nope', generateDevKey: false, warn })).rejects.toThrow(ConfigError);
  });

  it('publishes public-only keys (an old key kept until its tokens expire) without signing with them', async () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const dir = await keyDir({
      'current.private.jwk.json': await privateJwk('ES256', 'current'),
      'retired.pem': publicKey.export({ type: 'spki', format: 'pem' }) as string,
    });
    const ks = await loadKeySet({ dir, algorithm: 'ES256', generateDevKey: false, warn });
    expect(ks.signing.kid).toBe('current');
    expect((JSON.parse(ks.jwks.body) as { keys: { kid: string }[] }).keys.map((k) => k.kid).sort()).toEqual(['current', 'retired']);
  });

  it('loads PEM private keys (RS256, PS256, EdDSA)', async () => {
    for (const [alg, type] of [['RS256', 'rsa'], ['PS256', 'rsa'], ['EdDSA', 'ed25519']] as const) {
      const { privateKey } = type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519');
      const dir = await keyDir({ 'k1.pem': privateKey.export({ type: 'pkcs8', format: 'pem' }) as string });
      const ks = await loadKeySet({ dir, algorithm: alg, generateDevKey: false, warn });
      expect(ks.signing).toMatchObject({ kid: 'k1', alg });
    }
  });

  it('refuses RSA keys under 2048 bits, keys that do not fit the algorithm, and an empty directory', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const weak = await keyDir({ 'weak.pem': privateKey.export({ type: 'pkcs8', format: 'pem' }) as string });
    await expect(loadKeySet({ dir: weak, algorithm: 'RS256', generateDevKey: false, warn })).rejects.toThrow(/1024 bits is too weak/);
    const ec = await keyDir({ 'ec.private.jwk.json': await privateJwk('ES256', 'ec') });
    await expect(loadKeySet({ dir: ec, algorithm: 'RS256', generateDevKey: false, warn })).rejects.toThrow(/active key is ES256 but tokens.algorithm is RS256/);
    const empty = await keyDir({});
    await expect(loadKeySet({ dir: empty, algorithm: 'ES256', generateDevKey: false, warn })).rejects.toThrow(/no private signing key; write one with: gateway keygen/);
  });

  it('generates a development key only when asked, with a warning', async () => {
    const warnings: string[] = [];
    const ks = await loadKeySet({ dir: await keyDir({}), algorithm: 'ES256', generateDevKey: true, warn: (m) => warnings.push(m) });
    expect(ks.signing.kid).toMatch(/^dev-/);
    expect(warnings.join()).toContain('development only');
  });

  it('accepts HS256 only with a loud warning and never publishes the secret', async () => {
    const warnings: string[] = [];
    const dir = await keyDir({ 'hs.json': JSON.stringify({ kty: 'oct', k: Buffer.alloc(32, 7).toString('base64url'), kid: 'hs', alg: 'HS256' }) });
    const ks = await loadKeySet({ dir, algorithm: 'HS256', generateDevKey: false, warn: (m) => warnings.push(m) });
    expect(ks.signing.alg).toBe('HS256');
    expect(JSON.parse(ks.jwks.body)).toEqual({ keys: [] });
    expect(warnings.join()).toContain('HS256');
  });
});

describe('JWKS endpoint', () => {
  it('is served on both listeners with Cache-Control and an ETag that answers 304', async () => {
    // Without a key and without generateDevKey the gateway does not start.
    const refused = await startTestGateway({ routes: [], gateway: { tokens: { generateDevKey: false, keys: './keys' } } }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConfigError);
    const ok = await startTestGateway({ routes: [] });
    try {
      for (const base of [ok.url, ok.adminUrl]) {
        const res = await request(`${base}/.well-known/jwks.json`);
        expect(res.statusCode).toBe(200);
        expect(res.headers['cache-control']).toBe('public, max-age=300');
        expect(res.headers['content-type']).toBe('application/jwk-set+json');
        const body = (await res.body.json()) as { keys: Record<string, string>[] };
        expect(body.keys[0]).toMatchObject({ kid: expect.any(String), use: 'sig', alg: 'ES256' });
        expect(body.keys[0]?.d).toBeUndefined();
        const again = await request(`${base}/.well-known/jwks.json`, { headers: { 'if-none-match': res.headers.etag as string } });
        expect(again.statusCode).toBe(304);
        await again.body.dump();
      }
    } finally {
      await ok.stop();
    }
  });
});
