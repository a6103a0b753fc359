// What a verified client certificate on the connection says (listen.tls.clientCertificates): its
// subject's CN and its SHA-256 fingerprint (hex). Undefined for a plain connection, no
// certificate, or one the CA bundle did not verify: an unverified certificate says nothing.
import type { TLSSocket } from 'node:tls';

export interface ClientCert {
  readonly subject: string;
  readonly fingerprint: string;
}

const CACHE = Symbol('clientCert');
type Marked = Partial<TLSSocket> & { [CACHE]?: ClientCert | null };

export function clientCertOf(socket: unknown): ClientCert | undefined {
  const s = socket as Marked;
  // Read once per connection: every request on it has the same certificate.
  if (s[CACHE] !== undefined) return s[CACHE] ?? undefined;
  let found: ClientCert | null = null;
  if (typeof s.getPeerCertificate === 'function' && s.authorized === true) {
    const cert = s.getPeerCertificate();
    if (cert?.fingerprint256) {
      const cn = cert.subject?.CN;
      found = { subject: typeof cn === 'string' ? cn : '', fingerprint: cert.fingerprint256.replace(/:/g, '').toLowerCase() };
    }
  }
  s[CACHE] = found;
  return found ?? undefined;
}
