// Session IDs: 32 bytes from the CSPRNG, base64url in the cookie. Stores only ever see
// sha256(id), so a read of Redis (a backup, a replica, MONITOR) hands out no live session.
import { hash, randomBytes } from 'node:crypto';

/** Exactly what newSessionId() produces: 43 base64url characters. */
const SHAPE = /^[A-Za-z0-9_-]{43}$/;

export function newSessionId(): string {
  return randomBytes(32).toString('base64url');
}

/** Public handles and CSRF tokens: 16 random bytes. */
export function newHandle(): string {
  return randomBytes(16).toString('base64url');
}

export function isSessionIdShape(value: string): boolean {
  return SHAPE.test(value);
}

// crypto.hash (one-shot) costs a fraction of createHash().update().digest() on the hot path.
export function hashSessionId(id: string): string {
  return hash('sha256', id, 'base64url');
}
