// Time is injected everywhere it decides something (expiry, idle timeouts, ejection windows), so
// tests move it instead of sleeping.
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
