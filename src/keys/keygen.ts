// `gateway keygen`: a new private signing key as a JWK file, with kid, alg and use set, readable
// only by its owner. The key set that loads these files comes with the token exchange.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import type { KeygenAlgorithm } from '../jwt.js';


/**
 * A kid that says when the key was made (`20261204T213000Z-<8 of the thumbprint>`): keys written by
 * keygen sort by age, which is how the key set picks its signer without tokens.activeKid (the
 * oldest), so a new key is published before it ever signs.
 */
export const DATED_KID = /^\d{8}T\d{6}Z-[A-Za-z0-9_-]{8}$/;

export function datedKid(at: Date, thumbprint: string): string {
  return `${at.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z')}-${thumbprint.slice(0, 8)}`;
}

export async function writeKey(dir: string, alg: KeygenAlgorithm, kid?: string, now = new Date()): Promise<{ file: string; kid: string; alg: string }> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, modulusLength: 3072, crv: alg === 'EdDSA' ? 'Ed25519' : undefined });
  const jwk = await exportJWK(privateKey);
  const id = kid ?? datedKid(now, await calculateJwkThumbprint(jwk));
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) throw new Error('--kid must be 1-64 letters, digits, ".", "_" or "-"');
  const file = join(dir, `${id}.private.jwk.json`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(file, JSON.stringify({ ...jwk, kid: id, alg, use: 'sig' }, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  return { file, kid: id, alg };
}
