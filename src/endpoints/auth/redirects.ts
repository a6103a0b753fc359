// Where a browser may be sent after signing in: a relative path on this site, or an allow-listed
// origin. Anything else (`//evil`, `/\evil`, `javascript:`, other hosts) falls back to `/`.

export function safeRedirect(target: string | undefined, allowedOrigins: ReadonlySet<string>): string {
  if (!target) return '/';
  // Only printable ASCII: control characters and backslashes are how open redirects are spelt, and
  // anything beyond ASCII cannot go in a Location header at all (writing it would fail after the
  // session was made). A browser sends non-ASCII paths percent-encoded anyway.
  if (!/^[\x21-\x7e]+$/.test(target) || target.includes('\\')) return '/';
  if (target.startsWith('/') && !target.startsWith('//')) return target;
  try {
    const u = new URL(target);
    if ((u.protocol === 'https:' || u.protocol === 'http:') && allowedOrigins.has(u.origin)) return u.href;
  } catch {
    // not a URL
  }
  return '/';
}
