// Route policies as table-driven matrices: each condition alone, combined with any/all, against
// principals of each kind; and the located errors for policies no request could pass.
import { describe, expect, it } from 'vitest';
import { policySchema, type PolicyConfig } from '../../src/config/policy-schema.js';
import { routesSchema } from '../../src/config/routes-schema.js';
import { compilePolicy } from '../../src/pipeline/authz/policy.js';
import type { Principal } from '../../src/pipeline/principal.js';

const session = (claims: Record<string, unknown>): Principal => ({ sub: 'u1', claims, via: 'session', sessionHandle: 'h' });
const bearer = (claims: Record<string, unknown>, issuer?: string): Principal => ({ sub: 'u1', claims, via: 'bearer', sessionHandle: 'h', ...(issuer ? { issuer } : {}) });

const alice = session({ email: 'alice@example.com', roles: ['user', 'ops'], groups: ['eng', 'sre'], org: { tenant: 'acme' }, acr: 'mfa' });
const bob = session({ email: 'bob@evil-example.com', roles: 'user', groups: ['eng'], org: { tenant: 'other' } });
const api = bearer({ scope: 'orders:read orders:write', roles: ['svc'] }, 'https://idp.example');
const apiScp = bearer({ scp: ['orders:read'] }, 'https://other.example');
// A login answer (or a token claim) naming an issuer: not an issuer.
const posing = session({ src_iss: 'https://idp.example' });
const own = bearer({ scope: 'orders:read' });

const cases: [string, PolicyConfig, Principal, string | undefined][] = [
  ['roles: any of, list claim', { roles: ['admin', 'ops'] }, alice, undefined],
  ['roles: none matches', { roles: ['admin'] }, alice, 'role'],
  ['roles: single-string claim', { roles: ['user'] }, bob, undefined],
  ['claim equals', { claims: { 'org.tenant': 'acme' } }, alice, undefined],
  ['claim equals, other tenant', { claims: { 'org.tenant': 'acme' } }, bob, 'claim'],
  ['claim equals on a list claim: contains', { claims: { groups: 'sre' } }, alice, undefined],
  ['claim anyOf', { claims: { groups: { anyOf: ['ops', 'sre'] } } }, alice, undefined],
  ['claim anyOf, none', { claims: { groups: { anyOf: ['ops', 'sre'] } } }, bob, 'claim'],
  ['claim allOf', { claims: { groups: { allOf: ['eng', 'sre'] } } }, alice, undefined],
  ['claim allOf, one missing', { claims: { groups: { allOf: ['eng', 'sre'] } } }, bob, 'claim'],
  ['email domain', { claims: { email: { endsWith: '@example.com' } } }, alice, undefined],
  ['email domain is not a suffix of another domain', { claims: { email: { endsWith: '@example.com' } } }, bob, 'claim'],
  ['missing claim', { claims: { 'org.tenant': 'acme' } }, api, 'claim'],
  ['every claim condition', { claims: { 'org.tenant': 'acme', groups: 'eng' } }, alice, undefined],
  ['scopes from scope', { scopes: ['orders:read', 'orders:write'] }, api, undefined],
  ['scopes: a prefix is not a scope', { scopes: ['orders'] }, api, 'scope'],
  ['scopes from scp', { scopes: ['orders:read'] }, apiScp, undefined],
  ['scopes: one missing', { scopes: ['orders:read', 'orders:write'] }, apiScp, 'scope'],
  ['via session', { via: ['session'] }, alice, undefined],
  ['via session, bearer caller', { via: ['session'] }, api, 'via'],
  ['issuer', { issuers: ['https://idp.example'] }, api, undefined],
  ['issuer, other', { issuers: ['https://idp.example'] }, apiScp, 'issuer'],
  ['issuer gateway: own access tokens', { issuers: ['gateway'] }, own, undefined],
  ['issuer gateway: sessions', { issuers: ['gateway'] }, alice, undefined],
  ['a src_iss claim is not an issuer', { issuers: ['https://idp.example'] }, posing, 'issuer'],
  ['acr', { acr: ['mfa'] }, alice, undefined],
  ['acr missing', { acr: ['mfa'] }, bob, 'acr'],
  ['keys are ANDed', { roles: ['ops'], claims: { 'org.tenant': 'other' } }, alice, 'claim'],
  ['any: one option passes', { any: [{ roles: ['admin'] }, { claims: { groups: 'sre' } }] }, alice, undefined],
  ['any: none passes', { any: [{ roles: ['admin'] }, { scopes: ['x'] }] }, alice, 'any'],
  ['all: every one', { all: [{ via: ['bearer'] }, { scopes: ['orders:read'] }] }, api, undefined],
  ['all: first failing reason', { all: [{ via: ['bearer'] }, { scopes: ['orders:delete'] }] }, api, 'scope'],
  [
    'a five-clause policy',
    { via: ['session'], roles: ['ops'], claims: { email: { endsWith: '@example.com' }, 'org.tenant': 'acme' }, any: [{ acr: ['mfa'] }, { roles: ['admin'] }] },
    alice,
    undefined,
  ],
  ['prototype keys are never claims', { claims: { constructor: 'x' } }, alice, 'claim'],
];

describe('policy', () => {
  it.each(cases)('%s', (_, policy, principal, reason) => {
    expect(compilePolicy(policySchema.parse(policy))(principal, undefined)).toBe(reason);
  });
});

describe('clientCert conditions', () => {
  // A socket as wire/client-cert.ts reads it: verified, with a certificate.
  const socket = (cn: string, authorized = true) => ({ authorized, getPeerCertificate: () => ({ subject: { CN: cn }, fingerprint256: 'AB:'.repeat(31) + 'AB' }) });
  const fp = 'ab'.repeat(32);
  it.each([
    ['subject listed', { clientCert: { subjects: ['alice-device'] } }, socket('alice-device'), undefined],
    ['subject not listed', { clientCert: { subjects: ['alice-device'] } }, socket('mallory'), 'client_cert'],
    ['unverified certificate says nothing', { clientCert: { subjects: ['alice-device'] } }, socket('alice-device', false), 'client_cert'],
    ['no TLS at all', { clientCert: { subjects: ['alice-device'] } }, {}, 'client_cert'],
    ['fingerprint listed', { clientCert: { fingerprints: [fp.toUpperCase()] } }, socket('x'), undefined],
    ['any: certificate or admin role', { any: [{ clientCert: { subjects: ['ops-laptop'] } }, { roles: ['admin'] }] }, socket('ops-laptop'), undefined],
  ] as const)('%s', (_, policy, sock, reason) => {
    expect(compilePolicy(policySchema.parse(policy))(alice, sock)).toBe(reason);
  });
});

describe('policy configuration', () => {
  const route = (extra: Record<string, unknown>) => ({ name: 'r', match: { path: '/r' }, upstream: { url: 'http://127.0.0.1:1' }, ...extra });
  const problems = (extra: Record<string, unknown>) => {
    const r = routesSchema.safeParse({ routes: [route(extra)] });
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('refuses an empty policy, a bad claim path and an empty list, with their location', () => {
    expect(problems({ auth: 'session', require: {} })).toEqual([expect.stringMatching(/^routes\.0\.require: names no condition/)]);
    expect(problems({ auth: 'session', require: { claims: { 'a..b': 'x' } } })[0]).toMatch(/^routes\.0\.require\.claims\.a\.\.b: must be a dotted claim path/);
    expect(problems({ auth: 'session', require: { any: [] } })[0]).toMatch(/^routes\.0\.require\.any:/);
    expect(problems({ auth: 'session', require: { any: [{}] } })[0]).toMatch(/^routes\.0\.require\.any\.0: names no condition/);
    // An empty claims map inside any would let everyone in.
    expect(problems({ auth: 'session', require: { any: [{ claims: {} }, { roles: ['admin'] }] } })[0]).toMatch(/^routes\.0\.require\.any\.0\.claims: names no claim/);
  });

  it('refuses rules no request could pass: require on a public route, via a mode the route does not take', () => {
    expect(problems({ auth: 'public', require: { roles: ['a'] } })).toEqual([expect.stringMatching(/^routes\.0\.require: a public route authenticates nobody/)]);
    expect(problems({ auth: 'session', require: { any: [{ roles: ['a'] }, { via: ['bearer'] }] } })).toEqual([
      expect.stringMatching(/^routes\.0\.require\.any\.1\.via: no request on this route \(auth: session\) can come via bearer/),
    ]);
    expect(problems({ auth: 'session_or_bearer', require: { via: ['bearer'] } })).toEqual([]);
    expect(problems({ auth: 'session', identityHeaders: { 'Remote-User': 'sub' }, headers: { request: { set: { 'remote-user': 'nobody' } } } })).toEqual([
      expect.stringMatching(/^routes\.0\.headers\.request\.set\.remote-user: is already an identity header/),
    ]);
  });
});
