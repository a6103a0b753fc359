// Route policy: who may pass once authenticated. `require.roles` is any-of against the `roles`
// claim (a list or a single string). 403, not 401: the caller is known, just not allowed.
import { GatewayError } from '../../errors.js';
import type { Stage } from '../exchange.js';

export function rolesOf(claims: Readonly<Record<string, unknown>>): readonly string[] {
  const r = claims.roles;
  if (Array.isArray(r)) return r.filter((x): x is string => typeof x === 'string');
  return typeof r === 'string' ? [r] : [];
}

export function requireRolesStage(anyOf: readonly string[]): Stage {
  const wanted = new Set(anyOf);
  return (ex) => {
    const principal = ex.principal;
    if (!principal || !rolesOf(principal.claims).some((r) => wanted.has(r))) throw new GatewayError('forbidden');
  };
}
