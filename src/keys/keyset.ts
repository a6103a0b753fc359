// The gateway's signing keys: loaded from a directory of PEM or JWK files at start. One key signs:
// tokens.activeKid; without it the only private key, or the oldest of several keygen-dated ones.
// Several private keys of no known age and no activeKid are refused: signing with a key upstreams
// have not fetched yet fails every verification until their JWKS caches expire. Every key is
// published in the JWKS, so a new key can be published before it signs and an old one kept until
// its tokens expire.
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { ConfigError } from '../errors.js';
import type { SigningAlgorithm } from '../jwt.js';
import { DATED_KID } from './keygen.js';

export type Algorithm = SigningAlgorithm;

export interface SigningKey {
  readonly kid: string;
  readonly alg: Algorithm;
  readonly key: CryptoKey | KeyObject | Uint8Array;
}

export interface KeySet {
  /** The key that signs now. */
  readonly signing: SigningKey;
  /** The JWKS document (public keys only) and its ETag. */
  readonly jwks: { readonly body: string; readonly etag: string };
  /** Public keys by kid, for verifying the gateway's own tokens. */
  readonly verifiers: ReadonlyMap<string, { alg: Algorithm; key: CryptoKey | KeyObject | Uint8Array }>;
}

export interface KeySetOptions {
  readonly dir: string;
  readonly algorithm: Algorithm;
  readonly activeKid?: string;
  readonly generateDevKey: boolean;
  readonly warn: (msg: string, fields?: Record<string, unknown>) => void;
}

interface Loaded {
  kid: string;
  file: string;
  alg: Algorithm;
  privateKey?: KeyObject;
  publicKey?: KeyObject;
  secret?: Uint8Array;
}

function problem(file: string, message: string): ConfigError {
  return new ConfigError([{ file: basename(file), line: 0, column: 0, path: '', message }]);
}

function algFits(alg: Algorithm, key: KeyObject): boolean {
  const t = key.asymmetricKeyType;
  if (alg === 'ES256') return t === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
  if (alg === 'EdDSA') return t === 'ed25519';
  return t === 'rsa' || (alg === 'PS256' && t === 'rsa-pss');
}

async function loadFile(file: string, defaultAlg: Algorithm): Promise<Loaded | undefined> {
  const text = await readFile(file, 'utf8');
  const name = basename(file).replace(/(\.private|\.public)?\.(jwk\.json|json|pem)$/, '');
  if (file.endsWith('.json')) {
    const jwk = JSON.parse(text) as JWK;
    const alg = (jwk.alg ?? defaultAlg) as Algorithm;
    const kid = jwk.kid ?? name;
    if (jwk.kty === 'oct') {
      if (!jwk.k) throw problem(file, 'oct key without k');
      return { kid, file, alg, secret: Buffer.from(jwk.k, 'base64url') };
    }
    const isPrivate = jwk.d !== undefined;
    const k = (await importJWK(jwk, alg, { extractable: true })) as CryptoKey;
    const keyObject = (await import('node:crypto')).KeyObject.from(k);
    return isPrivate
      ? { kid, file, alg, privateKey: keyObject, publicKey: createPublicKey(keyObject) }
      : { kid, file, alg, publicKey: keyObject };
  }
  if (file.endsWith('.pem')) {
    if (text.includes('PRIVATE KEY')) {
      const privateKey = createPrivateKey(text);
      return { kid: name, file, alg: defaultAlg, privateKey, publicKey: createPublicKey(privateKey) };
    }
    return { kid: name, file, alg: defaultAlg, publicKey: createPublicKey(text) };
  }
  return undefined;
}

export async function loadKeySet(opts: KeySetOptions): Promise<KeySet> {
  let files: string[] = [];
  try {
    files = (await readdir(opts.dir)).filter((f) => f.endsWith('.json') || f.endsWith('.pem')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const loaded: Loaded[] = [];
  for (const f of files) {
    const file = join(opts.dir, f);
    let k: Loaded | undefined;
    try {
      k = await loadFile(file, opts.algorithm);
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw problem(file, `cannot be read as a key (${(err as Error).message})`);
    }
    if (!k) continue;
    const pub = k.publicKey;
    if (pub) {
      if (!algFits(k.alg, pub)) throw problem(file, `a ${pub.asymmetricKeyType} key cannot sign ${k.alg}`);
      const bits = pub.asymmetricKeyDetails?.modulusLength;
      if (bits !== undefined && bits < 2048) throw problem(file, `RSA key of ${bits} bits is too weak; use 2048 bits or more`);
    }
    if (k.secret && k.secret.length < 32) throw problem(file, 'HS256 secret shorter than 32 bytes');
    // A signing key others on the host can read lets them mint internal tokens. Warned, not
    // refused: Kubernetes mounts Secrets 0644 unless defaultMode says otherwise.
    if (k.privateKey || k.secret) {
      const mode = (await stat(file)).mode;
      if ((mode & 0o077) !== 0) {
        opts.warn('a private signing key file is readable by group or others: chmod 600 it (Kubernetes: defaultMode: 0400)', { file, mode: (mode & 0o777).toString(8) });
      }
    }
    if (loaded.some((x) => x.kid === k.kid)) throw problem(file, `kid "${k.kid}" is used by another key file`);
    loaded.push(k);
  }

  if (!loaded.some((k) => k.privateKey || k.secret)) {
    if (!opts.generateDevKey) {
      throw problem(opts.dir, `holds no private signing key; write one with: gateway keygen --alg ${opts.algorithm} --out ${opts.dir}`);
    }
    const alg = opts.algorithm === 'HS256' ? 'ES256' : opts.algorithm;
    const { privateKey } = await generateKeyPair(alg, { extractable: true });
    const keyObject = (await import('node:crypto')).KeyObject.from(privateKey);
    const kid = `dev-${createHash('sha256').update(JSON.stringify(await exportJWK(privateKey))).digest('base64url').slice(0, 12)}`;
    loaded.push({ kid, file: '(generated)', alg, privateKey: keyObject, publicKey: createPublicKey(keyObject) });
    opts.warn('generated a signing key at start (tokens.generateDevKey): every restart invalidates issued tokens; development only', { kid });
  }

  const signers = loaded.filter((k) => k.privateKey || k.secret);
  const active = opts.activeKid ? signers.find((k) => k.kid === opts.activeKid) : defaultSigner(opts.dir, signers);
  if (!active) throw problem(opts.dir, `tokens.activeKid "${opts.activeKid}" names no private key in this directory`);
  if (active.alg !== opts.algorithm && !(opts.generateDevKey && active.file === '(generated)')) {
    throw problem(active.file, `the active key is ${active.alg} but tokens.algorithm is ${opts.algorithm}`);
  }
  if (active.alg === 'HS256') {
    opts.warn('tokens.algorithm HS256: upstreams need the shared secret to verify, and any of them can forge tokens; prefer ES256 or EdDSA');
  }

  const keys: JWK[] = [];
  const verifiers = new Map<string, { alg: Algorithm; key: CryptoKey | KeyObject | Uint8Array }>();
  for (const k of loaded) {
    if (k.secret) {
      verifiers.set(k.kid, { alg: k.alg, key: k.secret });
      continue;
    }
    if (!k.publicKey) continue;
    const jwk = await exportJWK(k.publicKey);
    keys.push({ ...jwk, kid: k.kid, use: 'sig', alg: k.alg });
    verifiers.set(k.kid, { alg: k.alg, key: k.publicKey });
  }
  const body = JSON.stringify({ keys });
  return {
    signing: { kid: active.kid, alg: active.alg, key: active.secret ?? (active.privateKey as KeyObject) },
    jwks: { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` },
    verifiers,
  };
}

/** Without tokens.activeKid: the only private key, or the oldest keygen-dated one (never a key that may not be published yet). */
function defaultSigner(dir: string, signers: Loaded[]): Loaded | undefined {
  if (signers.length <= 1) return signers[0];
  if (signers.every((k) => DATED_KID.test(k.kid))) return [...signers].sort((a, b) => (a.kid < b.kid ? -1 : 1))[0];
  throw problem(
    dir,
    `holds ${signers.length} private keys (${signers.map((k) => k.kid).join(', ')}) and tokens.activeKid is not set: ` +
      'set it to the key that signs now (a new key signs only once upstreams have fetched it; see docs/sessions.md, key rotation)',
  );
}
