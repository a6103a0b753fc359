// Route policy: who may pass once authenticated. `require` is compiled at load into one check that
// allocates nothing per request (claim paths split once, value lists turned into sets) and answers
// undefined (pass) or a fixed reason word. 403 `forbidden`, not 401: the caller is known, just not
// allowed; the reason travels in the body and the metrics, never the policy text.
import type { PolicyConfig } from '../../config/policy-schema.js';
import { GatewayError } from '../../errors.js';
import { compileClaimPath } from '../../sessions/claim-path.js';
import type { Stage } from '../exchange.js';
import type { Principal } from '../principal.js';
import { clientCertOf } from '../../wire/client-cert.js';

/** Why a policy refused: one word per kind of condition. */
export type PolicyReason = 'role' | 'claim' | 'scope' | 'via' | 'issuer' | 'acr' | 'client_cert' | 'any';

/** The request's socket: a clientCert condition reads its certificate (once per connection, wire/client-cert.ts). */
type Check = (p: Principal, socket: unknown) => PolicyReason | undefined;
type Scalar = string | number | boolean;

/** The issuer a principal was vouched for by: an external token's `iss` (set by its authenticator, never a claim), or `gateway` (sessions, own access tokens). */
export const GATEWAY_ISSUER = 'gateway';

export function compilePolicy(policy: PolicyConfig): Check {
  const checks: Check[] = [];
  if (policy.roles) checks.push(anyInClaim('roles', policy.roles, 'role'));
  for (const [path, condition] of Object.entries(policy.claims ?? {})) checks.push(claimCheck(path, condition));
  if (policy.scopes) checks.push(scopesCheck(policy.scopes));
  if (policy.via) {
    const via = new Set(policy.via);
    checks.push((p) => (via.has(p.via) ? undefined : 'via'));
  }
  if (policy.issuers) {
    const issuers = new Set(policy.issuers);
    checks.push((p) => (issuers.has(p.issuer ?? GATEWAY_ISSUER) ? undefined : 'issuer'));
  }
  if (policy.acr) checks.push(anyInClaim('acr', policy.acr, 'acr'));
  if (policy.clientCert) {
    const subjects = policy.clientCert.subjects ? new Set(policy.clientCert.subjects) : undefined;
    const fingerprints = policy.clientCert.fingerprints ? new Set(policy.clientCert.fingerprints.map((f) => f.toLowerCase())) : undefined;
    checks.push((_p, socket) => {
      const cert = clientCertOf(socket);
      if (!cert) return 'client_cert';
      if (subjects && !subjects.has(cert.subject)) return 'client_cert';
      if (fingerprints && !fingerprints.has(cert.fingerprint)) return 'client_cert';
      return undefined;
    });
  }
  if (policy.all) checks.push(...policy.all.map(compilePolicy));
  if (policy.any) {
    const options = policy.any.map(compilePolicy);
    checks.push((p, c) => {
      for (const option of options) if (option(p, c) === undefined) return undefined;
      return 'any';
    });
  }
  if (checks.length === 1) return checks[0] as Check;
  return (p, c) => {
    for (const check of checks) {
      const reason = check(p, c);
      if (reason !== undefined) return reason;
    }
    return undefined;
  };
}

export function policyStage(policy: PolicyConfig, onRefused?: (reason: PolicyReason) => void): Stage {
  const check = compilePolicy(policy);
  return (ex) => {
    const principal = ex.principal;
    const reason = principal ? check(principal, ex.req.socket) : 'claim';
    if (reason === undefined) return;
    onRefused?.(reason);
    throw new GatewayError('forbidden', { reason });
  };
}

/** The claim (a list, or one value) holds at least one of `wanted`. */
function anyInClaim(path: string, wanted: readonly Scalar[], reason: PolicyReason): Check {
  const read = compileClaimPath(path);
  const set = new Set<unknown>(wanted);
  return (p) => {
    const v = read(p.claims);
    if (Array.isArray(v)) {
      for (const x of v) if (set.has(x)) return undefined;
      return reason;
    }
    return set.has(v) ? undefined : reason;
  };
}

function claimCheck(path: string, condition: NonNullable<PolicyConfig['claims']>[string]): Check {
  if (typeof condition !== 'object') return anyInClaim(path, [condition], 'claim');
  if ('anyOf' in condition) return anyInClaim(path, condition.anyOf, 'claim');
  const read = compileClaimPath(path);
  if ('allOf' in condition) {
    const wanted = condition.allOf;
    return (p) => {
      const v = read(p.claims);
      if (!Array.isArray(v)) return wanted.length === 1 && v === wanted[0] ? undefined : 'claim';
      for (const w of wanted) if (!v.includes(w)) return 'claim';
      return undefined;
    };
  }
  const suffix = condition.endsWith;
  return (p) => {
    const v = read(p.claims);
    return typeof v === 'string' && v.length > suffix.length && v.endsWith(suffix) ? undefined : 'claim';
  };
}

/** Every wanted scope in `scope` (space-separated, RFC 8693 / 9068) or `scp` (a list, as some issuers send). */
function scopesCheck(wanted: readonly string[]): Check {
  return (p) => {
    const scope = p.claims.scope;
    const scp = p.claims.scp;
    for (const w of wanted) {
      const found = (typeof scope === 'string' && hasWord(scope, w)) || (Array.isArray(scp) && scp.includes(w));
      if (!found) return 'scope';
    }
    return undefined;
  };
}

/** `word` as a whole space-separated item of `list`, without splitting it. */
function hasWord(list: string, word: string): boolean {
  let from = 0;
  for (;;) {
    const i = list.indexOf(word, from);
    if (i < 0) return false;
    const end = i + word.length;
    if ((i === 0 || list.charCodeAt(i - 1) === 32) && (end === list.length || list.charCodeAt(end) === 32)) return true;
    from = i + 1;
  }
}
