// The authenticator contract (after Ory Oathkeeper): an authenticator that sees no credential of
// its kind returns undefined ("not mine"); one that sees its credential and finds it wrong throws a
// GatewayError ("yours, and wrong"). The first that answers with a principal wins.
import { GatewayError, type ErrorCode } from '../../errors.js';
import type { Exchange } from '../exchange.js';
import type { Principal } from '../principal.js';
import type { Stage } from '../exchange.js';

export interface Authenticator {
  /** The id used in config, logs and metric labels. */
  readonly id: string;
  authenticate(ex: Exchange): Promise<Principal | undefined>;
}

export interface AuthOutcomes {
  outcome(route: string, result: 'authenticated' | 'refused' | 'forbidden', reason: string): void;
}

export interface AuthenticateOptions {
  readonly routeName: string;
  /** Where browsers asking for HTML go when not signed in; undefined: always 401. */
  readonly loginRedirect: string | undefined;
  /** `unauthenticated: redirect`: every GET/HEAD goes to sign in, whatever it accepts. */
  readonly redirectEveryRead?: boolean;
  /** WWW-Authenticate on 401. */
  readonly challenge: string;
  readonly outcomes: AuthOutcomes;
}

/** Browsers navigating (GET/HEAD, asking for HTML) are sent to the login page; APIs get the 401. */
function wantsLoginPage(ex: Exchange, everyRead: boolean): boolean {
  const m = ex.req.method;
  if (m !== 'GET' && m !== 'HEAD') return false;
  const accept = ex.req.headers.accept;
  return everyRead || (typeof accept === 'string' && accept.includes('text/html'));
}

function loginLocation(redirect: string, ex: Exchange): string {
  // Only the path and query of this request go back: never a host, so never an open redirect.
  const back = encodeURIComponent(ex.encodedPath + ex.query);
  return `${redirect}${redirect.includes('?') ? '&' : '?'}return=${back}`;
}

export function authenticateStage(authenticators: readonly Authenticator[], opts: AuthenticateOptions): Stage {
  return async (ex) => {
    try {
      for (const a of authenticators) {
        const principal = await a.authenticate(ex);
        if (principal) {
          ex.principal = principal;
          opts.outcomes.outcome(opts.routeName, 'authenticated', a.id);
          return;
        }
      }
    } catch (err) {
      if (err instanceof GatewayError) {
        opts.outcomes.outcome(opts.routeName, 'refused', err.code);
        if (err.status === 401) throw refusal(err.code, ex, opts, err.headers);
      }
      throw err;
    }
    opts.outcomes.outcome(opts.routeName, 'refused', 'unauthenticated');
    throw refusal('unauthenticated', ex, opts, undefined);
  };
}

function refusal(
  code: ErrorCode,
  ex: Exchange,
  opts: AuthenticateOptions,
  headers: Readonly<Record<string, string>> | undefined,
): GatewayError {
  if (opts.loginRedirect && wantsLoginPage(ex, opts.redirectEveryRead === true)) {
    return new GatewayError(code, { status: 302, headers: { ...headers, location: loginLocation(opts.loginRedirect, ex) } });
  }
  return new GatewayError(code, { headers: { 'www-authenticate': opts.challenge, ...headers } });
}
