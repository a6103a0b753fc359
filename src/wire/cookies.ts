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

/** The header without any cookie of these names; undefined when nothing is left. */
export function removeCookies(header: string, names: readonly string[]): string | undefined {
  if (!names.some((n) => header.includes(n))) return header;
  const kept = header
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p && !names.includes(p.slice(0, p.indexOf('=') === -1 ? p.length : p.indexOf('=')).trim()));
  return kept.length > 0 ? kept.join('; ') : undefined;
}

/**
 * Whether the header holds the cookie `name` twice with different values: the sign of cookie
 * tossing (a sibling subdomain or an injected Set-Cookie planting its own session beside the
 * user's). Browsers send both; which one an application reads differs, so the gateway refuses.
 */
export function conflictingCookie(header: string | undefined, name: string): boolean {
  if (!header) return false;
  const first = header.indexOf(name);
  if (first === -1 || header.indexOf(name, first + name.length) === -1) return false;
  let seen: string | undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    if (seen === undefined) seen = value;
    else if (seen !== value) return true;
  }
  return false;
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
