// `gateway explain`'s normalization trace: every step normalizeTarget takes, in order, with the path
// as it then reads, and always the very result (or refusal) a request gets.
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { explainTarget, normalizeTarget, type NormalizeStep } from '../../src/routing/normalize.js';

const steps = (raw: string) => explainTarget(raw).steps.map((s: NormalizeStep) => [s.step, s.path]);

describe('explainTarget', () => {
  it('reports nothing for a path that is already normal (the fast path never traces)', () => {
    let called = 0;
    expect(normalizeTarget('/api/orders/1?x=/../y', () => called++)).toEqual({ path: '/api/orders/1', encodedPath: '/api/orders/1', query: '?x=/../y' });
    expect(called).toBe(0);
    expect(explainTarget('/api/orders/1?x=1')).toEqual({ target: '/api/orders/1?x=1', steps: [], result: { path: '/api/orders/1', encodedPath: '/api/orders/1', query: '?x=1' } });
  });

  it('records percent-decoding, then the dot segment it produced, with the path as it reads after each', () => {
    expect(steps('/public/%2e%2e/admin')).toEqual([
      ['percent_decode', '/public/../admin'],
      ['dot_dot_segment', '/admin'],
    ]);
    const [decode, dots] = explainTarget('/public/%2e%2e/admin').steps;
    expect(decode?.detail).toBe('"%2e%2e" decoded once to ".."');
    expect(dots?.detail).toBe('".." removes the segment before it ("public")');
  });

  it('records doubled slashes, "." and ".." segments, and a trailing slash kept', () => {
    expect(steps('/a//b/./c/../d/')).toEqual([
      ['empty_segment', '/a/b/./c/../d/'],
      ['dot_segment', '/a/b/c/../d/'],
      ['dot_dot_segment', '/a/b/d/'],
    ]);
    expect(explainTarget('/a//b/./c/../d/').result?.path).toBe('/a/b/d/');
    expect(steps('/../../etc/passwd')).toEqual([
      ['dot_dot_segment', '/../etc/passwd'],
      ['dot_dot_segment', '/etc/passwd'],
    ]);
    expect(explainTarget('/../x').steps[0]?.detail).toMatch(/at the root/);
  });

  it('records backslashes read as slashes, and the canonical encoding sent upstream', () => {
    expect(steps('/a\\..\\admin')).toEqual([
      ['backslash', '/a/../admin'],
      ['dot_dot_segment', '/admin'],
    ]);
    const e = explainTarget('/caf%C3%A9');
    expect(e.steps.map((s) => s.step)).toEqual(['percent_decode', 'encode']);
    expect(e.steps[1]?.detail).toContain('/caf%C3%A9');
    expect(e.result).toEqual({ path: '/café', encodedPath: '/caf%C3%A9', query: '' });
  });

  it.each([
    ['/public/..;/admin', 'path parameters (;) are not accepted', undefined],
    ['/a%2fb', 'encoded slash', 'a%2fb'],
    ['/public/%252e%252e/admin', 'double percent-encoding', '%252e%252e'],
    ['/x/%EF%BC%8Fadmin', 'look-alike of a path character', '%EF%BC%8Fadmin'],
    ['/a%c3', 'invalid UTF-8 in path', 'a%c3'],
    ['/a#frag', 'fragment in request target', undefined],
    ['*', 'target is not origin-form', undefined],
  ])('a refusal names its reason and the segment: %s', (raw, detail, segment) => {
    const e = explainTarget(raw);
    expect(e.result).toBeUndefined();
    expect(e.refused).toEqual({ code: 'bad_path', detail, segment });
    // The same refusal a request meets.
    expect(() => normalizeTarget(raw)).toThrow(GatewayError);
  });

  it('keeps the steps taken before a refusal', () => {
    const e = explainTarget('/a//b/%252e');
    expect(e.steps.map((s) => s.step)).toEqual(['empty_segment']);
    expect(e.refused?.segment).toBe('%252e');
  });

  it('gives exactly normalizeTarget\'s answer, for every kind of target', () => {
    const corpus = [
      '/api/orders', '/api/orders/', '/', '/a//b///c', '/a/./b/../c', '/a/b/..', '/../../etc/passwd', '/public/%2e%2e/admin',
      '/public/%2E%2E/admin', '/public/.%2e/admin', '/a\\..\\admin', '/caf%C3%A9', '/sp%20ace', '/x%3By', '/a%41', '/%EF%BD%81dmin',
      '/a"b', '/a/b/../../../c?q=%2e', '/a/./', '/./', '//', '/a%2fb', '/a%00b',
    ];
    for (const raw of corpus) {
      let expected: unknown;
      try {
        expected = normalizeTarget(raw);
      } catch (err) {
        expected = (err as GatewayError).message;
      }
      const e = explainTarget(raw);
      expect(e.result ?? e.refused?.detail, raw).toEqual(expected);
      // The last step that names a path reads as the result.
      const last = [...e.steps].reverse().find((s) => s.step !== 'encode');
      if (e.result && last) expect(last.path.replace(/\/$/, ''), raw).toBe(e.result.path.replace(/\/$/, '') || '');
    }
  });
});
