// Structured JSON logs (pino). Nothing logged may carry a cookie, token, credential or query
// string: call sites log chosen fields, never whole headers or URLs, and the redaction below is a
// second line of defence for anything that slips through as an object.
import { pino, type Logger as PinoLogger, type DestinationStream } from 'pino';

export type Logger = PinoLogger;

export const REDACT_PATHS = [
  'req.headers.cookie',
  'req.headers.authorization',
  'headers.cookie',
  'headers.authorization',
  'cookie',
  'authorization',
  'password',
  'token',
  '*.password',
  '*.token',
];

/** Lines go to the destination given (in the gateway, log-stream.ts: batched, asynchronous). */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'gateway' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/** One request, as the access log records it. Every field is chosen: no header, cookie, token or query. */
export interface AccessEntry {
  readonly requestId: string;
  /** Route name, `gateway:<endpoint>`, or the no-route label. */
  readonly route: string;
  readonly method: string;
  /** The normalized path ('' when the request never got that far). */
  readonly path: string;
  readonly status: number;
  readonly durationMs: number;
  readonly upstream: string | undefined;
  readonly upstreamMs: number | undefined;
  readonly client: string;
  readonly error: string | undefined;
  /** Whether the whole answer was handed to the client's socket. */
  readonly completed: boolean;
}

export type AccessLog = (entry: AccessEntry) => void;

/** Levels at or below which `info` lines are written. */
const INFO_ENABLED = new Set(['trace', 'debug', 'info']);

/**
 * The access log: one line per request, in the shape of the other log lines (level, time, service,
 * the fields, msg), written straight to the log stream. Built by hand rather than through pino:
 * the fields are fixed, so pino's generic path (per-key serializers, formatters, an ISO time per
 * call) is pure overhead, and it measured at about a tenth of the gateway's CPU per proxied
 * request (bench/README.md). Strings from the client (method, path) go through JSON.stringify.
 * Undefined when the level drops `info` lines.
 */
export function createAccessLog(level: string, destination: { write(line: string): unknown }): AccessLog | undefined {
  if (!INFO_ENABLED.has(level)) return undefined;
  let second = -1;
  let secondIso = '';
  return (e) => {
    const now = Date.now();
    // The ISO time only changes its seconds part every second; the milliseconds are appended.
    const s = Math.floor(now / 1000);
    if (s !== second) {
      second = s;
      secondIso = new Date(s * 1000).toISOString().slice(0, 20);
    }
    const ms = now - s * 1000;
    let line = `{"level":"info","time":"${secondIso}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z","service":"gateway","requestId":${JSON.stringify(e.requestId)},"route":${JSON.stringify(e.route)},"method":${JSON.stringify(e.method)}`;
    if (e.path !== '') line += `,"path":${JSON.stringify(e.path)}`;
    line += `,"status":${e.status},"durationMs":${e.durationMs}`;
    if (e.upstream !== undefined) line += `,"upstream":${JSON.stringify(e.upstream)}`;
    if (e.upstreamMs !== undefined) line += `,"upstreamMs":${e.upstreamMs}`;
    line += `,"client":${JSON.stringify(e.client)}`;
    if (e.error !== undefined) line += `,"error":${JSON.stringify(e.error)}`;
    destination.write(`${line},"completed":${e.completed},"msg":"request"}\n`);
  };
}
