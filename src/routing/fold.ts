// How a lenient backend may read a path. IIS, ASP.NET, Express's default router, Spring and many
// Windows or Java servers match paths ignoring case; Windows drops trailing dots and spaces of a
// path segment (`/admin.` and `/admin%20` open `/admin`) and reads `admin::$DATA` as the file
// `admin`; some frameworks apply Unicode NFKC (full-width letters become ASCII), and Windows'
// "best fit" conversion to a code page drops accents (`Ā` → `A`). The route table uses the folded
// form two ways: to match routes marked caseInsensitive, and to refuse a request whose lenient
// reading would select another route than its exact one (docs/configuration.md#path-case-and-look-alikes).

// Anything that folding could change: upper-case ASCII, any non-ASCII, a segment ending in `.` or
// space, an NTFS stream suffix.
const FOLDABLE = /[A-Z]|[\u0080-\uffff]|[. ](?:\/|$)|::\$/;
// What needs the segment-by-segment work (the rest is lower-casing ASCII).
const NOT_PLAIN_ASCII = /[\u0080-\uffff]|[. ](?:\/|$)|::\$/;
const NON_ASCII = /[\u0080-\uffff]/;
const NTFS_DATA_STREAM = /::\$data$/;
const TRAILING_DOTS_SPACES = /[. ]+$/;
const COMBINING_MARKS = /\p{M}/gu;

/** Whether fold(path) may differ from path (cheap test for the hot path). */
export function needsFold(path: string): boolean {
  return FOLDABLE.test(path);
}

/**
 * The path as a lenient backend could read it, segment by segment: NFKC; case folded character by
 * character both ways, as Java's equalsIgnoreCase and .NET's OrdinalIgnoreCase do (`ſ` → `s`, `K`
 * (Kelvin) → `k`, `İ` → `i`); accents dropped; an NTFS `::$DATA` suffix dropped; then trailing dots
 * and spaces dropped. Segment boundaries are kept (the normalizer refuses anything whose NFKC form
 * holds a `/` or `\`), so the folded path has as many segments as the path.
 */
export function fold(path: string): string {
  if (!FOLDABLE.test(path)) return path;
  // The common case: ASCII with some upper case (`/api/lineItems`), nothing else to fold.
  if (!NOT_PLAIN_ASCII.test(path)) return path.toLowerCase();
  const segments = path.split('/');
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i] as string;
    const cased = NON_ASCII.test(s) ? foldUnicode(s.normalize('NFKC')).normalize('NFKD').replace(COMBINING_MARKS, '') : s.toLowerCase();
    const folded = cased.replace(NTFS_DATA_STREAM, '');
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
