// A listener that cannot accept a connection (out of file descriptors: EMFILE for the process,
// ENFILE for the host) emits 'error' on its server. Unheard, that event would crash the process;
// heard but unlogged, clients would see refused connections with nothing in the logs. So each one
// is counted, and logged at most once per interval with the number since the last line (a flood of
// connections must not become a flood of log lines).
import type { Server } from 'node:net';
import type { Counter } from 'prom-client';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';

const FD_EXHAUSTED: ReadonlySet<string> = new Set(['EMFILE', 'ENFILE']);
const LOG_EVERY_MS = 10_000;

export function watchAcceptErrors(
  server: Server,
  listener: 'public' | 'admin',
  deps: { logger: Logger; counter: Counter<'listener' | 'reason'>; clock: Clock },
): void {
  let lastLog = Number.NEGATIVE_INFINITY;
  let unlogged = 0;
  server.on('error', (err: NodeJS.ErrnoException) => {
    // Before listening, errors (a port in use) belong to the caller of listen().
    if (!server.listening) return;
    const reason = FD_EXHAUSTED.has(err.code ?? '') ? 'fd_exhausted' : 'other';
    deps.counter.labels(listener, reason).inc();
    unlogged++;
    const now = deps.clock.now();
    if (now - lastLog < LOG_EVERY_MS) return;
    lastLog = now;
    const fields = { listener, code: err.code, syscall: err.syscall, count: unlogged };
    unlogged = 0;
    if (reason === 'fd_exhausted') deps.logger.error(fields, 'out of file descriptors: connections are being refused (raise the limit: ulimit -n, LimitNOFILE)');
    else deps.logger.warn(fields, 'a connection could not be accepted');
  });
}
