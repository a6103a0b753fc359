// Refresh-token families. A token is `<familyId>.<256 random bits>`; only sha256(token) is stored.
// Rotation is one atomic step: the presented token must be the family's current one; it is marked
// used, its successor becomes current. A token used a second time is a theft signal and revokes
// the whole family, except for the immediate predecessor of an unused successor within the grace
// window, which gets the same answer again (stored encrypted under a key only the presented token
// derives). The port; adapters/redis and adapters/memory implement it.

export interface Family {
  readonly familyId: string;
  readonly sub: string;
  readonly claims: Readonly<Record<string, unknown>>;
  readonly createdAt: number;
  readonly expiresAt: number;
}

export type RotateResult =
  | { kind: 'rotated' }
  | { kind: 'grace'; payload: string }
  | { kind: 'reuse'; sub: string }
  | { kind: 'invalid' };

export interface RefreshStore {
  create(family: Family, tokenHash: string, idleMs: number): Promise<void>;
  /** The family's owner and claims (immutable), or undefined when it does not exist or is revoked. */
  family(familyId: string): Promise<Pick<Family, 'sub' | 'claims'> | undefined>;
  /**
   * Atomically rotate `oldHash` → `newHash`, keeping `payload` for a retry within `graceMs`. `now`
   * is the caller's clock, used where there is no shared one (the memory store); the Redis store
   * decides by Redis's own TIME.
   */
  rotate(familyId: string, oldHash: string, newHash: string, payload: string, now: number, graceMs: number, idleMs: number): Promise<RotateResult>;
  /** Revoke every family of a user; answers how many. */
  revokeUser(sub: string): Promise<number>;
  /**
   * Keep the user's `max` newest live families and revoke the older ones (answers how many); ended
   * families (revoked, expired, idle) leave the user's index.
   */
  trimUser(sub: string, max: number, now: number, idleMs: number): Promise<number>;
}

export function live(f: { revoked: boolean; expiresAt: number; lastUsedAt: number }, now: number, idleMs: number): boolean {
  return !f.revoked && now < f.expiresAt && now - f.lastUsedAt < idleMs;
}
