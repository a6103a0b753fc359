// How a JWKS document is fetched: one GET, no redirects followed (undici's request does not follow
// them), the body read only up to maxBytes (a declared or actual larger answer is dropped unread).
// Injected, so tests can answer without a network.
import { request, type Dispatcher } from 'undici';

/** Fetches a JWKS document: status, Cache-Control and the body (bounded). Injected for tests. */
export type JwksFetch = (url: string, timeoutMs: number, maxBytes: number) => Promise<{ status: number; cacheControl: string | undefined; body: string } | 'too_large'>;

/** `dispatcher`: the gateway's outbound TLS settings (outboundTls.caFile), or undici's default. */
export const undiciJwksFetch = (dispatcher?: Dispatcher): JwksFetch => async (url, timeoutMs, maxBytes) => {
  const res = await request(url, { method: 'GET', headers: { accept: 'application/json' }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, ...(dispatcher ? { dispatcher } : {}) });
  const declared = Number(res.headers['content-length'] ?? 0);
  if (declared > maxBytes) {
    res.body.destroy();
    return 'too_large';
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      res.body.destroy();
      return 'too_large';
    }
    chunks.push(chunk as Buffer);
  }
  const cc = res.headers['cache-control'];
  return { status: res.statusCode, cacheControl: Array.isArray(cc) ? cc.join(',') : cc, body: Buffer.concat(chunks).toString('utf8') };
};
