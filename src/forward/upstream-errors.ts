// The one mapping table from upstream failures to answers. Causes go to the log; clients only see
// the stable code.
import type { ErrorCode } from '../errors.js';

export type UpstreamFailureKind = 'connect' | 'tls' | 'timeout' | 'reset' | 'aborted' | 'fd_exhausted' | 'other';

interface Mapping {
  readonly kind: UpstreamFailureKind;
  readonly code: ErrorCode;
  /** Nothing reached the upstream: safe to eject the target and try another. */
  readonly beforeSend: boolean;
}

const BY_ERROR_CODE: Record<string, Mapping> = {
  ECONNREFUSED: { kind: 'connect', code: 'upstream_unavailable', beforeSend: true },
  EHOSTUNREACH: { kind: 'connect', code: 'upstream_unavailable', beforeSend: true },
  ENETUNREACH: { kind: 'connect', code: 'upstream_unavailable', beforeSend: true },
  ENOTFOUND: { kind: 'connect', code: 'upstream_unavailable', beforeSend: true },
  EAI_AGAIN: { kind: 'connect', code: 'upstream_unavailable', beforeSend: true },
  UND_ERR_CONNECT_TIMEOUT: { kind: 'connect', code: 'upstream_unavailable', beforeSend: true },
  UND_ERR_HEADERS_TIMEOUT: { kind: 'timeout', code: 'upstream_timeout', beforeSend: false },
  UND_ERR_BODY_TIMEOUT: { kind: 'timeout', code: 'upstream_timeout', beforeSend: false },
  ECONNRESET: { kind: 'reset', code: 'upstream_error', beforeSend: false },
  EPIPE: { kind: 'reset', code: 'upstream_error', beforeSend: false },
  UND_ERR_SOCKET: { kind: 'reset', code: 'upstream_error', beforeSend: false },
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: { kind: 'reset', code: 'upstream_error', beforeSend: false },
  UND_ERR_ABORTED: { kind: 'aborted', code: 'upstream_error', beforeSend: false },
  ABORT_ERR: { kind: 'aborted', code: 'upstream_error', beforeSend: false },
  // The gateway is out of file descriptors, not the target at fault: never ejected for it.
  EMFILE: { kind: 'fd_exhausted', code: 'upstream_unavailable', beforeSend: false },
  ENFILE: { kind: 'fd_exhausted', code: 'upstream_unavailable', beforeSend: false },
};

// The upstream's certificate was refused (expired, another host's, an unknown CA) or the handshake
// failed: nothing was sent. Its own kind, so a dashboard tells a certificate problem from an outage.
const TLS: Mapping = { kind: 'tls', code: 'upstream_unavailable', beforeSend: true };
const TLS_CODES: ReadonlySet<string> = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
]);

const OTHER: Mapping = { kind: 'other', code: 'upstream_error', beforeSend: false };

export function classifyUpstreamError(err: unknown): Mapping {
  const e = err as { code?: string; name?: string; cause?: { code?: string } } | undefined;
  const code = e?.code ?? e?.cause?.code;
  if (code && Object.hasOwn(BY_ERROR_CODE, code)) return BY_ERROR_CODE[code] as Mapping;
  if (code && (TLS_CODES.has(code) || code.startsWith('ERR_SSL_'))) return TLS;
  if (e?.name === 'AbortError') return BY_ERROR_CODE.ABORT_ERR as Mapping;
  return OTHER;
}
