// Rate-limit counters in process (development): one instance's count only.
import type { Clock } from '../../clock.js';
import type { Count, RateLimitStore } from '../../rate-limit/store.js';

interface Counter {
  value: number;
  expiresAt: number;
}

export class MemoryRateLimitStore implements RateLimitStore {
  private readonly counters = new Map<string, Counter>();

  constructor(private readonly clock: Clock) {}

  private live(key: string): Counter | undefined {
    const e = this.counters.get(key);
    if (e && e.expiresAt <= this.clock.now()) {
      this.counters.delete(key);
      return undefined;
    }
    return e;
  }

  async hit(key: string, windowMs: number): Promise<Count> {
    const now = this.clock.now();
    const e = this.live(key) ?? { value: 0, expiresAt: now + windowMs };
    e.value++;
    this.counters.set(key, e);
    return { count: e.value, resetInMs: e.expiresAt - now };
  }

  async peek(key: string): Promise<Count> {
    const e = this.live(key);
    return e ? { count: e.value, resetInMs: e.expiresAt - this.clock.now() } : { count: 0, resetInMs: 0 };
  }

  async release(key: string): Promise<void> {
    const e = this.live(key);
    if (e && e.value > 1) e.value--;
    else this.counters.delete(key);
  }

  async clear(key: string): Promise<void> {
    this.counters.delete(key);
  }
}
