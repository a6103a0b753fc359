// `gateway keygen`: a new private signing key as a JWK file, with kid, alg and use set, readable
// only by its owner. The key set that loads these files comes with the token exchange.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';

export const SIGNING_ALGORITHMS = ['ES256', 'EdDSA', 'RS256', 'PS256'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

export async function writeKey(dir: string, alg: SigningAlgorithm, kid?: string): Promise<{ file: string; kid: string; alg: string }> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, modulusLength: 3072, crv: alg === 'EdDSA' ? 'Ed25519' : undefined });
  const jwk = await exportJWK(privateKey);
  const id = kid ?? (await calculateJwkThumbprint(jwk)).slice(0, 16);
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) throw new Error('--kid must be 1-64 letters, digits, ".", "_" or "-"');
  const file = join(dir, `${id}.private.jwk.json`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(file, JSON.stringify({ ...jwk, kid: id, alg, use: 'sig' }, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  return { file, kid: id, alg };
}
