// The targets of one route: round robin, and a target that refused a connection is ejected for a
// while (passive health checking, as Envoy's outlier detection does), so one dead instance does
// not fail a share of every request.
import type { Pool } from 'undici';
import type { UpstreamTls } from './pools.js';
import type { Clock } from '../clock.js';

export interface UpstreamTarget {
  /** `http://host:port`: the pool key and the access-log value. */
  readonly origin: string;
  /** Path of the configured URL without its trailing slash ('' for none), prefixed to every request. */
  readonly basePath: string;
  /** Host header sent when the route does not preserve the client's. */
  readonly host: string;
  readonly pool: Pool;
  /** The pool's key in the registry (origin and TLS settings). */
  readonly poolKey: string;
  /** TLS settings for https:// (WebSocket upgrades use them too); undefined: the defaults. */
  readonly tls: UpstreamTls | undefined;
  /** Whether the connection is TLS, for WebSocket proxying. */
  readonly secure: boolean;
}

export class UpstreamGroup {
  private next = 0;
  private readonly ejectedUntil: number[];

  constructor(
    readonly targets: readonly UpstreamTarget[],
    private readonly clock: Clock,
    private readonly ejectForMs: number,
  ) {
    this.ejectedUntil = targets.map(() => 0);
  }

  /** The next healthy target; when all are ejected, the one whose ejection ends first. */
  pick(exclude?: UpstreamTarget): UpstreamTarget {
    const n = this.targets.length;
    if (n === 1) return this.targets[0] as UpstreamTarget;
    const now = this.clock.now();
    let soonest = 0;
    for (let i = 0; i < n; i++) {
      const idx = (this.next + i) % n;
      const t = this.targets[idx] as UpstreamTarget;
      if (t !== exclude && (this.ejectedUntil[idx] as number) <= now) {
        this.next = (idx + 1) % n;
        return t;
      }
      if ((this.ejectedUntil[idx] as number) < (this.ejectedUntil[soonest] as number)) soonest = idx;
    }
    return this.targets[soonest] as UpstreamTarget;
  }

  eject(target: UpstreamTarget): void {
    const idx = this.targets.indexOf(target);
    if (idx !== -1) this.ejectedUntil[idx] = this.clock.now() + this.ejectForMs;
  }

  /** Whether another target could serve a retry. */
  get size(): number {
    return this.targets.length;
  }
}
