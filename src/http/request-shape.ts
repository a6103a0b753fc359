// Request shapes that a gateway and the upstream behind it could read differently, refused before
// anything else looks at the request: ambiguous framing (request smuggling), repeated Host or
// Authorization, two values of one of the gateway's cookies, and more header lines than allowed.
import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.js';
import { conflictingCookie } from './cookies.js';

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
  if (raw.length > limits.maxHeaderCount * 2) throw new GatewayError('too_many_headers');
  let hosts = 0;
  let authorizations = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    // Compare lengths first: most names are neither, and this runs on every request.
    if (name.length === 4 && name.toLowerCase() === 'host') hosts++;
    else if (name.length === 13 && name.toLowerCase() === 'authorization') authorizations++;
  }
  if (hosts > 1) throw new GatewayError('duplicate_header', { detail: 'host' });
  if (authorizations > 1) throw new GatewayError('duplicate_header', { detail: 'authorization' });
  const cookie = req.headers.cookie;
  if (cookie !== undefined) {
    for (const name of limits.ownedCookies) if (conflictingCookie(cookie, name)) throw new GatewayError('cookie_conflict');
  }
}
