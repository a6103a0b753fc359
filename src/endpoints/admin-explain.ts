// POST /explain on the admin listener: `gateway explain` answered by the running instance, from its
// live route table and auth layer (http/explain.ts). The admin guard has already checked the
// credential (every admin method but GET and HEAD needs it). The body is JSON:
//   {"method": "GET", "url": "https://app.example.com/app/x", "headers": {"Accept": "text/html"},
//    "cookie": "<session cookie value>", "bearer": "<token>"}
// headers may also be a list of [name, value] pairs or of "Name: value" lines (to repeat a name).
// The answer is the report; the cookie, the bearer token and the minted token are never in it, and
// the log line says which route and decision, never what was sent.
import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.js';
import { readSmallBody } from '../http/body.js';
import { explainRequest, ExplainInputError, type ExplainDeps, type ExplainInput } from '../http/explain.js';
import { sendJson } from '../http/json-response.js';
import type { Logger } from '../log.js';
import type { AdminLookup } from './admin.js';

export const EXPLAIN_PATH = '/explain';

const MAX_BODY = 64 * 1024;

function invalid(detail: string): GatewayError {
  return new GatewayError('invalid_body', { detail });
}

function headerLines(v: unknown): [string, string][] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) {
    return v.map((item) => {
      if (typeof item === 'string') {
        const colon = item.indexOf(':');
        if (colon <= 0) throw invalid('a header line must be "Name: value"');
        return [item.slice(0, colon).trim(), item.slice(colon + 1).trim()];
      }
      if (Array.isArray(item) && item.length === 2 && typeof item[0] === 'string' && typeof item[1] === 'string') return [item[0], item[1]];
      throw invalid('headers must be {"Name": "value"}, [["Name", "value"]] or ["Name: value"]');
    });
  }
  if (typeof v === 'object') {
    return Object.entries(v).map(([name, value]) => {
      if (typeof value !== 'string') throw invalid(`header ${name}: the value must be a string`);
      return [name, value];
    });
  }
  throw invalid('headers must be {"Name": "value"}, [["Name", "value"]] or ["Name: value"]');
}

async function readInput(req: IncomingMessage): Promise<ExplainInput> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') throw new GatewayError('unsupported_media_type');
  let body: unknown;
  try {
    body = JSON.parse((await readSmallBody(req, MAX_BODY)).toString('utf8'));
  } catch (err) {
    if (err instanceof GatewayError) throw err;
    throw invalid('malformed JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('a JSON object is expected');
  const b = body as Record<string, unknown>;
  const str = (k: string, required: boolean): string | undefined => {
    const v = b[k];
    if (v === undefined || v === null) {
      if (required) throw invalid(`${k} is required`);
      return undefined;
    }
    if (typeof v !== 'string') throw invalid(`${k} must be a string`);
    return v;
  };
  return { method: str('method', true) as string, url: str('url', true) as string, headers: headerLines(b.headers), cookie: str('cookie', false), bearer: str('bearer', false) };
}

/** `deps` over the running instance's handler dependencies: its live route table and auth layer. */
export function adminExplainEndpoint(deps: ExplainDeps, logger: Logger): AdminLookup {
  return (method, path) => {
    if (method !== 'POST' || path !== EXPLAIN_PATH) return undefined;
    return async (req, res) => {
      const input = await readInput(req);
      let report;
      try {
        report = await explainRequest(deps, input);
      } catch (err) {
        if (err instanceof ExplainInputError) throw invalid(err.message);
        throw err;
      }
      logger.info({ method: report.request.method, route: report.route?.name, result: report.decision.result, code: report.decision.code }, 'request explained for the admin listener');
      sendJson(res, 200, report);
    };
  };
}
