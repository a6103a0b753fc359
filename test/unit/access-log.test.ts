// The hand-built access-log line: valid JSON whatever the client sent, the shape of the other log
// lines, nothing written when the level drops info lines.
import { describe, expect, it } from 'vitest';
import { createAccessLog, type AccessEntry } from '../../src/log.js';

const entry: AccessEntry = {
  requestId: 'req-1',
  route: 'app',
  method: 'GET',
  protocol: 'HTTP/1.1',
  path: '/a',
  status: 200,
  durationMs: 1.234,
  upstream: 'http://127.0.0.1:9001',
  upstreamMs: 0.5,
  client: '127.0.0.1',
  error: undefined,
  completed: true,
};

function capture(level = 'info'): { lines: string[]; log: ReturnType<typeof createAccessLog> } {
  const lines: string[] = [];
  return { lines, log: createAccessLog(level, { write: (l: string) => lines.push(l) }) };
}

describe('access log', () => {
  it('writes one JSON line in the shape of the other log lines', () => {
    const { lines, log } = capture();
    const before = Date.now();
    log?.(entry);
    expect(lines).toHaveLength(1);
    expect(lines[0]?.endsWith('}\n')).toBe(true);
    const parsed = JSON.parse(lines[0] as string) as Record<string, unknown>;
    expect(parsed).toEqual({ level: 'info', service: 'gateway', msg: 'request', time: parsed.time, ...entry, error: undefined });
    expect(Object.keys(parsed)).not.toContain('error');
    expect(parsed.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const t = Date.parse(parsed.time as string);
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(Date.now());
  });

  it('stays valid JSON for any path and method a client can send', () => {
    const { lines, log } = capture();
    const nasty = ['/"quoted"\\back', '/line\nbreak\r\t', '/\u0000\u001f\u007f', '/ü/日本/😀', '/lone\ud800surrogate', '/</script>'];
    for (const path of nasty) log?.({ ...entry, path, method: 'M"\n', error: 'x"y' });
    expect(lines).toHaveLength(nasty.length);
    lines.forEach((line, i) => {
      expect(line.indexOf('\n')).toBe(line.length - 1);
      const parsed = JSON.parse(line) as AccessEntry;
      expect(parsed.path).toBe(nasty[i]);
      expect(parsed.method).toBe('M"\n');
      expect(parsed.error).toBe('x"y');
    });
  });

  it('leaves out what the request never reached', () => {
    const { lines, log } = capture();
    log?.({ ...entry, path: '', upstream: undefined, upstreamMs: undefined, error: 'route_not_found', status: 404 });
    const parsed = JSON.parse(lines[0] as string) as Record<string, unknown>;
    expect(parsed).not.toHaveProperty('path');
    expect(parsed).not.toHaveProperty('upstream');
    expect(parsed).not.toHaveProperty('upstreamMs');
    expect(parsed).toMatchObject({ status: 404, error: 'route_not_found' });
  });

  it('writes durations to the microsecond, whatever their size', () => {
    const { lines, log } = capture();
    const cases: [number, string][] = [[0, '0.000'], [0.5, '0.500'], [1.234, '1.234'], [12345.6789, '12345.679'], [0.0004, '0.000'], [3e9, '3000000000'], [-1.5, '-1.5']];
    for (const [ms] of cases) log?.({ ...entry, durationMs: ms, upstreamMs: ms });
    lines.forEach((line, i) => {
      const [ms, text] = cases[i] as [number, string];
      expect(line).toContain(`"durationMs":${text},`);
      expect(line).toContain(`"upstreamMs":${text},`);
      expect((JSON.parse(line) as AccessEntry).durationMs).toBeCloseTo(ms, 3);
    });
  });

  it('stays valid JSON for a duration that is not a finite number', () => {
    const { lines, log } = capture();
    log?.({ ...entry, durationMs: Number.NaN, upstreamMs: Number.POSITIVE_INFINITY });
    expect(JSON.parse(lines[0] as string)).toMatchObject({ durationMs: null, upstreamMs: null });
  });

  it('escapes each field on its own merits when one of them needs it', () => {
    const { lines, log } = capture();
    log?.({ ...entry, requestId: 'plain-id', client: '10.0.0.1', path: '/a"b' });
    const parsed = JSON.parse(lines[0] as string) as AccessEntry;
    expect(parsed).toMatchObject({ requestId: 'plain-id', client: '10.0.0.1', path: '/a"b' });
  });

  it('is off when the level drops info lines', () => {
    expect(capture('warn').log).toBeUndefined();
    expect(capture('error').log).toBeUndefined();
    expect(capture('debug').log).toBeDefined();
  });
});
