// One undici Pool per upstream origin, shared by every route (and every route table) that sends
// there, so keep-alive connections survive a routes reload.
import { Pool } from 'undici';

export interface PoolSettings {
  /** Most connections per origin. */
  readonly connections: number;
  readonly connectTimeoutMs: number;
  /** How long an idle keep-alive connection is kept (capped by the upstream's Keep-Alive hint). */
  readonly keepAliveTimeoutMs: number;
}

export class PoolRegistry {
  private readonly pools = new Map<string, Pool>();

  constructor(private readonly settings: PoolSettings) {}

  get(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: this.settings.connections,
        keepAliveTimeout: this.settings.keepAliveTimeoutMs,
        keepAliveMaxTimeout: Math.max(this.settings.keepAliveTimeoutMs, 600_000),
        connect: { timeout: this.settings.connectTimeoutMs },
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  /** Close (gracefully: queued requests finish) the pools of origins no longer in use. */
  async retain(origins: ReadonlySet<string>): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const [origin, pool] of this.pools) {
      if (!origins.has(origin)) {
        this.pools.delete(origin);
        closing.push(pool.close());
      }
    }
    await Promise.all(closing);
  }

  async close(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((p) => p.destroy()));
  }
}
