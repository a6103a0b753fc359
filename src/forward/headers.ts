// Header hygiene in both directions. Strip before inject: the upstream request's headers are built
// from the client's minus everything in the route's drop set, minus every header the client named
// in Connection, and only then are the gateway's own headers appended. No stage can forward a
// client header the builder did not let through.
import type { BlockList } from 'node:net';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { removeCookie, setsCookie } from '../http/cookies.js';

/** RFC 9110 §7.6.1 hop-by-hop headers, plus legacy ones proxies still see. */
export const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
];

/** Set by the gateway only; a client's values are dropped (or kept, for trusted proxies, in forwardedHeaders). */
export const GATEWAY_SET = [
  'host',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'forwarded',
  'x-real-ip',
  'x-request-id',
  // undici refuses `expect`; Node already answered 100-continue to the client.
  'expect',
];

export function buildDropSet(extra: Iterable<string>): ReadonlySet<string> {
  return new Set([...HOP_BY_HOP, ...GATEWAY_SET, ...[...extra].map((h) => h.toLowerCase())]);
}

/** Names listed in a Connection header (RFC 9110 §7.6.1): hop-by-hop for this message too. */
export function connectionNamed(value: string | undefined): ReadonlySet<string> | undefined {
  // The usual values name only hop-by-hop headers, which are dropped anyway.
  if (!value || value === 'keep-alive' || value === 'close' || value === 'Keep-Alive' || value === 'Close') return undefined;
  const names = new Set<string>();
  for (const part of value.split(',')) {
    const name = part.trim().toLowerCase();
    if (name) names.add(name);
  }
  return names;
}

/**
 * The client's headers that may go upstream, as a flat [name, value, ...] list that keeps
 * duplicates and order (rawHeaders, not the merged object).
 */
export function filterRequestHeaders(
  req: IncomingMessage,
  drop: ReadonlySet<string>,
  out: string[],
  sessionCookie: string | undefined,
): void {
  const raw = req.rawHeaders;
  const named = connectionNamed(req.headers.connection);
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (drop.has(name) || (named !== undefined && named.has(name))) continue;
    let value = raw[i + 1] as string;
    // A client replaying one of the gateway's internal tokens (say, lifted from an upstream's log)
    // through a public route must not reach an upstream with it.
    if (name === 'authorization' && isInternalBearer(value)) continue;
    // The session cookie is the user's credential: it never reaches an upstream.
    if (name === 'cookie' && sessionCookie !== undefined) {
      const rest = removeCookie(value, sessionCookie);
      if (rest === undefined) continue;
      value = rest;
    }
    out.push(name, value);
  }
}

/** `typ` of the gateway's internal tokens (pipeline/mint/minter.ts). */
const INTERNAL_TYP = 'gateway-internal+jwt';

/** Whether an Authorization value carries a JWT whose header says it is one of the gateway's internal tokens. */
export function isInternalBearer(value: string): boolean {
  if (value.length < 12 || !/^bearer /i.test(value)) return false;
  const token = value.slice(7).trim();
  const dot = token.indexOf('.');
  if (dot <= 0) return false;
  try {
    const header = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8')) as { typ?: unknown };
    return header.typ === INTERNAL_TYP;
  } catch {
    return false;
  }
}

export interface ForwardedInfo {
  /** X-Forwarded-For to send. */
  readonly forwardedFor: string;
  readonly proto: string;
  readonly host: string;
  /** The client's address as best known. */
  readonly clientIp: string;
}

function ipFamily(ip: string): 'ipv4' | 'ipv6' {
  return ip.includes(':') ? 'ipv6' : 'ipv4';
}

function isTrusted(trusted: BlockList | undefined, ip: string): boolean {
  if (!trusted || !ip) return false;
  try {
    return trusted.check(ip, ipFamily(ip));
  } catch {
    return false;
  }
}

/**
 * X-Forwarded-* from the gateway's point of view. A client's values are believed only when the TCP
 * peer is a trusted proxy; then the client address is the right-most hop that is not trusted.
 */
export function forwardedInfo(
  headers: IncomingHttpHeaders,
  peerIp: string,
  encrypted: boolean,
  trusted: BlockList | undefined,
): ForwardedInfo {
  const ownProto = encrypted ? 'https' : 'http';
  const host = headers.host ?? '';
  if (!isTrusted(trusted, peerIp)) return { forwardedFor: peerIp, proto: ownProto, host, clientIp: peerIp };

  const xff = headers['x-forwarded-for'];
  const hops = (Array.isArray(xff) ? xff.join(',') : (xff ?? ''))
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h.length > 0);
  let clientIp = peerIp;
  for (let i = hops.length - 1; i >= 0; i--) {
    clientIp = hops[i] as string;
    if (!isTrusted(trusted, clientIp)) break;
  }
  const protoHeader = headers['x-forwarded-proto'];
  const proto = protoHeader === 'http' || protoHeader === 'https' ? protoHeader : ownProto;
  const hostHeader = headers['x-forwarded-host'];
  return {
    forwardedFor: hops.length > 0 ? `${hops.join(', ')}, ${peerIp}` : peerIp,
    proto,
    host: typeof hostHeader === 'string' && hostHeader ? hostHeader : host,
    clientIp,
  };
}

/**
 * The upstream's response headers the client may see: hop-by-hop and Connection-named ones removed.
 * Set-Cookie lines for the session cookie are dropped too.
 */
export function filterResponseHeaders(
  headers: Record<string, string | string[] | undefined>,
  sessionCookie: string | undefined,
): Record<string, string | string[]> {
  const connection = headers.connection;
  const named = connectionNamed(Array.isArray(connection) ? connection.join(',') : connection);
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || RESPONSE_DROP.has(name) || (named !== undefined && named.has(name))) continue;
    if (name === 'set-cookie' && sessionCookie !== undefined) {
      // An upstream must not set (or clear) the gateway's session cookie.
      const kept = (Array.isArray(value) ? value : [value]).filter((line) => !setsCookie(line, sessionCookie));
      if (kept.length > 0) out[name] = kept;
      continue;
    }
    out[name] = value;
  }
  return out;
}

const RESPONSE_DROP: ReadonlySet<string> = new Set(HOP_BY_HOP);
