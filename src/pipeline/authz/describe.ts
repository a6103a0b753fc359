// A route's `require` in words, for `gateway explain`: what policy.ts compiles, read back the way
// it checks it (every key ANDed, `any` and `all` combining whole policies).
import type { PolicyConfig } from '../../config/policy-schema.js';
import { GATEWAY_ISSUER } from './policy.js';

type Condition = NonNullable<PolicyConfig['claims']>[string];

const list = (values: readonly unknown[]) => values.map((v) => JSON.stringify(v)).join(', ');

function claimWords(path: string, c: Condition): string {
  if (typeof c !== 'object') return `claim ${path} is ${JSON.stringify(c)} (a list: contains it)`;
  if ('anyOf' in c) return `claim ${path} is one of ${list(c.anyOf)} (a list: contains one)`;
  if ('allOf' in c) return `claim ${path} is a list containing all of ${list(c.allOf)}`;
  return `claim ${path} is a string ending with ${JSON.stringify(c.endsWith)}`;
}

/** Each condition of one policy, in words; they must all hold. */
function conditions(p: PolicyConfig): string[] {
  const out: string[] = [];
  if (p.roles) out.push(`the roles claim holds one of ${list(p.roles)} (else 403, reason role)`);
  for (const [path, c] of Object.entries(p.claims ?? {})) out.push(`${claimWords(path, c)} (else 403, reason claim)`);
  if (p.scopes) out.push(`the token's scope (or scp) holds every one of ${list(p.scopes)} (else 403, reason scope)`);
  if (p.via) out.push(`authenticated via ${p.via.join(' or ')} (else 403, reason via)`);
  if (p.issuers) out.push(`vouched for by ${list(p.issuers)} (${GATEWAY_ISSUER}: its own sessions and access tokens; else 403, reason issuer)`);
  if (p.acr) out.push(`the authentication context (acr) is one of ${list(p.acr)} (else 403, reason acr)`);
  if (p.clientCert) {
    const parts = [p.clientCert.subjects && `CN one of ${list(p.clientCert.subjects)}`, p.clientCert.fingerprints && `SHA-256 one of ${p.clientCert.fingerprints.join(', ')}`].filter(Boolean);
    out.push(`a verified client certificate on the connection${parts.length > 0 ? ` with ${parts.join(' and ')}` : ''} (else 403, reason client_cert)`);
  }
  if (p.all) out.push(`all of: ${p.all.map((q) => `(${conditions(q).join('; and ')})`).join(' and ')}`);
  if (p.any) out.push(`at least one of: ${p.any.map((q) => `(${conditions(q).join('; and ')})`).join(' or ')} (else 403, reason any)`);
  return out;
}

/** The conditions a principal must meet, in words, in the order the compiled check tests them. */
export function describePolicy(policy: PolicyConfig): string[] {
  return conditions(policy);
}
