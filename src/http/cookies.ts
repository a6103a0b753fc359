// Just enough cookie handling for the gateway's own cookie: find it, remove it from what is
// forwarded, write it. RFC 6265 §4.2.1: `name=value` pairs separated by `; `.

/** The value of the first cookie called `name`, or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(';', start);
    if (end === -1) end = header.length;
    const eq = header.indexOf('=', start);
    if (eq !== -1 && eq < end && header.slice(start, eq).trim() === name) return header.slice(eq + 1, end).trim();
    start = end + 1;
  }
  return undefined;
}

/** The header without any cookie called `name`; undefined when nothing is left. */
export function removeCookie(header: string, name: string): string | undefined {
  if (!header.includes(name)) return header;
  const kept = header
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p && p.slice(0, p.indexOf('=') === -1 ? p.length : p.indexOf('=')).trim() !== name);
  return kept.length > 0 ? kept.join('; ') : undefined;
}

/** Whether a Set-Cookie line sets the cookie `name`. */
export function setsCookie(line: string, name: string): boolean {
  const eq = line.indexOf('=');
  return eq !== -1 && line.slice(0, eq).trim() === name;
}

export interface CookieAttributes {
  readonly sameSite: 'lax' | 'strict' | 'none';
  readonly secure: boolean;
  readonly domain?: string | undefined;
  readonly path: string;
}

export function serializeCookie(name: string, value: string, attrs: CookieAttributes, maxAgeSeconds?: number): string {
  let out = `${name}=${value}; Path=${attrs.path}; HttpOnly; SameSite=${attrs.sameSite[0]?.toUpperCase()}${attrs.sameSite.slice(1)}`;
  if (attrs.secure) out += '; Secure';
  if (attrs.domain) out += `; Domain=${attrs.domain}`;
  if (maxAgeSeconds !== undefined) out += `; Max-Age=${maxAgeSeconds}`;
  return out;
}

export function clearCookie(name: string, attrs: CookieAttributes): string {
  return serializeCookie(name, '', attrs, 0);
}
