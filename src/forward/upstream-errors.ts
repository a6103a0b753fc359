// The one mapping table from upstream failures to answers. Causes go to the log; clients only see
// the stable code.
import type { ErrorCode } from '../errors.js';

export type UpstreamFailureKind = 'connect' | 'timeout' | 'reset' | 'aborted' | 'fd_exhausted' | 'other';

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

const OTHER: Mapping = { kind: 'other', code: 'upstream_error', beforeSend: false };

export function classifyUpstreamError(err: unknown): Mapping {
  const e = err as { code?: string; name?: string; cause?: { code?: string } } | undefined;
  const code = e?.code ?? e?.cause?.code;
  if (code && Object.hasOwn(BY_ERROR_CODE, code)) return BY_ERROR_CODE[code] as Mapping;
  if (e?.name === 'AbortError') return BY_ERROR_CODE.ABORT_ERR as Mapping;
  return OTHER;
}
