// Header hygiene in both directions. Strip before inject: the upstream request's headers are built
// from the client's minus everything in the route's drop set, minus every header the client named
// in Connection, and only then are the gateway's own headers appended. No stage can forward a
// client header the builder did not let through.
import type { BlockList } from 'node:net';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { CLIENT_ADDRESS_HEADERS, ROUTING_HEADERS } from '../config/header-names.js';
import { removeCookies, setsCookie } from '../wire/cookies.js';

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

/** Set by the gateway only; a client's values are dropped (from a trusted proxy, forwardedInfo reads X-Forwarded-For/-Proto/-Host first). */
export const GATEWAY_SET = [
  'host',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'forwarded',
  'x-real-ip',
  'x-request-id',
  // undici refuses `expect`; Node already answered 100-continue to the client.
  'expect',
];

/** What never reaches an upstream from a client, compiled once per route (buildHeaderPolicy). */
export interface HeaderPolicy {
  /** Lower-case names dropped. */
  readonly drop: ReadonlySet<string>;
  /** Names dropped by prefix (`x-auth-request-`), or undefined for none. */
  readonly dropPrefix: RegExp | undefined;
  /**
   * Keep names holding `_` or other punctuation (judged by their `-` spelling, which CGI-style
   * servers read them as). False by default: WSGI, Rack, PHP and Puma read `X_User` as `X-User`,
   * lighttpd `X.User` too (nginx drops such names).
   */
  readonly keepUnderscores: boolean;
  /** Names in `drop` passed when the peer is a trusted proxy (trustedProxyHeaders). */
  readonly keepFromTrusted: ReadonlySet<string>;
}

export interface HeaderPolicyOptions {
  /** Further names to drop; an entry ending in `*` drops every name with that prefix. */
  readonly drop: Iterable<string>;
  readonly keepUnderscores: boolean;
  readonly keepFromTrusted: Iterable<string>;
}

export function buildHeaderPolicy(opts: HeaderPolicyOptions): HeaderPolicy {
  const drop = new Set([...HOP_BY_HOP, ...GATEWAY_SET, ...ROUTING_HEADERS, ...CLIENT_ADDRESS_HEADERS]);
  const prefixes: string[] = [];
  for (const raw of opts.drop) {
    const h = raw.toLowerCase().replace(/[^a-z0-9*-]/g, '-');
    if (h.endsWith('*')) prefixes.push(h.slice(0, -1));
    else drop.add(h);
  }
  const escaped = prefixes.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return {
    drop,
    dropPrefix: escaped.length > 0 ? new RegExp(`^(?:${escaped.join('|')})`) : undefined,
    keepUnderscores: opts.keepUnderscores,
    keepFromTrusted: new Set([...opts.keepFromTrusted].map((h) => h.toLowerCase())),
  };
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

// Header name characters other than letters, digits and `-`. CGI-style servers fold them into `_`
// (WSGI, Rack, PHP: `_`; lighttpd and Apache 2.2: every one of them), so `X_User` and `X.User` both
// become HTTP_X_USER.
const UNUSUAL_NAME = /[^a-z0-9-]/;
const UNUSUAL_NAME_ALL = /[^a-z0-9-]/g;

/** The name as CGI-style servers read it (every character but letters, digits and `-` as `-`), or undefined when it has none of those. */
export function cgiSpelling(name: string): string | undefined {
  return UNUSUAL_NAME.test(name) ? name.replace(UNUSUAL_NAME_ALL, '-') : undefined;
}

/** Whether the policy lets a client header called `name` (lower case) through. */
export function passes(policy: HeaderPolicy, name: string, trustedPeer: boolean): boolean {
  let key = name;
  if (UNUSUAL_NAME.test(name)) {
    if (!policy.keepUnderscores) return false;
    key = name.replace(UNUSUAL_NAME_ALL, '-');
  }
  if (policy.drop.has(key)) return trustedPeer && key === name && policy.keepFromTrusted.has(name);
  return policy.dropPrefix === undefined || !policy.dropPrefix.test(key);
}

/**
 * The client's headers that may go upstream, as a flat [name, value, ...] list that keeps
 * duplicates and order (rawHeaders, not the merged object). `ownedCookies` are the gateway's
 * cookies (session, refresh): removed from Cookie.
 */
export function filterRequestHeaders(
  req: IncomingMessage,
  policy: HeaderPolicy,
  out: string[],
  ownedCookies: readonly string[],
  trustedPeer: boolean,
): void {
  const raw = req.rawHeaders;
  const named = connectionNamed(req.headers.connection);
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    // HTTP/2's pseudo-headers describe this hop's request; the gateway writes the upstream's own.
    if (name.charCodeAt(0) === 58) continue;
    if (!passes(policy, name, trustedPeer) || (named !== undefined && named.has(name))) continue;
    let value = raw[i + 1] as string;
    // A client replaying one of the gateway's internal tokens (say, lifted from an upstream's log)
    // through a public route must not reach an upstream with it.
    if (name === 'authorization' && isInternalBearer(value)) continue;
    // The gateway's cookies are the user's credentials: they never reach an upstream.
    if (name === 'cookie') {
      const rest = removeCookies(value, ownedCookies);
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
  /** Whether the peer is a trusted proxy. */
  readonly trusted: boolean;
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
  if (!isTrusted(trusted, peerIp)) return { forwardedFor: peerIp, proto: ownProto, host, clientIp: peerIp, trusted: false };

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
    trusted: true,
  };
}

/**
 * The upstream's response headers the client may see: hop-by-hop and Connection-named ones removed.
 * Set-Cookie lines for the gateway's own cookies are dropped too.
 */
export function filterResponseHeaders(
  headers: Record<string, string | string[] | undefined>,
  ownedCookies: readonly string[],
): Record<string, string | string[]> {
  const connection = headers.connection;
  const named = connectionNamed(Array.isArray(connection) ? connection.join(',') : connection);
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || RESPONSE_DROP.has(name) || (named !== undefined && named.has(name))) continue;
    if (name === 'set-cookie') {
      // An upstream must not set (or clear) the gateway's cookies.
      const kept = (Array.isArray(value) ? value : [value]).filter((line) => !ownedCookies.some((c) => setsCookie(line, c)));
      if (kept.length > 0) out[name] = kept;
      continue;
    }
    out[name] = value;
  }
  return out;
}

// HTTP2-Settings too: an HTTP/2 answer carrying any connection-specific header cannot be sent at all.
const RESPONSE_DROP: ReadonlySet<string> = new Set([...HOP_BY_HOP, 'http2-settings']);
