// How a lenient backend may read a path. IIS, ASP.NET, Express's default router, Spring and many
// Windows or Java servers match paths ignoring case; Windows drops trailing dots and spaces of a
// path segment (`/admin.` and `/admin%20` open `/admin`); some frameworks apply Unicode NFKC, which
// turns full-width letters into ASCII ones. The route table uses the folded form two ways: to
// match routes marked caseInsensitive, and to refuse a request whose lenient reading would select
// another route than its exact one (docs/threat-model.md#path-case-and-look-alikes).

// Anything that folding could change: upper-case ASCII, any non-ASCII, a segment ending in `.` or space.
const FOLDABLE = /[A-Z]|[\u0080-\uffff]|[. ](?:\/|$)/;
const TRAILING_DOTS_SPACES = /[. ]+$/;
const NOT_PLAIN_ASCII = /[\u0080-\uffff]|[. ](?:\/|$)/;

/** Whether fold(path) may differ from path (cheap test for the hot path). */
export function needsFold(path: string): boolean {
  return FOLDABLE.test(path);
}

/**
 * The path as a lenient backend could read it: per segment NFKC, then case folded character by
 * character both ways, as Java's equalsIgnoreCase and .NET's OrdinalIgnoreCase do (`ſ` → `s`,
 * `K` (Kelvin) → `k`, `İ` → `i`), then trailing dots and spaces dropped. Segment boundaries are kept: the normalizer refuses anything whose NFKC form holds a
 * `/` or `\`, so the folded path has as many segments as the path.
 */
export function fold(path: string): string {
  if (!FOLDABLE.test(path)) return path;
  // The common case: ASCII with some upper case (`/api/lineItems`), no segment ending in a dot or space.
  if (!NOT_PLAIN_ASCII.test(path)) return path.toLowerCase();
  const segments = path.split('/');
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i] as string;
    const ascii = !/[\u0080-\uffff]/.test(s);
    const folded = ascii ? s.toLowerCase() : foldUnicode(s.normalize('NFKC'));
    // A segment of dots and spaces only keeps them: emptied, it would change the segment count.
    segments[i] = folded.replace(TRAILING_DOTS_SPACES, '') || folded;
  }
  return segments.join('/');
}

/** Simple (one-to-one) case folding: upper then lower case of each character, first code point kept. */
function foldUnicode(s: string): string {
  let out = '';
  for (const ch of s) {
    const upper = ch.toUpperCase();
    const lower = (upper.length === ch.length ? upper : ch).toLowerCase();
    // `İ` lower-cases to `i` plus a combining dot; the one-to-one mapping keeps the `i`.
    out += lower.length === ch.length ? lower : String.fromCodePoint(lower.codePointAt(0) as number);
  }
  return out;
}
