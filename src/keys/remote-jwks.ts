// An issuer's JWKS, cached. Not jose's createRemoteJWKSet, which lacks what we need: past its
// cacheMaxAge every request waits for a refetch and fails while the issuer is down (no
// stale-while-revalidate, no stale-if-error); one fixed cacheMaxAge, never the issuer's
// Cache-Control max-age; no cap on the answer's size; Date.now(), not an injected clock; no hook
// for fetch outcomes (metrics); no cooldown after a failed fetch; and any well-formed answer
// replaces the held set, even one without a key for signatures. So fetching and caching are ours:
// max-age within [minTtl, maxTtl], one fetch at a time, a refetch for an unknown kid at most once
// per cooldown (a flood of random kids is no flood of fetches), the last good set served for
// `staleFor` while the issuer is down (then fail closed), no redirects, oversized or malformed
// answers refused with the last good set kept. Key SELECTION is jose's: each document becomes a
// createLocalJWKSet (kid, alg, kty, crv, use, key_ops). Keys jose must never be asked for
// (symmetric, `use` other than sig, an `alg` outside the pinned list, not importable) are dropped
// first, so the key count and the "no signing keys" answer count usable keys only.
import { createPublicKey } from 'node:crypto';
import { createLocalJWKSet, errors as joseErrors, type CryptoKey, type FlattenedJWSInput, type JSONWebKeySet, type JWK, type JWSHeaderParameters } from 'jose';
import type { Clock } from '../clock.js';
import type { JwksFetch } from './jwks-fetch.js';

// The fetch lives next door; its importers know it from here.
export { undiciJwksFetch, type JwksFetch } from './jwks-fetch.js';

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

export class JwksUnavailableError extends Error {
  constructor(issuer: string) {
    super(`JWKS of ${issuer} unavailable`);
    this.name = 'JwksUnavailableError';
  }
}

/** No key, or (a token without kid) more than one: either way no key this set vouches for. */
export class NoMatchingKeyError extends Error {
  constructor() {
    super('no key in the issuer JWKS matches the token');
    this.name = 'NoMatchingKeyError';
  }
}

interface KeySetState {
  readonly select: ReturnType<typeof createLocalJWKSet>;
  readonly keyCount: number;
  readonly freshUntil: number;
}

/** Members that make a JWK private: a set that carries them is still read for its public part. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

function maxAgeMs(cacheControl: string | undefined): number | undefined {
  const m = cacheControl ? /(?:^|,)\s*max-age=(\d+)/i.exec(cacheControl) : null;
  return m ? Number(m[1]) * 1000 : undefined;
}

/** The keys of a document that may verify one of `algorithms`, public members only. */
function signingKeys(keys: readonly unknown[], algorithms: readonly string[]): JWK[] {
  return keys.flatMap((jwk) => {
    if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return [];
    const k = jwk as Record<string, unknown>;
    if (k.kty === 'oct' || (k.use !== undefined && k.use !== 'sig') || (k.alg !== undefined && !algorithms.includes(String(k.alg)))) return [];
    const pub = Object.fromEntries(Object.entries(k).filter(([name]) => !PRIVATE_MEMBERS.includes(name))) as JWK;
    try {
      createPublicKey({ key: pub as never, format: 'jwk' });
      return [pub];
    } catch {
      return []; // a key that cannot be imported is skipped, not fatal for the set
    }
  });
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

  /**
   * The key resolver for jwtVerify; throws NoMatchingKeyError (401) or JwksUnavailableError (503).
   * jwtVerify refuses an algorithm outside its `algorithms` option before it asks; refused here
   * too, so this set never vouches for an algorithm its issuer is not pinned to, whoever asks.
   */
  async getKey(header: JWSHeaderParameters, token?: FlattenedJWSInput): Promise<CryptoKey> {
    if (!this.algorithms.includes(header.alg ?? '')) throw new NoMatchingKeyError();
    const now = this.clock.now();
    if (!this.state || now >= this.state.freshUntil + this.settings.staleForMs) await this.refresh(false);
    // Stale but within staleFor: serve it while one refresh runs in the background, so no request
    // waits for a slow issuer (stale-while-revalidate). Past staleFor there is nothing to serve: wait.
    else if (now >= this.state.freshUntil) void this.refresh(false).catch(() => undefined);
    const key = await this.select(this.usable(now), header, token);
    if (key) return key;
    if (now - this.lastUnknownKidFetch < this.settings.cooldownMs) throw new NoMatchingKeyError();
    this.lastUnknownKidFetch = now;
    await this.refresh(true);
    const again = await this.select(this.usable(this.clock.now()), header, token);
    if (!again) throw new NoMatchingKeyError();
    return again;
  }

  /** Keys currently held, for metrics and tests. */
  get keyCount(): number {
    return this.state?.keyCount ?? 0;
  }

  private usable(now: number): KeySetState {
    const s = this.state;
    if (!s || now >= s.freshUntil + this.settings.staleForMs) throw new JwksUnavailableError(this.issuer);
    if (now >= s.freshUntil) this.observe.servedStale(this.issuer);
    return s;
  }

  /** undefined: no key for this header (jose: none, or several for a token without kid). */
  private async select(state: KeySetState, header: JWSHeaderParameters, token: FlattenedJWSInput | undefined): Promise<CryptoKey | undefined> {
    try {
      return await state.select(header, token);
    } catch (err) {
      if (err instanceof joseErrors.JWKSNoMatchingKey || err instanceof joseErrors.JWKSMultipleMatchingKeys) return undefined;
      throw err;
    }
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
    if (typeof doc !== 'object' || doc === null || !Array.isArray(doc.keys)) return done('malformed');
    const keys = signingKeys(doc.keys, this.algorithms);
    // A well-formed set without a key usable for signatures (only `use: enc`, only other
    // algorithms): with no good set held, that is the issuer's answer (its tokens are 401, not 503);
    // with one held, a broken publication must not wipe it, so it counts as malformed and the held
    // set keeps serving (stale-if-error).
    if (keys.length === 0 && this.state && this.state.keyCount > 0) return done('malformed');
    let select: KeySetState['select'];
    try {
      select = createLocalJWKSet({ keys } satisfies JSONWebKeySet);
    } catch {
      return done('malformed'); // jose refused the set as a whole
    }
    const now = this.clock.now();
    const ttl = Math.min(this.settings.maxTtlMs, Math.max(this.settings.minTtlMs, maxAgeMs(answer.cacheControl) ?? this.settings.minTtlMs));
    this.state = { select, keyCount: keys.length, freshUntil: now + ttl };
    return done(keys.length === 0 ? 'no_signing_keys' : 'ok');
  }
}
