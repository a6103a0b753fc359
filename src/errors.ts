// Every error the gateway itself answers with. The code is the stable contract (clients and
// dashboards switch on it); the message is for people and may be reworded. docs/errors.md lists
// the same table and test/unit/errors.test.ts keeps the two in step. This file imports nothing.

export const ERRORS = {
  bad_request: { status: 400, message: 'The request is malformed.' },
  bad_path: { status: 400, message: 'The request path cannot be normalized safely.' },
  bad_host: { status: 400, message: 'The Host header is malformed.' },
  ambiguous_path: { status: 400, message: 'The request path could select another route when case or look-alike characters are ignored.' },
  duplicate_header: { status: 400, message: 'The request repeats a header that must appear once (Host, Authorization).' },
  method_override_refused: { status: 400, message: 'The query string names another method than the request\'s (_method and its like).' },
  cookie_conflict: { status: 400, message: 'The request carries two different values of a sign-in cookie; clear this site\'s cookies and sign in again.' },
  request_smuggling: { status: 400, message: 'The request framing is ambiguous (Content-Length / Transfer-Encoding).' },
  upgrade_not_allowed: { status: 400, message: 'This route does not accept protocol upgrades.' },
  invalid_body: { status: 400, message: 'The request body is not valid for this endpoint.' },
  invalid_grant: { status: 400, message: 'The refresh token is invalid, expired or revoked.' },
  sign_in_failed: { status: 400, message: 'The sign-in with the identity provider could not be completed; start again.' },
  invalid_logout_token: { status: 400, message: 'The logout token is not valid.' },
  unauthenticated: { status: 401, message: 'Sign in to continue.' },
  session_invalid: { status: 401, message: 'The session is unknown, expired or revoked; sign in again.' },
  invalid_credentials: { status: 401, message: 'The credentials were not accepted.' },
  invalid_token: { status: 401, message: 'The bearer token is invalid, expired or revoked.' },
  admin_unauthorized: { status: 401, message: 'This admin endpoint needs the admin credential.' },
  forbidden: { status: 403, message: 'You are signed in but not allowed to do this.' },
  decide_refused: { status: 403, message: 'Decisions are given to trusted edge proxies only (trustedProxies).' },
  header_refused: { status: 403, message: 'The request carries a header its upstream would trust (an identity, override or internal-token header).' },
  csrf_failed: { status: 403, message: 'The request failed the cross-site request forgery checks.' },
  cors_refused: { status: 403, message: 'This cross-origin request is not allowed on this route.' },
  origin_not_allowed: { status: 403, message: 'The admin listener does not answer browser pages or unknown host names.' },
  session_not_found: { status: 404, message: 'No such session of yours.' },
  route_not_found: { status: 404, message: 'No route matches this request.' },
  method_not_allowed: { status: 405, message: 'This route does not accept this method.' },
  request_timeout: { status: 408, message: 'The request was not received in time.' },
  body_too_large: { status: 413, message: 'The request body is larger than this route allows.' },
  url_too_long: { status: 414, message: 'The request URL is too long.' },
  unsupported_media_type: { status: 415, message: 'Send JSON or a form (application/x-www-form-urlencoded).' },
  rate_limited: { status: 429, message: 'Too many attempts; try again later.' },
  headers_too_large: { status: 431, message: 'The request headers are too large.' },
  too_many_headers: { status: 431, message: 'The request has more header lines than allowed.' },
  internal_error: { status: 500, message: 'The gateway failed to handle this request.' },
  upstream_unavailable: { status: 502, message: 'The upstream service could not be reached.' },
  upstream_error: { status: 502, message: 'The upstream service failed while answering.' },
  login_unavailable: { status: 502, message: 'The credential check could not be completed.' },
  provider_unavailable: { status: 502, message: 'The identity provider could not be reached.' },
  session_store_unavailable: { status: 503, message: 'Sessions cannot be checked right now; try again shortly.' },
  issuer_unavailable: { status: 503, message: 'The token issuer\'s keys cannot be fetched right now; try again shortly.' },
  upstream_timeout: { status: 504, message: 'The upstream service did not answer in time.' },
} as const satisfies Record<string, { status: number; message: string }>;

/** A stable error code; a literal union so `switch (err.code)` narrows. */
export type ErrorCode = keyof typeof ERRORS;

/**
 * "Yours, and wrong": an error the gateway answers itself. `cause` is for the log only and never
 * reaches the client; `headers` are added to the answer (Allow, Retry-After, WWW-Authenticate).
 */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>> | undefined;
  /** A fixed word that says which check refused (a policy's `role`, `scope`...): shown to clients, so never input. */
  readonly reason: string | undefined;

  constructor(
    code: ErrorCode,
    options: { cause?: unknown; headers?: Record<string, string>; detail?: string; status?: 302; reason?: string } = {},
  ) {
    super(options.detail ?? ERRORS[code].message, { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    // The one override: a browser sent to the login page gets 302 with the same code in the body.
    this.status = options.status ?? ERRORS[code].status;
    this.headers = options.headers;
    this.reason = options.reason;
  }

  /** The text clients see: always the table's message, never a detail that might carry input. */
  get publicMessage(): string {
    return ERRORS[this.code].message;
  }
}

/** A configuration problem, located in its file: `routes.yaml:14:7 routes[2].auth: ...`. */
export interface ConfigProblem {
  file: string;
  line: number;
  column: number;
  path: string;
  message: string;
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.column}` : p.file;
  return p.path ? `${where} ${p.path}: ${p.message}` : `${where} ${p.message}`;
}

/** Thrown by configuration loading with every problem found, not just the first. */
export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** A store (Redis) that did not answer: 503, fail closed, the client told to retry in a second. */
export function storeUnavailable(cause: unknown): GatewayError {
  return new GatewayError('session_store_unavailable', { cause, headers: { 'retry-after': '1' } });
}
