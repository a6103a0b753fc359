// GET /.well-known/jwks.json on both listeners: the public keys upstreams verify internal tokens
// with. Cacheable for 5 minutes with an ETag: publish a new key at least that long before it signs.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KeySet } from '../keys/keyset.js';

export const JWKS_PATH = '/.well-known/jwks.json';
/** How long upstreams may cache the key set: the rotation guide's first wait (docs/sessions.md). */
export const JWKS_MAX_AGE_S = 300;

export function serveJwks(keys: KeySet, req: IncomingMessage, res: ServerResponse): void {
  const { body, etag } = keys.jwks;
  const headers = { etag, 'cache-control': `public, max-age=${JWKS_MAX_AGE_S}`, 'content-type': 'application/jwk-set+json' };
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': Buffer.byteLength(body) });
  res.end(req.method === 'HEAD' ? undefined : body);
}
