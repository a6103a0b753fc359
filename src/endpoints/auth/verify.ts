// The credential check: the gateway never stores passwords; it asks the legacy backend's
// verification endpoint (login.verifyUrl), which answers 200 {"sub", "claims"} or 401.
import { request, type Dispatcher } from 'undici';
import type { ClaimsAnswer } from '../../sessions/claims-refresh.js';

export type VerifyResult = { ok: true; sub: string; claims: Record<string, unknown> } | { ok: false; reason: 'invalid' | 'unavailable' };

export type VerifyCredentials = (username: string, password: string) => Promise<VerifyResult>;

export function httpCredentialCheck(verifyUrl: string | undefined, timeoutMs: number, dispatcher?: Dispatcher): VerifyCredentials {
  return async (username, password) => {
    if (!verifyUrl) return { ok: false, reason: 'unavailable' };
    try {
      const res = await request(verifyUrl, {
        ...(dispatcher ? { dispatcher } : {}),
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ username, password }),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        maxRedirections: 0,
      } as Parameters<typeof request>[1]);
      if (res.statusCode === 401 || res.statusCode === 403) {
        await res.body.dump();
        return { ok: false, reason: 'invalid' };
      }
      if (res.statusCode !== 200) {
        await res.body.dump();
        return { ok: false, reason: 'unavailable' };
      }
      const body = (await res.body.json()) as { sub?: unknown; claims?: unknown };
      if (typeof body.sub !== 'string' || body.sub.length === 0 || body.sub.length > 256) return { ok: false, reason: 'unavailable' };
      const claims = typeof body.claims === 'object' && body.claims !== null && !Array.isArray(body.claims) ? (body.claims as Record<string, unknown>) : {};
      return { ok: true, sub: body.sub, claims };
    } catch {
      return { ok: false, reason: 'unavailable' };
    }
  };
}

/**
 * login.claimsUrl: the gateway POSTs `{"sub"}` as JSON and expects `200 {"claims": {...}}`, or, for
 * a user the source no longer knows, `410` or `404 {"error": "unknown_user"}`. Anything else (or no
 * answer in time) is unavailable.
 */
export function httpClaimsLookup(claimsUrl: string, timeoutMs: number, dispatcher?: Dispatcher): (sub: string) => Promise<ClaimsAnswer> {
  return async (sub) => {
    try {
      const res = await request(claimsUrl, {
        ...(dispatcher ? { dispatcher } : {}),
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ sub }),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      // Only an explicit answer revokes: a bare 404 page (a wrong path, a missing ingress route, a
      // source mid-deploy) must not end every user's sessions.
      if (res.statusCode === 410 || res.statusCode === 404) {
        const text = await res.body.text();
        if (res.statusCode === 410 || /"error"\s*:\s*"unknown_user"/.test(text)) return { kind: 'unknown' };
        return { kind: 'unavailable' };
      }
      if (res.statusCode !== 200) {
        await res.body.dump();
        return { kind: 'unavailable' };
      }
      const body = (await res.body.json()) as { claims?: unknown };
      const claims = body.claims;
      if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) return { kind: 'unavailable' };
      return { kind: 'claims', claims: claims as Record<string, unknown> };
    } catch {
      return { kind: 'unavailable' };
    }
  };
}
