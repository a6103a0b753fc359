// A real identity provider on loopback for bearer-token tests: it serves a JWKS the tests can slow
// down, break, redirect, bloat, rotate and count, and signs tokens with its keys.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export interface IssuerKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export type JwksMode = 'ok' | 'error' | 'redirect' | 'huge' | 'malformed' | 'slow';

export interface TestIssuer {
  url: string;
  issuer: string;
  jwksUrl: string;
  server: Server;
  keys: IssuerKey[];
  /** JWKS requests served so far. */
  fetches: number;
  mode: JwksMode;
  cacheControl: string;
  /** Extra JWKs served (e.g. an `enc` key). */
  extraJwks: JWK[];
  newKey(alg?: 'RS256' | 'ES256', kid?: string): Promise<IssuerKey>;
  sign(claims: JWTPayload, opts?: { key?: IssuerKey; header?: Record<string, unknown>; exp?: number | null; aud?: string | string[]; iss?: string; iat?: number }): Promise<string>;
  close(): Promise<void>;
}

export async function startIssuer(): Promise<TestIssuer> {
  const t = { fetches: 0, mode: 'ok' as JwksMode, cacheControl: 'max-age=300', keys: [] as IssuerKey[], extraJwks: [] as JWK[] } as TestIssuer;
  const server = createServer((req, res) => {
    if (req.url !== '/jwks') {
      res.writeHead(404).end();
      return;
    }
    t.fetches++;
    const body = JSON.stringify({ keys: [...t.keys.map((k) => k.publicJwk), ...t.extraJwks] });
    switch (t.mode) {
      case 'error':
        res.writeHead(500).end('down');
        return;
      case 'redirect':
        res.writeHead(302, { location: `${t.url}/jwks-elsewhere` }).end();
        return;
      case 'huge':
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [], pad: 'x'.repeat(2 * 1024 * 1024) }));
        return;
      case 'malformed':
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys": "nope"');
        return;
      case 'slow':
        setTimeout(() => res.writeHead(200, { 'content-type': 'application/json', 'cache-control': t.cacheControl }).end(body), 300);
        return;
      default:
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': t.cacheControl }).end(body);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.issuer = `${t.url}/realm`;
  t.jwksUrl = `${t.url}/jwks`;
  t.server = server;
  t.newKey = async (alg = 'RS256', kid = `k${t.keys.length + 1}`) => {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    const key = { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
    t.keys.push(key);
    return key;
  };
  t.sign = async (claims, opts = {}) => {
    const key = opts.key ?? (t.keys[0] as IssuerKey);
    const now = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT({ ...claims })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, ...opts.header })
      .setIssuer(opts.iss ?? t.issuer)
      .setAudience(opts.aud ?? 'gateway')
      .setIssuedAt(opts.iat ?? now);
    if (opts.exp !== null) jwt.setExpirationTime(opts.exp ?? now + 300);
    return jwt.sign(key.privateKey);
  };
  t.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  await t.newKey();
  return t;
}
