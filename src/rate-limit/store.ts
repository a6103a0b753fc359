// Fixed-window counters for the sign-in rate limits (per address, per username). Counted before the
// credential check, so concurrent guesses cannot exceed a limit. The port; adapters/redis (one
// Lua script per hit, shared by every instance) and adapters/memory implement it.
import { storeUnavailable } from '../errors.js';

export interface Count {
  readonly count: number;
  /** Milliseconds until the window resets. */
  readonly resetInMs: number;
}

export interface RateLimitStore {
  /** Count one hit: the count after it and the time until the window resets. */
  hit(key: string, windowMs: number): Promise<Count>;
  /** The current count without hitting. */
  peek(key: string): Promise<Count>;
  /** Take back one hit (an attempt that should not count), never below zero; the window is kept. */
  release(key: string): Promise<void>;
  clear(key: string): Promise<void>;
}

/** How store calls went, for metrics and the rate-limited log of Redis failures. */
export type StoreCallObserver = (op: string, seconds: number, ok: boolean, err?: unknown) => void;

/** The store, timed, with a failure turned into 503 (fail closed: no sign-in without counting it). */
export function observedRateLimits(store: RateLimitStore, observe: StoreCallObserver): RateLimitStore {
  const call = async <T>(op: string, fn: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      const v = await fn();
      observe(op, (performance.now() - started) / 1000, true);
      return v;
    } catch (err) {
      observe(op, (performance.now() - started) / 1000, false, err);
      throw storeUnavailable(err);
    }
  };
  return {
    hit: (key, windowMs) => call('hit', () => store.hit(key, windowMs)),
    peek: (key) => call('peek', () => store.peek(key)),
    release: (key) => call('release', () => store.release(key)),
    clear: (key) => call('clear', () => store.clear(key)),
  };
}
