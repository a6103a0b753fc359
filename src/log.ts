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
  /** `HTTP/1.1`, `HTTP/2` or `HTTP/1.0`: one of a fixed few, written unquoted-checked. */
  readonly protocol: string;
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
 * request (bench/README.md). Undefined when the level drops `info` lines.
 *
 * Strings are quoted as they are when one scan finds nothing JSON must escape (the usual case),
 * else each goes through JSON.stringify: five JSON.stringify calls cost ≈ 0.5 µs per line, the scan
 * ≈ 0.1 µs. Milliseconds are written from integer microseconds, because V8's general
 * double-to-string conversion costs ≈ 0.2 µs a number.
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
    const q = NEEDS_ESCAPE.test(e.requestId + e.route + e.method + e.path + e.client + (e.upstream ?? '') + (e.error ?? '')) ? JSON.stringify : quote;
    let line = `{"level":"info","time":"${secondIso}${pad3(now - s * 1000)}Z","service":"gateway","requestId":${q(e.requestId)},"route":${q(e.route)},"method":${q(e.method)},"protocol":"${e.protocol}"`;
    if (e.path !== '') line += `,"path":${q(e.path)}`;
    line += `,"status":${e.status},"durationMs":${millis(e.durationMs)}`;
    if (e.upstream !== undefined) line += `,"upstream":${q(e.upstream)}`;
    if (e.upstreamMs !== undefined) line += `,"upstreamMs":${millis(e.upstreamMs)}`;
    line += `,"client":${q(e.client)}`;
    if (e.error !== undefined) line += `,"error":${q(e.error)}`;
    destination.write(`${line},"completed":${e.completed},"msg":"request"}\n`);
  };
}

/** What JSON.stringify would escape in a string: quote, backslash, control characters, lone surrogate halves. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what must be found
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

function quote(s: string): string {
  return `"${s}"`;
}

function pad3(n: number): string {
  return n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`;
}

/** A non-negative millisecond figure with microsecond precision, e.g. 1.234 or 0.500. */
function millis(ms: number): string {
  const us = Math.round(ms * 1000);
  // Outside the fast path's range: JSON's own number form, or null for what JSON cannot hold.
  if (!(us >= 0 && us < 2 ** 31)) return Number.isFinite(ms) ? String(ms) : 'null';
  const whole = Math.floor(us / 1000);
  return `${whole}.${pad3(us - whole * 1000)}`;
}
