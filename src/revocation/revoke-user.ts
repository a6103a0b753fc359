// Revoking a user, everywhere and at once: every refresh family, a not-before time that ends the
// access tokens already issued (on every instance, without a Redis call per request), then every
// session with one invalidation all instances apply. The order matters: families first, so no
// refresh can mint a token after the not-before time; sessions last, with the same time, so the
// invalidation carries it to every instance's map.
import type { Clock } from '../clock.js';
import { storeUnavailable } from '../errors.js';

export interface UserRevocationDeps {
  readonly families: { revokeUser(sub: string, reason: string): Promise<unknown> };
  readonly notBefore: { revoke(sub: string, atMs: number): Promise<void> };
  /** Answers how many sessions were ended. */
  readonly sessions: { revokeUser(sub: string, reason: string, notBefore?: number): Promise<number> };
  readonly clock: Clock;
}

export type RevokeUser = (sub: string, reason: string) => Promise<number>;

export function userRevoker(deps: UserRevocationDeps): RevokeUser {
  return async (sub, reason) => {
    const at = deps.clock.now();
    await deps.families.revokeUser(sub, reason);
    try {
      await deps.notBefore.revoke(sub, at);
    } catch (err) {
      throw storeUnavailable(err);
    }
    return deps.sessions.revokeUser(sub, reason, at);
  };
}
