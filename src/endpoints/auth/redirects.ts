// Where a browser may be sent after signing in: a relative path on this site, or an allow-listed
// origin. Anything else (`//evil`, `/\evil`, `javascript:`, other hosts) falls back to `/`.

export function safeRedirect(target: string | undefined, allowedOrigins: ReadonlySet<string>): string {
  if (!target) return '/';
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\\]/.test(target)) return '/';
  if (target.startsWith('/') && !target.startsWith('//')) return target;
  try {
    const u = new URL(target);
    if ((u.protocol === 'https:' || u.protocol === 'http:') && allowedOrigins.has(u.origin)) return u.href;
  } catch {
    // not a URL
  }
  return '/';
}
