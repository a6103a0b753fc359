// OpenID Connect sign-in state in process memory: one instance only (development, tests).
import type { Clock } from '../../clock.js';
import type { IdpStore } from '../../sessions/idp-store.js';

export class MemoryIdpStore implements IdpStore {
  private readonly entries = new Map<string, { value: string; until: number }>();

  constructor(private readonly clock: Clock) {}

  private get(key: string): string | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.until <= this.clock.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  private set(key: string, value: string, ttlMs: number): void {
    this.entries.set(key, { value, until: this.clock.now() + ttlMs });
  }

  async putFlow(id: string, value: string, ttlMs: number): Promise<void> {
    this.set(`f:${id}`, value, ttlMs);
  }

  async takeFlow(id: string): Promise<string | undefined> {
    const v = this.get(`f:${id}`);
    this.entries.delete(`f:${id}`);
    return v;
  }

  async claimOnce(key: string, ttlMs: number): Promise<boolean> {
    if (this.get(`j:${key}`) !== undefined) return false;
    this.set(`j:${key}`, '1', ttlMs);
    return true;
  }

  async linkSession(key: string, sub: string, ttlMs: number): Promise<void> {
    this.set(`s:${key}`, sub, ttlMs);
  }

  async userOfSession(key: string): Promise<string | undefined> {
    return this.get(`s:${key}`);
  }
}
