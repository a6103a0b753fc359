// A configuration or key problem found at start exits non-zero at once, with the located problem,
// whether or not Redis answers; and a port already in use does too. Before, the process printed the
// problem and then hung (a Redis client kept reconnecting), ignoring SIGTERM.
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeConfigDir } from '../support/gateway.js';
import { freePort, startRedis, type RedisServer } from '../support/redis.js';

const CLI = join(import.meta.dirname, '../../src/cli.ts');
let redis: RedisServer;
const dirs: string[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.dispose();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function run(configPath: string): Promise<{ code: number | null; ms: number; stderr: string }> {
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'start', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.resume();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, ms: Date.now() - started, stderr });
    });
  });
}

async function weakKeyConfig(redisUrl: string): Promise<string> {
  const dir = await writeConfigDir([], {
    redis: { url: redisUrl, connectTimeout: '500ms' },
    session: { store: 'redis', cookie: { name: 'gw-session', secure: false } },
    tokens: { algorithm: 'RS256', keys: './keys', generateDevKey: false },
  });
  dirs.push(dir);
  await mkdir(join(dir, 'keys'));
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  await writeFile(join(dir, 'keys', 'weak.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  return join(dir, 'gateway.yaml');
}

describe('start-up failures exit at once', () => {
  it.each([
    ['Redis answering', () => redis.url],
    ['Redis not answering', async () => `redis://127.0.0.1:${await freePort()}`],
  ])('a weak RSA key, with %s: exit 1 with the located problem', async (_what, url) => {
    const result = await run(await weakKeyConfig(await url()));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/weak\.pem.*RSA key of 1024 bits is too weak/);
    expect(result.ms).toBeLessThan(8_000);
  }, 20_000);

  it('a listen port in use: exit 1, even with the Redis client connected', async () => {
    const blocker = createServer();
    const port = await new Promise<number>((r) => blocker.listen(0, '127.0.0.1', () => r((blocker.address() as { port: number }).port)));
    try {
      const dir = await writeConfigDir([], {
        listen: { host: '127.0.0.1', port },
        redis: { url: redis.url },
        session: { store: 'redis', cookie: { name: 'gw-session', secure: false } },
      });
      dirs.push(dir);
      const result = await run(join(dir, 'gateway.yaml'));
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('EADDRINUSE');
      expect(result.ms).toBeLessThan(8_000);
    } finally {
      blocker.close();
    }
  }, 20_000);
});
