// Who may talk to the admin listener. It is bound to a private address, but a browser on the same
// machine or network can still reach it: a page on any site can send it a POST (CSRF), and DNS
// rebinding lets a page read its answers under the page's own host name. So every admin request
// that comes from a browser page (Origin, or Sec-Fetch-Site other than "none") or names a Host that
// is not an IP address, localhost or an allowed name is refused, and mutating endpoints need the
// admin bearer credential on top. (The rules of Vite's server.allowedHosts and of Docker's and
// Jupyter's DNS-rebinding advisories.)
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { GatewayError } from '../errors.js';

export interface AdminGuardOptions {
  /** admin.allowedHosts: names accepted in Host besides IP addresses and localhost. */
  readonly allowedHosts: readonly string[];
  /** The admin credential; undefined: mutating endpoints refuse every request. */
  readonly credential: string | undefined;
}

const CHALLENGE = { 'www-authenticate': 'Bearer realm="gateway-admin"' };

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export class AdminGuard {
  private readonly allowedHosts: ReadonlySet<string>;
  private readonly credentialDigest: Buffer | undefined;

  constructor(opts: AdminGuardOptions) {
    this.allowedHosts = new Set(opts.allowedHosts.map((h) => h.toLowerCase()));
    this.credentialDigest = opts.credential === undefined ? undefined : digest(opts.credential);
  }

  /** Throws origin_not_allowed for browser pages and unknown host names. */
  checkCaller(req: IncomingMessage): void {
    const site = req.headers['sec-fetch-site'];
    if (req.headers.origin !== undefined || (site !== undefined && site !== 'none')) {
      throw new GatewayError('origin_not_allowed', { detail: 'browser page' });
    }
    if (!this.hostAllowed(req.headers.host)) throw new GatewayError('origin_not_allowed', { detail: 'host' });
  }

  /** Throws admin_unauthorized unless the request carries the admin credential. */
  checkCredential(req: IncomingMessage): void {
    const auth = req.headers.authorization;
    const presented = typeof auth === 'string' && /^bearer /i.test(auth) ? auth.slice(7).trim() : undefined;
    // Digests have one length, so the comparison takes the same time whatever was sent.
    if (this.credentialDigest === undefined || presented === undefined || !timingSafeEqual(digest(presented), this.credentialDigest)) {
      throw new GatewayError('admin_unauthorized', { headers: CHALLENGE });
    }
  }

  private hostAllowed(header: string | undefined): boolean {
    // HTTP/1.0 without Host: no browser sends that.
    if (header === undefined || header === '') return true;
    const host = hostName(header);
    if (host === undefined) return false;
    if (isIP(host) !== 0 || host === 'localhost' || host.endsWith('.localhost')) return true;
    return this.allowedHosts.has(host);
  }
}

/** The host name of a Host header without port or brackets, lower case; undefined when malformed. */
function hostName(header: string): string | undefined {
  const h = header.toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end === -1 ? undefined : h.slice(1, end);
  }
  const m = /^([a-z0-9.-]+)(?::\d{1,5})?$/.exec(h);
  return m ? (m[1] as string).replace(/\.$/, '') : undefined;
}

/** Shortest credential accepted: 32 characters (`openssl rand -hex 32` gives 64). */
export const MIN_CREDENTIAL_LENGTH = 32;

/**
 * The admin credential from admin.credentialFile (relative to gateway.yaml) or the variable named
 * by admin.credentialEnv; undefined when neither is set. Throws a message for the config error.
 */
export async function loadAdminCredential(
  admin: { readonly credentialFile?: string | undefined; readonly credentialEnv?: string | undefined },
  baseDir: string,
  env: NodeJS.ProcessEnv,
): Promise<{ credential: string | undefined; problem?: { key: string; message: string } }> {
  let value: string | undefined;
  let key: string;
  if (admin.credentialFile !== undefined) {
    key = 'admin.credentialFile';
    try {
      value = (await readFile(resolve(baseDir, admin.credentialFile), 'utf8')).trim();
    } catch (err) {
      return { credential: undefined, problem: { key, message: `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})` } };
    }
  } else if (admin.credentialEnv !== undefined) {
    key = 'admin.credentialEnv';
    value = env[admin.credentialEnv]?.trim();
    if (!value) return { credential: undefined, problem: { key, message: `${admin.credentialEnv} is not set` } };
  } else {
    return { credential: undefined };
  }
  if (value.length < MIN_CREDENTIAL_LENGTH) {
    return { credential: undefined, problem: { key, message: `the credential must be at least ${MIN_CREDENTIAL_LENGTH} characters` } };
  }
  return { credential: value };
}
