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

/**
 * One step of normalization, for `gateway explain` (explainTarget): what changed and how the path
 * then reads. Only the slow path reports steps, and only when asked: requests never build them.
 */
export interface NormalizeStep {
  /** backslash, percent_decode, empty_segment, dot_segment, dot_dot_segment, encode. */
  readonly step: string;
  /** In words. */
  readonly detail: string;
  /** The path as it reads after this step: the segments done (decoded), then the raw rest. */
  readonly path: string;
}

export type NormalizeTrace = (step: NormalizeStep) => void;

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

/** `trace` is for `gateway explain` (explainTarget); a plain path, the common case, never reaches it. */
export function normalizeTarget(rawTarget: string, trace?: NormalizeTrace): NormalizedTarget {
  if (rawTarget.charCodeAt(0) !== 47 /* / */) throw new GatewayError('bad_path', { detail: 'target is not origin-form' });
  const q = rawTarget.indexOf('?');
  const rawPath = q === -1 ? rawTarget : rawTarget.slice(0, q);
  const query = q === -1 ? '' : rawTarget.slice(q);
  if (!NEEDS_WORK.test(rawPath) && PLAIN_PATH.test(rawPath)) return { path: rawPath, encodedPath: rawPath, query };
  return { ...normalizePath(rawPath, trace), query };
}

/** `trace` (gateway explain only) is told every step; requests pass none and pay one test per segment. */
function normalizePath(rawPath: string, trace?: NormalizeTrace): { path: string; encodedPath: string } {
  if (rawPath.includes('#')) throw new GatewayError('bad_path', { detail: 'fragment in request target' });
  if (rawPath.includes(';')) throw new GatewayError('bad_path', { detail: 'path parameters (;) are not accepted' });
  const slashed = rawPath.replaceAll('\\', '/');
  if (trace !== undefined && slashed !== rawPath) trace({ step: 'backslash', detail: '"\\" read as "/" (as browsers and WHATWG URL read it)', path: slashed });
  const rawSegments = slashed.split('/');
  const out: string[] = [];
  let trailingSlash = false;
  // rawSegments[0] is the empty string before the leading slash.
  for (let i = 1; i < rawSegments.length; i++) {
    const segment = decodeSegment(rawSegments[i] as string);
    const last = i === rawSegments.length - 1;
    if (trace !== undefined) traceSegment(trace, rawSegments, i, segment, out);
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

/** What normalization did to a request-target, step by step (`gateway explain`). */
export interface TargetExplanation {
  /** The request-target as sent. */
  readonly target: string;
  /** Every change, in order; empty when the path was already normal. */
  readonly steps: readonly NormalizeStep[];
  /** The result requests get (normalizeTarget's own answer), unless refused. */
  readonly result?: NormalizedTarget;
  /** Why the target is refused (400 bad_path), and the raw segment that was, when one was. */
  readonly refused?: { readonly code: 'bad_path'; readonly detail: string; readonly segment?: string };
}

/**
 * normalizeTarget with its steps recorded: the same function on the same input, so the result is
 * exactly the one a request gets.
 */
export function explainTarget(rawTarget: string): TargetExplanation {
  const steps: NormalizeStep[] = [];
  let result: NormalizedTarget;
  try {
    result = normalizeTarget(rawTarget, (step) => steps.push(step));
  } catch (err) {
    if (!(err instanceof GatewayError) || err.code !== 'bad_path') throw err;
    return { target: rawTarget, steps, refused: { code: 'bad_path', detail: err.message, segment: refusedSegment(rawTarget) } };
  }
  if (result.encodedPath !== result.path) {
    steps.push({ step: 'encode', detail: `sent upstream canonically percent-encoded: ${result.encodedPath}`, path: result.path });
  }
  return { target: rawTarget, steps, result };
}

/** The first raw segment decodeSegment refuses, if a segment is what was refused. */
function refusedSegment(rawTarget: string): string | undefined {
  const q = rawTarget.indexOf('?');
  const rawPath = q === -1 ? rawTarget : rawTarget.slice(0, q);
  if (rawPath.charCodeAt(0) !== 47 || rawPath.includes('#') || rawPath.includes(';')) return undefined;
  for (const raw of rawPath.replaceAll('\\', '/').split('/').slice(1)) {
    try {
      decodeSegment(raw);
    } catch {
      return raw;
    }
  }
  return undefined;
}

/**
 * Tell `trace` what segment `i` (decoded: `segment`) does before normalizePath applies it to `out`
 * (its rules, in words), with the whole path as it then reads: done segments, then the raw rest.
 */
function traceSegment(trace: NormalizeTrace, rawSegments: readonly string[], i: number, segment: string, out: readonly string[]): void {
  const raw = rawSegments[i] as string;
  const rest = rawSegments.slice(i + 1);
  const last = rest.length === 0;
  const reads = (done: readonly string[]) => '/' + [...done, ...rest].join('/');
  if (raw !== segment) trace({ step: 'percent_decode', detail: `"${raw}" decoded once to "${segment}"`, path: reads([...out, segment]) });
  if (segment === '') {
    if (!last) trace({ step: 'empty_segment', detail: 'an empty segment (a doubled "/") merged', path: reads(out) });
  } else if (segment === '.') {
    trace({ step: 'dot_segment', detail: '"." segment removed', path: reads(out) + (last && out.length > 0 ? '/' : '') });
  } else if (segment === '..') {
    const removed = out[out.length - 1];
    trace({
      step: 'dot_dot_segment',
      detail: removed === undefined ? '".." at the root removed (it never climbs above "/")' : `".." removes the segment before it ("${removed}")`,
      path: reads(out.slice(0, -1)) + (last && out.length > 1 ? '/' : ''),
    });
  }
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
