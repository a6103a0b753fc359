import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { parseDurationMs, parseSizeBytes } from '../../src/config/units.js';
import { ConfigError, formatProblem } from '../../src/errors.js';

async function files(gateway: string, routes: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gw-cfg-'));
  await writeFile(join(dir, 'gateway.yaml'), gateway);
  await writeFile(join(dir, 'routes.yaml'), routes);
  return join(dir, 'gateway.yaml');
}

async function problems(gateway: string, routes: string, env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  try {
    await loadConfig(await files(gateway, routes), env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map(formatProblem);
    throw err;
  }
  return [];
}

const okRoute = `routes:\n  - name: demo\n    match: { path: /demo }\n    upstream: { url: http://127.0.0.1:9001 }\n    auth: public\n`;

describe('units', () => {
  it.each([
    ['30s', 30_000],
    ['15m', 900_000],
    ['12h', 43_200_000],
    ['250ms', 250],
    ['1.5s', 1500],
    ['0', 0],
    [0, 0],
  ])('duration %s = %d ms', (v, ms) => expect(parseDurationMs(v)).toBe(ms));
  it.each(['30', 30, '1 week', 's', '-1s'])('refuses duration %s', (v) => expect(parseDurationMs(v)).toBeUndefined());
  it.each([
    ['16KiB', 16384],
    ['10MB', 10_000_000],
    [1024, 1024],
    ['2GiB', 2 * 1024 ** 3],
  ])('size %s = %d bytes', (v, b) => expect(parseSizeBytes(v)).toBe(b));
});

describe('loadConfig', () => {
  it('loads the shipped development config', async () => {
    const cfg = await loadConfig('config/gateway.yaml', {});
    expect(cfg.gateway.listen.port).toBe(8080);
    expect(cfg.gateway.limits.maxBodySize).toBe(10_000_000);
    expect(cfg.routes.map((r) => r.name)).toContain('demo');
  });

  it('interpolates ${VAR} and ${VAR:-default}, typing plain scalars', async () => {
    const path = await files(
      'listen:\n  port: ${PORT:-8081}\nadmin: { port: "${ADMIN_PORT:-9091}" }\nredis: { url: "${REDIS_URL:-redis://127.0.0.1:6379}" }\n',
      `routes:\n  - name: demo\n    match: { path: /demo }\n    upstream: { url: "\${UP}" }\n    auth: public\n`,
    );
    const cfg = await loadConfig(path, { PORT: '9999', UP: 'http://127.0.0.1:1234' });
    expect(cfg.gateway.listen.port).toBe(9999);
    expect(cfg.gateway.admin.port).toBe(9091);
    expect(cfg.gateway.redis.url).toBe('redis://127.0.0.1:6379');
    expect(cfg.routes[0]?.upstream.url).toBe('http://127.0.0.1:1234');
  });

  it('keeps an interpolated value one scalar (no YAML injection)', async () => {
    const path = await files('routesFile: ./routes.yaml\npublicOrigins: ["${ORIGIN}"]\n', okRoute);
    const p = await problems('publicOrigins: ["${ORIGIN}"]\n', okRoute, { ORIGIN: 'http://a\nadmin: {port: 1}' });
    expect(p.join('\n')).toContain('publicOrigins[0]');
    const cfg = await loadConfig(path, { ORIGIN: 'http://a.example' });
    expect(cfg.gateway.admin.port).toBe(9090);
  });

  it('reports every problem at once with file:line:column, key path, value and what is allowed', async () => {
    const p = await problems(
      [
        'listen: { host: 0.0.0.0, port: 8080 }',
        'admni: { port: 9090 }',
        'limits:',
        '  requestTimeout: soon',
        'redis: { url: "${MISSING}" }',
      ].join('\n'),
      [
        'routes:',
        '  - name: orders',
        '    match: { path: /api/orders }',
        '    upstream: { url: http://127.0.0.1:9001 }',
        '    auth: sesion',
        '  - name: orders',
        '    match: { path: /api/../x }',
        '    upstream: { url: ftp://x }',
        '    auth: public',
      ].join('\n'),
    );
    expect(p).toHaveLength(7);
    expect(p).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^gateway\.yaml:2:1 admni: unknown key; allowed here: listen, admin, routesFile/),
        expect.stringMatching(/^gateway\.yaml:4:19 limits\.requestTimeout: "soon" is not a duration/),
        expect.stringMatching(/^gateway\.yaml:5:\d+ environment variable MISSING is not set and has no default/),
        'routes.yaml:5:11 routes[0].auth: "sesion" is not one of public, session, bearer, session_or_bearer',
        expect.stringMatching(/^routes\.yaml:6:11 routes\[1\]\.name: "orders" is already the name of routes\[0\]/),
        expect.stringMatching(/^routes\.yaml:7:20 routes\[1\]\.match\.path: "\/api\/\.\.\/x" must start with "\/"/),
        expect.stringMatching(/^routes\.yaml:8:22 routes\[1\]\.upstream\.url: "ftp:\/\/x" must be an absolute http/),
      ]),
    );
  });

  it('refuses unknown keys in routes, with the allowed ones', async () => {
    const p = await problems('', okRoute.replace('auth: public', 'auth: public\n    websockets: true'));
    expect(p[0]).toMatch(/^routes\.yaml:6:5 routes\[0\]\.websockets: unknown key; allowed here: name, match, upstream, auth, websocket/);
  });

  it('refuses two routes that match the same host, path and method', async () => {
    const p = await problems('', okRoute + okRoute.replace('routes:\n', '').replace('name: demo', 'name: demo2').replace('/demo', '/demo/'));
    expect(p[0]).toContain('routes[1].match.path: is shadowed by routes[0]: it comes first on the same host and path and takes every method this one does');
  });

  it.each([['/Demo'], ['/DEMO'], ['/dEmo/']])('refuses a route path that differs from another only in case (%s)', async (twin) => {
    const p = await problems('', okRoute + okRoute.replace('routes:\n', '').replace('name: demo', 'name: demo2').replace('/demo', twin));
    expect(p[0]).toMatch(/routes\[1\]\.match\.path: differs from routes\[0\] \(\/demo\) only in case/);
  });

  it('names a YAML syntax error with its position', async () => {
    const p = await problems('listen: { port: 1\n', okRoute);
    expect(p[0]).toMatch(/^gateway\.yaml:\d+:\d+ /);
  });

  it('reports a missing routes file', async () => {
    const p = await problems('routesFile: ./nope.yaml\n', okRoute);
    expect(p[0]).toMatch(/nope\.yaml cannot be read \(ENOENT\)/);
  });
});

describe('session cookie combinations browsers reject are refused at load', () => {
  it.each([
    ['__Host- with a domain', 'session:\n  cookie: { name: __Host-s, domain: example.com }\n', 'a __Host- cookie needs secure: true, path: / and no domain'],
    ['__Host- without secure', 'session:\n  cookie: { name: __Host-s, secure: false }\n', 'a __Host- cookie needs secure: true'],
    ['__Host- with a path', 'session:\n  cookie: { path: /app }\n', 'a __Host- cookie needs'],
    ['SameSite=None without Secure', 'session:\n  cookie: { name: s, sameSite: none, secure: false }\n', 'sameSite: none needs secure: true'],
    ['__Secure- without Secure', 'session:\n  cookie: { name: __Secure-s, secure: false }\n', 'a __Secure- cookie needs secure: true'],
    ['absolute shorter than idle', 'session:\n  idleTimeout: 2h\n  absoluteTimeout: 1h\n', 'must not be shorter than idleTimeout'],
    ['express-session without its settings', 'session:\n  format: express-session\n', 'is required with format: express-session'],
  ])('%s', async (_name, yaml, message) => {
    const p = await problems(yaml, okRoute);
    expect(p.join('\n')).toContain(message);
  });

  it('accepts the defaults: __Host-session, Secure, SameSite=Lax, Path=/', async () => {
    const cfg = await loadConfig(await files('', okRoute), {});
    expect(cfg.gateway.session.cookie).toEqual({ name: '__Host-session', sameSite: 'lax', secure: true, path: '/' });
  });
});
