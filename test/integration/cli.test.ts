// The `gateway` command: help, check-config exit codes and messages, keygen, GATEWAY_CONFIG.
import { execFile } from 'node:child_process';
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { route, writeConfigDir } from '../support/gateway.js';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '../../src/cli.ts');

async function gateway(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', CLI, ...args], { env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('gateway CLI', () => {
  it('--help lists the commands and options', async () => {
    const r = await gateway(['--help']);
    expect(r.code).toBe(0);
    for (const word of ['start', 'check-config', 'keygen', '--config', 'GATEWAY_CONFIG']) expect(r.stdout).toContain(word);
  });

  it('check-config exits 0 on the shipped config', async () => {
    const r = await gateway(['check-config', '--config', 'config/gateway.yaml']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ok \(\d+ routes/);
  });

  it('check-config warns about the shipped development settings, and fails on them with --production or NODE_ENV=production', async () => {
    const dev = await gateway(['check-config', '--config', 'config/gateway.yaml']);
    expect(dev.code).toBe(0);
    for (const key of ['session.memoryFallback', 'tokens.generateDevKey', 'session.cookie.secure', 'admin.credentialFile']) {
      expect(dev.stderr).toMatch(new RegExp(`${key.replace('.', '\\.')}: warning: `));
    }
    const prod = await gateway(['check-config', '--production', '--config', 'config/gateway.yaml']);
    expect(prod.code).toBe(1);
    expect(prod.stderr).toMatch(/development setting\(s\) in a configuration checked for production/);
    expect((await gateway(['check-config', '--config', 'config/gateway.yaml'], { NODE_ENV: 'production' })).code).toBe(1);
  });

  it('the Docker image runs config/production.yaml, which passes check-config --production', async () => {
    const dockerfile = await readFile('Dockerfile', 'utf8');
    expect(dockerfile).toMatch(/^CMD \["start", "--config", "\/app\/config\/production\.yaml"\]$/m);
    expect(dockerfile).toMatch(/^COPY config \.\/config$/m);
    const env = { PUBLIC_ORIGIN: 'https://app.example.com', REDIS_URL: 'redis://redis:6379', LOGIN_VERIFY_URL: 'https://legacy.internal/verify', ROUTES_FILE: './routes.yaml' };
    const r = await gateway(['check-config', '--production', '--config', 'config/production.yaml'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // A value the deployment must give is an error when missing, not a silent default.
    const missing = await gateway(['check-config', '--config', 'config/production.yaml'], { REDIS_URL: 'redis://redis:6379', LOGIN_VERIFY_URL: 'https://x' });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('PUBLIC_ORIGIN');
    expect(missing.stderr).toContain('ROUTES_FILE');
    // Passwords in clear and a trust-everyone proxy list are development settings too.
    const dir = await writeConfigDir([], { login: { verifyUrl: 'http://legacy.internal/verify' }, trustedProxies: ['0.0.0.0/0'] });
    try {
      const lax = await gateway(['check-config', '--production', '--config', join(dir, 'gateway.yaml')]);
      expect(lax.code).toBe(1);
      expect(lax.stderr).toMatch(/login\.verifyUrl: is plain HTTP/);
      expect(lax.stderr).toMatch(/trustedProxies: 0\.0\.0\.0\/0 trusts every peer/);
      // And `gateway start` refuses them under NODE_ENV=production.
      const started = await gateway(['start', '--config', join(dir, 'gateway.yaml')], { NODE_ENV: 'production' });
      expect(started.code).toBe(1);
      expect(started.stderr).toMatch(/session\.store: memory.*\(NODE_ENV=production\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('check-config prints every problem and exits 1; GATEWAY_CONFIG is the fallback', async () => {
    const dir = await writeConfigDir([{ ...route('a', '/a', 'http://127.0.0.1:1'), auth: 'sesion' }], { admin: { prot: 1 } });
    try {
      const r = await gateway(['check-config'], { GATEWAY_CONFIG: join(dir, 'gateway.yaml') });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/gateway\.yaml:\d+:\d+ admin\.prot: unknown key; allowed here: host, port/);
      expect(r.stderr).toMatch(/routes\.yaml:\d+:\d+ routes\[0\]\.auth: "sesion" is not one of public, session, bearer, session_or_bearer/);
      expect(r.stderr).toContain('2 problem(s) found');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('start refuses an invalid config with the same messages and a non-zero exit', async () => {
    const dir = await writeConfigDir([], { listen: { port: 'eighty' } });
    try {
      const r = await gateway(['start', '--config', join(dir, 'gateway.yaml')]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/gateway\.yaml:\d+:\d+ listen\.port: "eighty" is not a number/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keygen writes a private JWK with kid, alg and use, readable only by its owner', async () => {
    const dir = await writeConfigDir([]);
    try {
      const r = await gateway(['keygen', '--alg', 'ES256', '--kid', 'k1', '--out', join(dir, 'keys')]);
      expect(r.code).toBe(0);
      const file = join(dir, 'keys', 'k1.private.jwk.json');
      const jwk = JSON.parse(await readFile(file, 'utf8')) as Record<string, string>;
      expect(jwk).toMatchObject({ kty: 'EC', crv: 'P-256', kid: 'k1', alg: 'ES256', use: 'sig' });
      expect(jwk.d).toBeTruthy();
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      // Never overwrites an existing key.
      const again = await gateway(['keygen', '--kid', 'k1', '--out', join(dir, 'keys')]);
      expect(again.code).toBe(1);
      expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(jwk);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('unknown commands and algorithms exit 2', async () => {
    expect((await gateway(['frobnicate'])).code).toBe(2);
    expect((await gateway(['keygen', '--alg', 'none'])).code).toBe(2);
  });
});
