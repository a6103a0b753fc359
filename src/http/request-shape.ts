// Request shapes that a gateway and the upstream behind it could read differently, refused before
// anything else looks at the request: ambiguous framing (request smuggling), repeated Host or
// Authorization, two values of one of the gateway's cookies, more header lines than allowed, and a
// method override in the query string of a POST.
import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.js';
import { conflictingCookie } from '../wire/cookies.js';

/**
 * Request smuggling shapes (RFC 9112 §6.3): Node's parser already refuses Content-Length with
 * Transfer-Encoding and differing duplicate lengths; this also refuses repeated Content-Length
 * lines and any transfer coding other than a single `chunked`, which upstreams parse differently.
 */
export function checkFraming(req: IncomingMessage): void {
  const te = req.headers['transfer-encoding'];
  const cl = req.headers['content-length'];
  if (te !== undefined) {
    if (cl !== undefined || te.trim().toLowerCase() !== 'chunked') throw new GatewayError('request_smuggling');
  }
  if (cl !== undefined || te !== undefined) {
    let lengths = 0;
    let encodings = 0;
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const name = (raw[i] as string).toLowerCase();
      if (name === 'content-length') lengths++;
      else if (name === 'transfer-encoding') encodings++;
    }
    if (lengths > 1 || encodings > 1) throw new GatewayError('request_smuggling');
  }
}

export interface HeaderLimits {
  /** limits.maxHeaderCount. */
  readonly maxHeaderCount: number;
  /** The gateway's cookies: two different values of one are refused. */
  readonly ownedCookies: readonly string[];
}

/**
 * Headers whose duplicates upstreams resolve differently: Node keeps the first Host and the first
 * Authorization, other servers the last or both. RFC 9112 §3.2 requires 400 for more than one Host.
 */
export function checkHeaders(req: IncomingMessage, limits: HeaderLimits): void {
  const raw = req.rawHeaders;
  let hosts = 0;
  let authorizations = 0;
  // HTTP/2's pseudo-headers (`:method`, `:path`...) are in rawHeaders too, and not header lines.
  let pseudo = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    // Compare lengths first: most names are neither, and this runs on every request.
    if (name.length === 4 && name.toLowerCase() === 'host') hosts++;
    else if (name.length === 13 && name.toLowerCase() === 'authorization') authorizations++;
    else if (name.charCodeAt(0) === 58) pseudo++;
  }
  if (raw.length / 2 - pseudo > limits.maxHeaderCount) throw new GatewayError('too_many_headers');
  if (hosts > 1) throw new GatewayError('duplicate_header', { detail: 'host' });
  if (authorizations > 1) throw new GatewayError('duplicate_header', { detail: 'authorization' });
  const cookie = req.headers.cookie;
  if (cookie !== undefined) {
    for (const name of limits.ownedCookies) if (conflictingCookie(cookie, name)) throw new GatewayError('cookie_conflict');
  }
}

// Query parameters that frameworks take as the real method of a POST: `_method` (Laravel, Symfony
// with enableHttpMethodParameterOverride, CakePHP, Express method-override with a query getter),
// the override headers' names as parameters, Salesforce's `_HttpMethod`. Compared with `-`, `.`,
// space and `[` all read as `_`, as PHP reads parameter names.
const OVERRIDE_PARAMS: ReadonlySet<string> = new Set(['_method', 'x_http_method_override', 'x_http_method', 'x_method_override', '_httpmethod']);
// The parameter names could be there: `method` in any case, or an escape that might spell it.
const MAYBE_OVERRIDE = /ethod|%/i;

/**
 * A POST whose query names another method: the route was chosen and authorized for POST, the
 * framework would act on DELETE. Names are read the way the most lenient parsers read them: `&` or
 * `;` between pairs (Rack 2, older Python), a NUL ending the name (PHP keeps what stands before it),
 * leading spaces dropped. (A `_method` field in a form body is not inspected: see docs/threat-model.md.)
 */
export function checkQueryOverride(method: string | undefined, query: string): void {
  if (method !== 'POST' || query.length < 2 || !MAYBE_OVERRIDE.test(query)) return;
  for (const pair of query.slice(1).split(/[&;]/)) {
    const eq = pair.indexOf('=');
    let name: string;
    try {
      name = decodeURIComponent((eq === -1 ? pair : pair.slice(0, eq)).replaceAll('+', ' '));
    } catch {
      continue;
    }
    const nul = name.indexOf('\0');
    if (nul !== -1) name = name.slice(0, nul);
    if (OVERRIDE_PARAMS.has(name.trimStart().toLowerCase().replace(/[-. []/g, '_'))) throw new GatewayError('method_override_refused');
  }
}
