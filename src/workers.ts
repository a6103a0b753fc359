// `workers: N | auto`: N gateway processes on one host, sharing the listeners through Node's
// cluster module (the primary accepts and hands connections out in turn). Each worker is a whole
// gateway with its own caches, on the same Redis and invalidation channel, so a revocation reaches
// every process at once as it reaches every instance. The primary serves nothing itself: it starts
// the workers, replaces one that dies (with a backoff, so a crash loop does not spin), passes
// SIGTERM (drain), SIGINT and SIGHUP (reload) on, and answers the workers' requests for the host's
// metrics, summed over every worker by prom-client's AggregatorRegistry (one scrape of any worker's
// admin listener gives the whole host).
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { AggregatorRegistry, type Registry } from 'prom-client';

const METRICS_REQUEST = 'gateway:metrics-request';
const METRICS_ANSWER = 'gateway:metrics';

/** How many workers `workers` asks for on this host. */
export function workerCount(setting: number | 'auto'): number {
  return setting === 'auto' ? Math.max(1, availableParallelism()) : setting;
}

export function isWorker(): boolean {
  return cluster.isWorker;
}

/** The worker's number (1, 2, ...) for its log lines, or undefined in a single process. */
export function workerId(): number | undefined {
  return cluster.isWorker ? cluster.worker?.id : undefined;
}

interface PrimaryLog {
  info(fields: object, msg: string): void;
  error(fields: object, msg: string): void;
}

/**
 * Run the primary: start `count` workers, keep them at that number until a stop signal, then let
 * each drain (it runs its own graceful shutdown on SIGTERM) and exit with 0 once all have.
 */
export function runPrimary(count: number, log: PrimaryLog): Promise<number> {
  const aggregator = new AggregatorRegistry();
  let stopping = false;
  // Restarts in the last minute: beyond a few, wait before the next (a worker that dies at start).
  const restarts: number[] = [];

  const fork = (): Worker => {
    const worker = cluster.fork();
    worker.on('message', (m: { type?: string; id?: number }) => {
      if (m?.type !== METRICS_REQUEST) return;
      aggregator.clusterMetrics().then(
        (text) => worker.send({ type: METRICS_ANSWER, id: m.id, text }),
        (err: Error) => worker.send({ type: METRICS_ANSWER, id: m.id, error: err.message }),
      );
    });
    log.info({ worker: worker.id, pid: worker.process.pid }, 'worker started');
    return worker;
  };

  for (let i = 0; i < count; i++) fork();

  return new Promise((resolve) => {
    cluster.on('exit', (worker, code, signal) => {
      if (stopping) {
        if (Object.keys(cluster.workers ?? {}).length === 0) resolve(0);
        return;
      }
      const now = Date.now();
      while (restarts.length > 0 && (restarts[0] as number) < now - 60_000) restarts.shift();
      restarts.push(now);
      const delay = restarts.length > 3 ? Math.min(30_000, 1000 * 2 ** (restarts.length - 3)) : 0;
      log.error({ worker: worker.id, pid: worker.process.pid, code, signal, restartInMs: delay }, 'worker exited; starting another');
      setTimeout(() => {
        if (!stopping) fork();
      }, delay).unref();
    });
    const pass = (signal: NodeJS.Signals) => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill(signal);
    };
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal, workers: Object.keys(cluster.workers ?? {}).length }, 'shutdown requested; workers draining');
      if (Object.keys(cluster.workers ?? {}).length === 0) resolve(0);
      pass(signal);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => pass('SIGHUP'));
  });
}

/**
 * In a worker: the registry prom-client answers the primary's collection with, and the host's
 * metrics text for this worker's admin listener (asked of the primary).
 */
export function workerMetrics(registry: Registry): () => Promise<string> {
  // Constructing one is what makes prom-client answer the primary's collection in this worker.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  let next = 0;
  const waiting = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void }>();
  process.on('message', (m: { type?: string; id?: number; text?: string; error?: string }) => {
    if (m?.type !== METRICS_ANSWER || m.id === undefined) return;
    const w = waiting.get(m.id);
    if (!w) return;
    waiting.delete(m.id);
    if (m.text !== undefined) w.resolve(m.text);
    else w.reject(new Error(m.error ?? 'no metrics'));
  });
  return () =>
    new Promise((resolve, reject) => {
      const id = ++next;
      waiting.set(id, { resolve, reject });
      process.send?.({ type: METRICS_REQUEST, id });
      // prom-client gives up on a silent worker after 5 s; do not wait longer than that either.
      setTimeout(() => {
        if (waiting.delete(id)) reject(new Error('the primary did not answer'));
      }, 6000).unref();
    });
}
