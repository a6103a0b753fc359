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
