// The active route table and its reload. A reload compiles a whole new table and swaps it in at
// once, so a request keeps the table it started with and never meets half of each; a file that
// does not load or compile keeps the running table. Reloads run one at a time, so two quick edits
// cannot swap tables out of order.
import type { Clock } from '../clock.js';
import { loadRoutesFile } from '../config/load.js';
import { ConfigError, formatProblem } from '../errors.js';
import type { PoolRegistry } from '../forward/pools.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/metrics.js';
import type { RouteTable } from '../routing/table.js';
import type { CompiledRoute } from './exchange.js';
import { compileRoutes, originsOf, type CompileOptions } from './route.js';

export interface RouteReloadDeps {
  readonly routesFile: string;
  readonly env: NodeJS.ProcessEnv;
  readonly compileOptions: CompileOptions;
  readonly pools: PoolRegistry;
  /** shutdown.drainTimeout: how long requests on the old table may still use its origins' pools. */
  readonly drainTimeoutMs: number;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly clock: Clock;
}

export class ActiveRoutes {
  private reloading: Promise<boolean> = Promise.resolve(true);

  constructor(
    /** Read by every request; replaced as a whole. */
    public current: RouteTable<CompiledRoute>,
    private readonly deps: RouteReloadDeps,
  ) {
    this.recordSuccess();
  }

  /** Reload the routes file; answers whether the new table is active. */
  reload(): Promise<boolean> {
    return (this.reloading = this.reloading.then(() => this.reloadOnce()));
  }

  private recordSuccess(): void {
    this.deps.metrics.configLastReloadSuccess.set(this.deps.clock.now() / 1000);
    this.deps.metrics.routes.set(this.current.routes.length);
  }

  private async reloadOnce(): Promise<boolean> {
    const { routesFile, metrics, logger } = this.deps;
    try {
      const file = await loadRoutesFile(routesFile, this.deps.env);
      // A file emptied by accident (truncated, half-written) would answer 404 for everything, or,
      // more dangerously, drop protected routes: an empty table replaces a running one only on purpose.
      if (file.routes.length === 0 && this.current.routes.length > 0 && !file.allowEmpty) {
        throw new ConfigError([{ file: routesFile, line: 0, column: 0, path: 'routes', message: 'is empty; write allowEmpty: true to mean it (the running table is kept)' }]);
      }
      this.current = compileRoutes(file.routes, this.deps.compileOptions);
      metrics.configReloads.labels('success').inc();
      this.recordSuccess();
      logger.info({ file: routesFile, routes: this.current.routes.length }, 'routes reloaded');
      // Requests that resolved on the old table may still be on their way to an origin that is
      // gone from the new one: close unused pools only after the drain time.
      setTimeout(() => void this.deps.pools.retain(originsOf(this.current)), this.deps.drainTimeoutMs).unref();
      return true;
    } catch (err) {
      metrics.configReloads.labels('failure').inc();
      const problems = err instanceof ConfigError ? err.problems.map(formatProblem) : [String(err)];
      logger.error({ file: routesFile, problems }, 'routes reload failed; keeping the previous table');
      return false;
    }
  }
}
