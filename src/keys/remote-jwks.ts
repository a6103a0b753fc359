// An issuer's JWKS, cached: the issuer's Cache-Control max-age is honoured within [minTtl, maxTtl];
// one fetch at a time (single flight); an unknown kid causes a refetch at most once per cooldown, so a
// flood of random kids causes no flood of fetches; when the issuer is down the last good key set
// keeps serving for `staleFor`, then verification fails closed. Redirects are not followed; an
// oversized or malformed answer is refused (and the last good set kept). Symmetric keys and keys
// whose `use` or `alg` do not fit the issuer's pinned algorithms are dropped.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { request } from 'undici';
import type { Clock } from '../clock.js';

export interface JwksSettings {
  readonly minTtlMs: number;
  readonly maxTtlMs: number;
  readonly cooldownMs: number;
  readonly staleForMs: number;
  readonly timeoutMs: number;
  readonly maxBytes: number;
}

export type JwksFetchResult = 'ok' | 'error' | 'http_error' | 'too_large' | 'malformed' | 'no_signing_keys';

export interface JwksObserver {
  fetched(issuer: string, result: JwksFetchResult, seconds: number, keys: number): void;
  servedStale(issuer: string): void;
}

/** Fetches a JWKS document: status, Cache-Control and the body (bounded). Injected for tests. */
export type JwksFetch = (url: string, timeoutMs: number, maxBytes: number) => Promise<{ status: number; cacheControl: string | undefined; body: string } | 'too_large'>;

export const undiciJwksFetch: JwksFetch = async (url, timeoutMs, maxBytes) => {
  const res = await request(url, { method: 'GET', headers: { accept: 'application/json' }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
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

export class JwksUnavailableError extends Error {
  constructor(issuer: string) {
    super(`JWKS of ${issuer} unavailable`);
    this.name = 'JwksUnavailableError';
  }
}

export class NoMatchingKeyError extends Error {
  constructor() {
    super('no key in the issuer JWKS matches the token');
    this.name = 'NoMatchingKeyError';
  }
}

interface Key {
  readonly kid: string | undefined;
  readonly alg: string | undefined;
  readonly key: KeyObject;
}

interface KeySetState {
  readonly keys: readonly Key[];
  readonly fetchedAt: number;
  readonly freshUntil: number;
}

/** Whether a key's type and curve can verify `alg`. */
function fits(key: KeyObject, alg: string): boolean {
  const t = key.asymmetricKeyType;
  if (alg.startsWith('RS') || alg.startsWith('PS')) return t === 'rsa' || (alg.startsWith('PS') && t === 'rsa-pss');
  if (alg === 'EdDSA') return t === 'ed25519' || t === 'ed448';
  const curve = { ES256: 'prime256v1', ES384: 'secp384r1', ES512: 'secp521r1' }[alg];
  return t === 'ec' && key.asymmetricKeyDetails?.namedCurve === curve;
}

function maxAgeMs(cacheControl: string | undefined): number | undefined {
  const m = cacheControl ? /(?:^|,)\s*max-age=(\d+)/i.exec(cacheControl) : null;
  return m ? Number(m[1]) * 1000 : undefined;
}

export class RemoteJwks {
  private state: KeySetState | undefined;
  private inflight: Promise<boolean> | undefined;
  private lastAttemptFailedAt = -Infinity;
  private lastUnknownKidFetch = -Infinity;

  constructor(
    readonly issuer: string,
    private readonly url: string,
    private readonly algorithms: readonly string[],
    private readonly settings: JwksSettings,
    private readonly clock: Clock,
    private readonly fetch: JwksFetch,
    private readonly observe: JwksObserver,
  ) {}

  /** The key for a token header; throws NoMatchingKeyError (401) or JwksUnavailableError (503). */
  async getKey(header: { kid?: string; alg?: string }): Promise<KeyObject> {
    const alg = header.alg ?? '';
    if (!this.algorithms.includes(alg)) throw new NoMatchingKeyError();
    const now = this.clock.now();
    if (!this.state || now >= this.state.freshUntil + this.settings.staleForMs) await this.refresh(false);
    // Stale but within staleFor: serve it while one refresh runs in the background, so no request
    // waits for a slow issuer (stale-while-revalidate). Past staleFor there is nothing to serve: wait.
    else if (now >= this.state.freshUntil) void this.refresh(false).catch(() => undefined);
    let state = this.usable(now);
    let key = this.find(state, header.kid, alg);
    if (!key && now - this.lastUnknownKidFetch >= this.settings.cooldownMs) {
      this.lastUnknownKidFetch = now;
      await this.refresh(true);
      state = this.usable(this.clock.now());
      key = this.find(state, header.kid, alg);
    }
    if (!key) throw new NoMatchingKeyError();
    return key;
  }

  /** Keys currently held, for metrics and tests. */
  get keyCount(): number {
    return this.state?.keys.length ?? 0;
  }

  private usable(now: number): KeySetState {
    const s = this.state;
    if (!s || now >= s.freshUntil + this.settings.staleForMs) throw new JwksUnavailableError(this.issuer);
    if (now >= s.freshUntil) this.observe.servedStale(this.issuer);
    return s;
  }

  private find(state: KeySetState, kid: string | undefined, alg: string): KeyObject | undefined {
    const candidates = state.keys.filter((k) => (kid === undefined || k.kid === kid) && (k.alg === undefined || k.alg === alg) && fits(k.key, alg));
    // Without a kid, only an unambiguous key will do.
    if (kid === undefined && candidates.length !== 1) return undefined;
    return candidates[0]?.key;
  }

  /** Single flight: concurrent callers share one fetch. After a failure, wait a cooldown before trying again. */
  private refresh(forUnknownKid: boolean): Promise<boolean> {
    if (this.inflight) return this.inflight;
    const now = this.clock.now();
    if (!forUnknownKid && now - this.lastAttemptFailedAt < this.settings.cooldownMs) return Promise.resolve(false);
    this.inflight = this.load().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async load(): Promise<boolean> {
    const started = performance.now();
    const done = (result: JwksFetchResult) => {
      this.observe.fetched(this.issuer, result, (performance.now() - started) / 1000, this.keyCount);
      if (result !== 'ok' && result !== 'no_signing_keys') this.lastAttemptFailedAt = this.clock.now();
      return result === 'ok';
    };
    let answer: Awaited<ReturnType<JwksFetch>>;
    try {
      answer = await this.fetch(this.url, this.settings.timeoutMs, this.settings.maxBytes);
    } catch {
      return done('error');
    }
    if (answer === 'too_large') return done('too_large');
    if (answer.status !== 200) return done('http_error');
    let doc: { keys?: unknown };
    try {
      doc = JSON.parse(answer.body) as { keys?: unknown };
    } catch {
      return done('malformed');
    }
    if (!Array.isArray(doc.keys)) return done('malformed');
    const keys: Key[] = [];
    for (const jwk of doc.keys as Record<string, unknown>[]) {
      if (typeof jwk !== 'object' || jwk === null || jwk.kty === 'oct') continue;
      if (jwk.use !== undefined && jwk.use !== 'sig') continue;
      if (jwk.alg !== undefined && !this.algorithms.includes(String(jwk.alg))) continue;
      try {
        const { d: _private, ...pub } = jwk;
        keys.push({
          kid: typeof jwk.kid === 'string' ? jwk.kid : undefined,
          alg: typeof jwk.alg === 'string' ? jwk.alg : undefined,
          key: createPublicKey({ key: pub as never, format: 'jwk' }),
        });
      } catch {
        // a key that cannot be imported is skipped, not fatal for the set
      }
    }
    // A well-formed set without a key usable for signatures (only `use: enc`, only other
    // algorithms): with no good set held, that is the issuer's answer (its tokens are 401, not 503);
    // with one held, a broken publication must not wipe it, so it counts as malformed and the held
    // set keeps serving (stale-if-error).
    if (keys.length === 0 && this.state && this.state.keys.length > 0) return done('malformed');
    const now = this.clock.now();
    const ttl = Math.min(this.settings.maxTtlMs, Math.max(this.settings.minTtlMs, maxAgeMs(answer.cacheControl) ?? this.settings.minTtlMs));
    this.state = { keys, fetchedAt: now, freshUntil: now + ttl };
    return done(keys.length === 0 ? 'no_signing_keys' : 'ok');
  }
}
