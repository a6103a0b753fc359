// TLS at the edge: the public listener's certificate and key (PEM, chain included), TLS 1.2 or
// later with Mozilla's "intermediate" cipher list by default, and a reload that swaps the pair on
// live servers (SIGHUP, or the files changing) without dropping a connection. A new pair that does
// not load or does not match is refused with its files named, and the running pair is kept.
import { readFile } from 'node:fs/promises';
import { createSecureContext, type SecureContextOptions, type Server as TlsServer } from 'node:tls';
import type { GatewayConfig } from '../config/schema.js';
import { clientCertOf } from '../wire/client-cert.js';

/** Mozilla's "intermediate" TLS 1.2 ciphers (TLS 1.3 suites are always on and not listed here). */
export const INTERMEDIATE_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'DHE-RSA-AES128-GCM-SHA256',
  'DHE-RSA-AES256-GCM-SHA384',
  'DHE-RSA-CHACHA20-POLY1305',
].join(':');

export type TlsSettings = NonNullable<GatewayConfig['listen']['tls']>;
/** What any listener's TLS has (listen.tls, admin.tls). */
export type TlsFiles = Pick<TlsSettings, 'certFile' | 'keyFile' | 'minVersion' | 'ciphers' | 'clientCertificates'>;

export class TlsFilesError extends Error {}

/** Read and check the pair: a key that does not fit the certificate, or an unreadable file, throws TlsFilesError. */
export async function loadTlsOptions(tls: TlsFiles, resolvePath: (p: string) => string): Promise<SecureContextOptions> {
  const certFile = resolvePath(tls.certFile);
  const keyFile = resolvePath(tls.keyFile);
  let cert: Buffer;
  let key: Buffer;
  try {
    [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
  } catch (err) {
    throw new TlsFilesError(`${(err as NodeJS.ErrnoException).path ?? certFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const options: SecureContextOptions & { requestCert?: boolean; rejectUnauthorized?: boolean } = { cert, key, minVersion: tls.minVersion, ciphers: tls.ciphers ?? INTERMEDIATE_CIPHERS };
  const clients = tls.clientCertificates;
  if (clients) {
    const caFile = resolvePath(clients.caFile);
    try {
      options.ca = await readFile(caFile);
    } catch (err) {
      throw new TlsFilesError(`clientCertificates: ${caFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    options.requestCert = true;
    options.rejectUnauthorized = clients.mode === 'require';
  }
  try {
    createSecureContext(options);
  } catch (err) {
    throw new TlsFilesError(`${certFile} and ${keyFile} do not load as a certificate and its key (${(err as Error).message})`);
  }
  return options;
}

/** Swap the pair on a live server; the old one stays when the new one is refused. Answers whether it was swapped. */
export async function reloadTls(server: TlsServer, tls: TlsFiles, resolvePath: (p: string) => string, log: { info(o: object, m: string): void; error(o: object, m: string): void }): Promise<boolean> {
  try {
    server.setSecureContext(await loadTlsOptions(tls, resolvePath));
    log.info({ certFile: tls.certFile }, 'TLS certificate reloaded');
    return true;
  } catch (err) {
    log.error({ problem: (err as Error).message }, 'TLS certificate reload refused; keeping the running certificate');
    return false;
  }
}

/** Strict-Transport-Security for HTTPS answers, or undefined when turned off. */
export function hstsValue(tls: TlsSettings): string | undefined {
  if (!tls.hsts) return undefined;
  return `max-age=${Math.floor(tls.hsts.maxAge / 1000)}${tls.hsts.includeSubDomains ? '; includeSubDomains' : ''}${tls.hsts.preload ? '; preload' : ''}`;
}

/**
 * What a verified client certificate says, as headers for the upstream (their client-sent spellings
 * are identity headers, always dropped): the subject's CN and the SHA-256 fingerprint. Nothing for
 * a certificate the CA bundle did not verify.
 */
export function clientCertHeaders(socket: unknown): string[] {
  const cert = clientCertOf(socket);
  if (!cert) return [];
  const out = ['x-client-cert-fingerprint', cert.fingerprint];
  // Percent-encoded like identity headers: a subject cannot split a header or pose as another.
  if (cert.subject) out.push('x-client-cert-subject', /^[\x21-\x24\x26-\x7e]+$/.test(cert.subject) ? cert.subject : encodeURIComponent(cert.subject));
  return out;
}
