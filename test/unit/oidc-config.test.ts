// login.oidc rules that guard identities: two sources naming users by plain ids (two providers, or
// a provider and the password sign-in) would make one gateway user of two people.
import { describe, expect, it } from 'vitest';
import { gatewaySchema } from '../../src/config/schema.js';

const provider = (issuer: string, subject?: 'plain' | 'scoped') => ({ issuer, clientId: 'gw', ...(subject ? { subject } : {}) });
const parse = (login: object) => gatewaySchema.safeParse({ login });

describe('identity sources of login.oidc', () => {
  it('allows one source of plain ids, and several names for one issuer', () => {
    expect(parse({ oidc: { a: provider('https://idp.example') } }).success).toBe(true);
    expect(parse({ oidc: { a: provider('https://idp.example'), mfa: provider('https://idp.example') } }).success).toBe(true);
  });

  it('refuses two providers with plain ids, or a provider with plain ids beside the password sign-in', () => {
    const two = parse({ oidc: { a: provider('https://one.example'), b: provider('https://two.example') } });
    expect(two.success).toBe(false);
    expect(JSON.stringify(two.error?.issues)).toContain('subject: scoped');
    expect(parse({ verifyUrl: 'https://legacy.example/verify', oidc: { a: provider('https://one.example') } }).success).toBe(false);
  });

  it('accepts them once providers scope their users, or the password sign-in is off', () => {
    expect(parse({ oidc: { a: provider('https://one.example', 'scoped'), b: provider('https://two.example') } }).success).toBe(true);
    expect(parse({ verifyUrl: 'https://legacy.example/verify', oidc: { a: provider('https://one.example', 'scoped') } }).success).toBe(true);
    expect(parse({ verifyUrl: 'https://legacy.example/verify', password: false, oidc: { a: provider('https://one.example') } }).success).toBe(true);
  });
});
