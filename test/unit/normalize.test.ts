import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { normalizeHost, normalizeTarget } from '../../src/routing/normalize.js';

describe('normalizeTarget', () => {
  it.each([
    ['/api/orders', '/api/orders', '/api/orders'],
    ['/api/orders/', '/api/orders/', '/api/orders/'],
    ['/', '/', '/'],
    ['/a//b///c', '/a/b/c', '/a/b/c'],
    ['/a/./b/../c', '/a/c', '/a/c'],
    ['/a/b/..', '/a/', '/a/'],
    ['/../../etc/passwd', '/etc/passwd', '/etc/passwd'],
    ['/public/%2e%2e/admin', '/admin', '/admin'],
    ['/public/%2E%2E/admin', '/admin', '/admin'],
    ['/public/.%2e/admin', '/admin', '/admin'],
    ['/a\\..\\admin', '/admin', '/admin'],
    ['/caf%C3%A9', '/café', '/caf%C3%A9'],
    ['/sp%20ace', '/sp ace', '/sp%20ace'],
    ['/x%3By', '/x;y', '/x%3By'],
    ['/a%41', '/aA', '/aA'],
    ['/.well-known/jwks.json', '/.well-known/jwks.json', '/.well-known/jwks.json'],
    // Full-width letters are not path syntax: the route table's lenient check decides about them.
    ['/%EF%BD%81dmin', '/ａdmin', '/%EF%BD%81dmin'],
    ['/%E6%97%A5%E6%9C%AC', '/日本', '/%E6%97%A5%E6%9C%AC'],
  ])('%s → %s (upstream %s)', (raw, path, encoded) => {
    const t = normalizeTarget(raw);
    expect(t.path).toBe(path);
    expect(t.encodedPath).toBe(encoded);
  });

  it('keeps the query raw and apart from the path', () => {
    expect(normalizeTarget('/a/../b?x=/../c&y=%2e')).toEqual({ path: '/b', encodedPath: '/b', query: '?x=/../c&y=%2e' });
  });

  it.each([
    ['/public/..;/admin', 'path parameters'],
    ['/admin;jsessionid=1', 'path parameters'],
    ['/a%2fb', 'encoded slash'],
    ['/a%2Fb', 'encoded slash'],
    ['/a%5cb', 'encoded backslash'],
    ['/a%00b', 'NUL'],
    ['/a%0d%0ab', 'CRLF'],
    ['/public/%252e%252e/admin', 'double encoding'],
    ['/a%2', 'truncated escape'],
    ['/a%zz', 'bad escape'],
    ['/a%c3', 'invalid UTF-8'],
    ['/a%ff', 'invalid UTF-8'],
    ['/a#frag', 'fragment'],
    ['/%EF%BC%8Fadmin', 'full-width solidus (NFKC /)'],
    ['/a%EF%BC%BCb', 'full-width reverse solidus (NFKC \\)'],
    ['/public/%EF%BC%8E%EF%BC%8E/admin', 'full-width full stops (NFKC ..)'],
    ['/public/%E2%80%A5/admin', 'two dot leader (NFKC ..)'],
    ['/public/%EF%B9%92%EF%B9%92/admin', 'small full stops (NFKC ..)'],
    ['/a%EF%B9%A8b', 'small reverse solidus (NFKC \\)'],
    ['/a%EF%BC%85%32%65', 'full-width percent sign (NFKC %)'],
    ['/admin%EF%BC%9Bx', 'full-width semicolon (NFKC ;)'],
    ['/a%E2%88%95b', 'division slash (best fit /)'],
    ['/a%C2%A5b', 'yen sign (code page 932 best fit \\)'],
    ['/a%E2%82%A9b', 'won sign (code page 949 best fit \\)'],
    ['/a%C0%AFb', 'overlong UTF-8 for /'],
    ['/a%E0%80%AFb', 'three-byte overlong UTF-8 for /'],
    ['/a%ED%A0%80b', 'UTF-8 surrogate'],
    ['/a%F4%90%80%80b', 'beyond U+10FFFF'],
    ['http://evil.example/admin', 'absolute-form'],
    ['*', 'asterisk-form'],
    ['admin', 'no leading slash'],
  ])('refuses %s (%s) with bad_path', (raw) => {
    try {
      normalizeTarget(raw);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(GatewayError);
      expect((err as GatewayError).code).toBe('bad_path');
      expect((err as GatewayError).status).toBe(400);
    }
  });
});

describe('normalizeHost', () => {
  it.each([
    ['API.Example.com', 'api.example.com'],
    ['api.example.com:8080', 'api.example.com'],
    ['api.example.com.', 'api.example.com'],
    ['127.0.0.1:80', '127.0.0.1'],
    ['[::1]:8080', '[::1]'],
    [undefined, ''],
  ])('%s → %s', (raw, host) => expect(normalizeHost(raw)).toBe(host));

  it.each(['a b', 'evil.com/x', 'host:abc', '[::1', 'a_b..c', 'x:1:2'])('refuses %s', (raw) => {
    expect(() => normalizeHost(raw)).toThrow(GatewayError);
  });
});
