// Request-target normalization: the one place that turns what a client sent into the path that
// selects a route. The path that selects the route is the path the upstream receives, so no
// differential between the gateway and the upstream can move a request to another route.
//
// Rules (docs/configuration.md#path-normalization):
// - percent-encoding is decoded exactly once; what still looks encoded afterwards (`%252e` →
//   `%2e`) is refused, so an upstream that decodes again cannot see a different path;
// - `.` and `..` segments are removed (RFC 3986 §5.2.4), also when written `%2e`;
// - `\` is read as `/` (what browsers do, WHATWG URL), doubled slashes are merged;
// - refused with 400: `;` path parameters (Tomcat reads `/public/..;/admin` as `/admin`), encoded
//   `/` or `\` (they change segmentation), NUL and control characters, invalid UTF-8 or
//   percent-encoding, fragments, and any target that is not origin-form;
// - refused too: encoded characters that some backend turns into path syntax: compatibility forms
//   whose NFKC form holds `/ \ . % ; ? #` (full-width solidus U+FF0F, small full stop U+FE52, two
//   dot leader U+2025...) and Windows "best fit" look-alikes (U+2215 division slash, U+00A5 yen
//   sign, which code page 932 maps to `\`: the "WorstFit" research, 2025).
import { GatewayError } from '../errors.js';

export interface NormalizedTarget {
  /** The decoded, normalized path: compared with route prefixes. */
  readonly path: string;
  /** The same path, percent-encoded canonically: sent upstream. */
  readonly encodedPath: string;
  /** The raw query, with its leading `?`, or ''. Passed through untouched; never used to route. */
  readonly query: string;
}

// A path needs the slow path only if it holds one of these; most requests skip it.
const NEEDS_WORK = /[%\\;#]|\/\/|\/\.\.?(?:\/|$)/;
// Characters allowed raw in a path: RFC 3986 pchar minus `%` and `;` (handled above).
const PLAIN_PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,=:@/]*$/;
// What a segment keeps unencoded when sent upstream.
const SEGMENT_SAFE = /[A-Za-z0-9\-._~!$&'()*+,=:@]/;
const STILL_ENCODED = /%[0-9A-Fa-f]{2}/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;

const utf8 = new TextDecoder('utf-8', { fatal: true });

const NON_ASCII = /[\u0080-\uffff]/;
// Best-fit mappings of Windows code pages to `/` or `\` that NFKC leaves alone.
const BEST_FIT_SEPARATORS = /[\u2215\u2216\u2044\u29f5\u29f8\u29f9\u00a5\u20a9\uff3c\uff0f]/;
const PATH_SYNTAX = /[/\\.%;?#]/g;

function syntaxCount(s: string): number {
  return s.match(PATH_SYNTAX)?.length ?? 0;
}

/** A decoded segment with characters that a normalizing backend reads as path syntax. */
function hasLookalike(segment: string): boolean {
  if (BEST_FIT_SEPARATORS.test(segment)) return true;
  const nfkc = segment.normalize('NFKC');
  return nfkc !== segment && syntaxCount(nfkc) > syntaxCount(segment);
}

export function normalizeTarget(rawTarget: string): NormalizedTarget {
  if (rawTarget.charCodeAt(0) !== 47 /* / */) throw new GatewayError('bad_path', { detail: 'target is not origin-form' });
  const q = rawTarget.indexOf('?');
  const rawPath = q === -1 ? rawTarget : rawTarget.slice(0, q);
  const query = q === -1 ? '' : rawTarget.slice(q);
  if (!NEEDS_WORK.test(rawPath) && PLAIN_PATH.test(rawPath)) return { path: rawPath, encodedPath: rawPath, query };
  return { ...normalizePath(rawPath), query };
}

function normalizePath(rawPath: string): { path: string; encodedPath: string } {
  if (rawPath.includes('#')) throw new GatewayError('bad_path', { detail: 'fragment in request target' });
  if (rawPath.includes(';')) throw new GatewayError('bad_path', { detail: 'path parameters (;) are not accepted' });
  const rawSegments = rawPath.replaceAll('\\', '/').split('/');
  const out: string[] = [];
  let trailingSlash = false;
  // rawSegments[0] is the empty string before the leading slash.
  for (let i = 1; i < rawSegments.length; i++) {
    const segment = decodeSegment(rawSegments[i] as string);
    const last = i === rawSegments.length - 1;
    if (segment === '' || segment === '.') {
      trailingSlash = last;
    } else if (segment === '..') {
      out.pop();
      trailingSlash = last;
    } else {
      out.push(segment);
      trailingSlash = false;
    }
  }
  const path = '/' + out.join('/') + (trailingSlash && out.length > 0 ? '/' : '');
  const encodedPath = '/' + out.map(encodeSegment).join('/') + (trailingSlash && out.length > 0 ? '/' : '');
  return { path, encodedPath };
}

function decodeSegment(raw: string): string {
  if (!raw.includes('%')) {
    if (CONTROL.test(raw) || /[^\x21-\x7e]/.test(raw)) throw new GatewayError('bad_path', { detail: 'raw non-printable byte' });
    return raw;
  }
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 37 /* % */) {
      const hex = raw.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new GatewayError('bad_path', { detail: 'invalid percent-encoding' });
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (c < 0x21 || c > 0x7e) {
      throw new GatewayError('bad_path', { detail: 'raw non-printable byte' });
    } else bytes.push(c);
  }
  let decoded: string;
  try {
    decoded = utf8.decode(Uint8Array.from(bytes));
  } catch {
    throw new GatewayError('bad_path', { detail: 'invalid UTF-8 in path' });
  }
  if (decoded.includes('/') || decoded.includes('\\')) throw new GatewayError('bad_path', { detail: 'encoded slash' });
  if (CONTROL.test(decoded)) throw new GatewayError('bad_path', { detail: 'encoded control character' });
  if (STILL_ENCODED.test(decoded)) throw new GatewayError('bad_path', { detail: 'double percent-encoding' });
  if (NON_ASCII.test(decoded) && hasLookalike(decoded)) throw new GatewayError('bad_path', { detail: 'look-alike of a path character' });
  return decoded;
}

function encodeSegment(segment: string): string {
  let out = '';
  for (const ch of segment) {
    if (SEGMENT_SAFE.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/**
 * The Host header, lower-cased and without its port; '' when absent (HTTP/1.0). A value that is
 * not a host name, IPv4 or bracketed IPv6 address is refused.
 */
export function normalizeHost(header: string | undefined): string {
  if (!header) return '';
  let host = header.toLowerCase();
  if (host.charCodeAt(0) === 91 /* [ */) {
    const end = host.indexOf(']');
    if (end === -1 || !/^\[[0-9a-f:.]+\](?::\d{1,5})?$/.test(host)) throw new GatewayError('bad_host');
    return host.slice(0, end + 1);
  }
  const colon = host.indexOf(':');
  if (colon !== -1) {
    if (!/^\d{1,5}$/.test(host.slice(colon + 1))) throw new GatewayError('bad_host');
    host = host.slice(0, colon);
  }
  if (!/^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?\.?$/.test(host)) throw new GatewayError('bad_host');
  return host.endsWith('.') ? host.slice(0, -1) : host;
}
