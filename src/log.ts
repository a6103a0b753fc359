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

/**
 * Logs go to stdout asynchronously: a slow reader of stdout (a log shipper, a full pipe) must never
 * block the event loop that serves requests. Pending lines are flushed on exit.
 */
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

/**
 * The access log: one line per request, on the same stream. Its fields are fixed by
 * http/handler.ts (no header, cookie, token or query ever goes in), so it skips the redaction
 * pass, which measured at about a tenth of the gateway's per-request CPU (bench/RESULTS.md).
 */
export function createAccessLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'gateway' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
