// What OpenID Connect sign-in keeps between requests, on every instance alike: the state of a sign-in
// under way (one use only), the logout tokens already applied (a replayed one is refused), and which
// user a provider's session id belongs to (a back-channel logout may name only the `sid`). The port;
// adapters/redis and adapters/memory implement it. Keys are chosen by the caller, already hashed
// where they come from outside.
import { storeUnavailable } from '../errors.js';

export interface IdpStore {
  /** Keep a sign-in's state for ttlMs. */
  putFlow(id: string, value: string, ttlMs: number): Promise<void>;
  /** The state kept under `id`, removed in the same step: a second take of one id gets nothing. */
  takeFlow(id: string): Promise<string | undefined>;
  /** Remember `key` for ttlMs; false when it was already remembered (a replay). */
  claimOnce(key: string, ttlMs: number): Promise<boolean>;
  /** The gateway user a provider session belongs to, kept as long as sessions live. */
  linkSession(key: string, sub: string, ttlMs: number): Promise<void>;
  userOfSession(key: string): Promise<string | undefined>;
}

/** The store with every failure turned into 503: no sign-in, no logout decision on a guess. */
export function failClosed(store: IdpStore): IdpStore {
  const call = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw storeUnavailable(err);
    }
  };
  return {
    putFlow: (id, value, ttl) => call(() => store.putFlow(id, value, ttl)),
    takeFlow: (id) => call(() => store.takeFlow(id)),
    claimOnce: (key, ttl) => call(() => store.claimOnce(key, ttl)),
    linkSession: (key, sub, ttl) => call(() => store.linkSession(key, sub, ttl)),
    userOfSession: (key) => call(() => store.userOfSession(key)),
  };
}
