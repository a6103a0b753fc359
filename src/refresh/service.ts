// The gateway's own tokens (the hybrid pattern): a short-lived access JWT verified on every request
// without Redis, and an opaque refresh token rotated on every use.
import { createCipheriv, createDecipheriv, hash, randomBytes } from 'node:crypto';
import { GatewayError, storeUnavailable } from '../errors.js';
import type { ClaimsRefresh } from '../sessions/claims-refresh.js';
import type { Clock } from '../clock.js';
import type { RefreshStore } from './store.js';

export interface TokenResponse {
  readonly access_token: string;
  readonly token_type: 'Bearer';
  readonly expires_in: number;
  readonly refresh_token: string;
}

export interface RefreshSettings {
  readonly idleMs: number;
  readonly absoluteMs: number;
  readonly graceMs: number;
  /** Live families per user; issuing one more revokes the oldest (accessTokens.refresh.maxFamiliesPerUser). */
  readonly maxFamiliesPerUser: number;
}

export interface RefreshObserver {
  rotated(): void;
  reuseDetected(): void;
  familiesRevoked(reason: string, count: number): void;
}

/** Signs the gateway's access tokens; iat honours the user's not-before time. */
export type AccessTokenSigner = (sub: string, claims: Readonly<Record<string, unknown>>, familyId: string) => Promise<{ token: string; expiresIn: number }>;

const TOKEN = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;

function tokenHash(token: string): string {
  return hash('sha256', token, 'base64url');
}

/** The retry answer is stored encrypted with a key derived from the presented token: Redis alone cannot read it. */
function seal(plain: string, token: string): string {
  const key = Buffer.from(hash('sha256', `refresh-grace\0${token}`, 'hex'), 'hex');
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), body]).toString('base64');
}

function open(sealed: string, token: string): string {
  const raw = Buffer.from(sealed, 'base64');
  const key = Buffer.from(hash('sha256', `refresh-grace\0${token}`, 'hex'), 'hex');
  const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
  d.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
}

export class RefreshService {
  constructor(
    private readonly store: RefreshStore,
    private readonly sign: AccessTokenSigner,
    private readonly clock: Clock,
    private readonly settings: RefreshSettings,
    private readonly observe: RefreshObserver,
    private readonly onReuse: (sub: string) => void,
    /** login.claimsUrl: each rotation signs the claims the source holds now (claims-refresh.ts). */
    private readonly claimsRefresh?: ClaimsRefresh,
  ) {}

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      throw storeUnavailable(err);
    }
  }

  /** A new family for a user who just proved their credentials. */
  async issue(sub: string, claims: Readonly<Record<string, unknown>>): Promise<TokenResponse> {
    const familyId = randomBytes(16).toString('base64url');
    const refresh = `${familyId}.${randomBytes(32).toString('base64url')}`;
    const now = this.clock.now();
    await this.call(() =>
      this.store.create({ familyId, sub, claims, createdAt: now, expiresAt: now + this.settings.absoluteMs }, tokenHash(refresh), this.settings.idleMs),
    );
    // One account cannot fill Redis with families: beyond the cap the oldest are revoked.
    const trimmed = await this.call(() => this.store.trimUser(sub, this.settings.maxFamiliesPerUser, now, this.settings.idleMs));
    if (trimmed > 0) this.observe.familiesRevoked('family_cap', trimmed);
    const access = await this.sign(sub, claims, familyId);
    return { access_token: access.token, token_type: 'Bearer', expires_in: access.expiresIn, refresh_token: refresh };
  }

  /** Rotate: a new pair for the current token, the same pair again within the grace window, or invalid_grant. */
  async refresh(token: string): Promise<TokenResponse> {
    const m = TOKEN.exec(token);
    if (!m) throw new GatewayError('invalid_grant', { detail: 'not a refresh token' });
    const familyId = m[1] as string;
    // Who the family belongs to never changes, so the new pair can be made before the atomic step
    // and stored with it: a concurrent or retried request then gets exactly this answer.
    const family = await this.call(() => this.store.family(familyId));
    if (!family) throw new GatewayError('invalid_grant');
    const claims = await this.currentClaims(family.sub, family.claims);
    const next = `${familyId}.${randomBytes(32).toString('base64url')}`;
    const access = await this.sign(family.sub, claims, familyId);
    const response: TokenResponse = { access_token: access.token, token_type: 'Bearer', expires_in: access.expiresIn, refresh_token: next };
    const result = await this.call(() =>
      this.store.rotate(familyId, tokenHash(token), tokenHash(next), seal(JSON.stringify(response), token), this.clock.now(), this.settings.graceMs, this.settings.idleMs),
    );
    switch (result.kind) {
      case 'rotated':
        this.observe.rotated();
        return response;
      case 'grace':
        return JSON.parse(open(result.payload, token)) as TokenResponse;
      case 'reuse':
        this.observe.reuseDetected();
        this.observe.familiesRevoked('reuse', 1);
        this.onReuse(result.sub);
        throw new GatewayError('invalid_grant', { detail: 'refresh token reuse: family revoked' });
      default:
        throw new GatewayError('invalid_grant');
    }
  }

  /** The claims to sign: the source's current ones when it answers; a user it no longer knows is revoked. */
  private async currentClaims(sub: string, held: Readonly<Record<string, unknown>>): Promise<Readonly<Record<string, unknown>>> {
    if (!this.claimsRefresh) return held;
    const answer = await this.claimsRefresh.lookup(sub);
    if (answer.kind === 'unknown') {
      await this.claimsRefresh.unknownUser(sub);
      throw new GatewayError('invalid_grant', { detail: 'user unknown to the claims source' });
    }
    return answer.kind === 'claims' ? answer.claims : held;
  }

  async revokeUser(sub: string, reason: string): Promise<number> {
    const n = await this.call(() => this.store.revokeUser(sub));
    this.observe.familiesRevoked(reason, n);
    return n;
  }
}
