// Where a browser may be sent after signing in: a path on this site or an allow-listed origin;
// anything else, and anything that could not be written into a Location header, is `/`.
import { describe, expect, it } from 'vitest';
import { safeRedirect } from '../../src/endpoints/auth/redirects.js';

const allowed = new Set(['https://app.example.com']);

describe('safeRedirect', () => {
  it('keeps a path on this site and an allow-listed origin', () => {
    expect(safeRedirect('/app/x?y=1', allowed)).toBe('/app/x?y=1');
    expect(safeRedirect('https://app.example.com/a', allowed)).toBe('https://app.example.com/a');
  });

  it('refuses other hosts and the spellings that reach them', () => {
    for (const t of ['//evil.example', '/\\evil.example', 'https://evil.example/', 'javascript:alert(1)', '\t//evil.example', '/%0d%0aLocation:x'.replace('%0d%0a', '\r\n')]) {
      expect(safeRedirect(t, allowed), JSON.stringify(t)).toBe('/');
    }
  });

  it('refuses what a Location header cannot carry (it used to fail after the session was made)', () => {
    for (const t of ['/\u2028', '/caf\u00e9', '/a b', '/x\u0000']) expect(safeRedirect(t, allowed), JSON.stringify(t)).toBe('/');
    expect(safeRedirect('/caf%C3%A9', allowed)).toBe('/caf%C3%A9');
  });
});
