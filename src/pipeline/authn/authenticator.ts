// The authenticator contract (after Ory Oathkeeper): an authenticator that sees no credential of
// its kind returns undefined ("not mine"); one that sees its credential and finds it wrong throws a
// GatewayError ("yours, and wrong"). The first that answers with a principal wins.
// An authenticator answers synchronously when it can (a cache hit) and with a promise when it must
// wait (a store read, a signature check): a cache-hit request then goes through its stages without
// a microtask per await (bench/README.md).
import { GatewayError, type ErrorCode } from '../../errors.js';
import type { Exchange } from '../exchange.js';
import type { Principal } from '../principal.js';
import type { Stage } from '../exchange.js';

export interface Authenticator {
  /** The id used in config, logs and metric labels. */
  readonly id: string;
  authenticate(ex: Exchange): Principal | undefined | Promise<Principal | undefined>;
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
  const accept = (ex: Exchange, principal: Principal, a: Authenticator): void => {
    ex.principal = principal;
    opts.outcomes.outcome(opts.routeName, 'authenticated', a.id);
  };
  const refuse = (ex: Exchange, err: unknown): never => {
    if (err instanceof GatewayError) {
      opts.outcomes.outcome(opts.routeName, 'refused', err.code);
      if (err.status === 401) throw refusal(err.code, ex, opts, err.headers);
    }
    throw err;
  };
  const nobody = (ex: Exchange): never => {
    opts.outcomes.outcome(opts.routeName, 'refused', 'unauthenticated');
    throw refusal('unauthenticated', ex, opts, undefined);
  };
  // From the first authenticator that had to wait (`at`): the same walk, awaiting each answer.
  const rest = async (ex: Exchange, at: number, waiting: Promise<Principal | undefined>): Promise<void> => {
    try {
      let i = at;
      let answer = await waiting;
      while (!answer && ++i < authenticators.length) answer = await (authenticators[i] as Authenticator).authenticate(ex);
      if (answer) return accept(ex, answer, authenticators[i] as Authenticator);
    } catch (err) {
      refuse(ex, err);
    }
    nobody(ex);
  };
  return (ex) => {
    try {
      for (let i = 0; i < authenticators.length; i++) {
        const a = authenticators[i] as Authenticator;
        const answer = a.authenticate(ex);
        if (answer instanceof Promise) return rest(ex, i, answer);
        if (answer) return accept(ex, answer, a);
      }
    } catch (err) {
      refuse(ex, err);
    }
    nobody(ex);
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
