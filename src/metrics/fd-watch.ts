// Out of file descriptors, Node says nothing: libuv accepts and at once closes the connections it
// has no descriptor for (its "EMFILE trick"), so clients see resets and the server no error. So the
// process samples its own descriptors (Linux /proc) every second: at 90% of the limit or more it
// counts the sample and logs at `error`, at most every 10 s. prom-client's process_open_fds and
// process_max_fds give the level; this gives the alert and the log line.
import { readdir, readFile } from 'node:fs/promises';
import type { Counter } from 'prom-client';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';

const HIGH = 0.9;
const LOG_EVERY_MS = 10_000;

export interface DescriptorSource {
  open(): Promise<number>;
  /** The soft limit, or undefined when unlimited or unknown. */
  limit(): Promise<number | undefined>;
}

export const procSelf: DescriptorSource = {
  open: async () => (await readdir('/proc/self/fd')).length,
  limit: async () => {
    const m = /^Max open files\s+(\d+)/m.exec(await readFile('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : undefined;
  },
};

export function watchDescriptors(deps: {
  logger: Logger;
  counter: Counter;
  clock: Clock;
  source?: DescriptorSource;
  intervalMs?: number;
}): { stop(): void; check(): Promise<void> } {
  const source = deps.source ?? procSelf;
  let lastLog = Number.NEGATIVE_INFINITY;
  let highSinceLog = 0;
  let broken = false;
  let limit: number | undefined;
  const check = async () => {
    if (broken) return;
    let open: number;
    try {
      // The limit rarely changes (prlimit can): read again, the last answer kept when reading fails.
      limit = (await source.limit().catch(() => limit)) ?? limit;
      open = await source.open();
    } catch (err) {
      // Reading /proc/self/fd takes a descriptor too: failing for want of one is the answer.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EMFILE' && code !== 'ENFILE') {
        broken = true; // not Linux, or /proc hidden: nothing to watch
        return;
      }
      open = limit ?? Number.POSITIVE_INFINITY;
    }
    if (limit === undefined || open < limit * HIGH) return;
    deps.counter.inc();
    highSinceLog++;
    const now = deps.clock.now();
    if (now - lastLog < LOG_EVERY_MS) return;
    lastLog = now;
    deps.logger.error({ open, limit, samples: highSinceLog }, 'near the file-descriptor limit: new connections are refused (raise ulimit -n / LimitNOFILE)');
    highSinceLog = 0;
  };
  void check();
  const timer = setInterval(() => void check(), deps.intervalMs ?? 1000);
  timer.unref();
  return { stop: () => clearInterval(timer), check };
}
