// One undici Pool per upstream origin (and TLS settings), shared by every route (and every route
// table) that sends there, so keep-alive connections survive a routes reload. https:// upstreams
// are verified against the system CAs unless a route names its own CA bundle; turning
// verification off is a route's explicit, logged choice.
import { createHash } from 'node:crypto';
import { Pool } from 'undici';

/** How the gateway speaks TLS to one upstream (upstream.tls of a route, files read at load). */
export interface UpstreamTls {
  /** PEM CA bundle the upstream's certificate must chain to, instead of the system CAs. */
  readonly ca?: Buffer;
  /** SNI and the name the certificate must carry; default: the upstream URL's host. */
  readonly servername?: string;
  /** Client certificate and key (mTLS). */
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** false only with upstream.tls.insecureSkipVerify. */
  readonly rejectUnauthorized: boolean;
}

/** The pool key: the origin, and a digest of the TLS settings when there are any. */
export function poolKey(origin: string, tls: UpstreamTls | undefined): string {
  if (!tls) return origin;
  const h = createHash('sha256');
  for (const part of [tls.ca, tls.servername, tls.cert, tls.key, String(tls.rejectUnauthorized)]) h.update(part ?? '').update('\0');
  return `${origin}#${h.digest('base64url').slice(0, 16)}`;
}

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

  get(origin: string, tls?: UpstreamTls): Pool {
    const key = poolKey(origin, tls);
    let pool = this.pools.get(key);
    if (!pool) {
      pool = new Pool(origin, {
        connections: this.settings.connections,
        keepAliveTimeout: this.settings.keepAliveTimeoutMs,
        keepAliveMaxTimeout: Math.max(this.settings.keepAliveTimeoutMs, 600_000),
        connect: { timeout: this.settings.connectTimeoutMs, ...(tls ?? {}) },
      });
      this.pools.set(key, pool);
    }
    return pool;
  }

  /** Close (gracefully: queued requests finish) the pools no longer in use (keys from poolKey). */
  async retain(keys: ReadonlySet<string>): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const [key, pool] of this.pools) {
      if (!keys.has(key)) {
        this.pools.delete(key);
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
