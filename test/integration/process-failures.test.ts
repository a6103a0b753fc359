// A bug that escapes every handler (an unhandled rejection) is logged as fatal, with the log lines
// still buffered written out, and the process exits 1: never a silent death, never a half-broken
// process left running.
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeConfigDir } from '../support/gateway.js';

const CLI = join(import.meta.dirname, '../../src/cli.ts');
const PRELOAD = join(import.meta.dirname, '../support/fixtures/reject-later.mjs');

describe('process-level failures', () => {
  it('an unhandled rejection is logged as fatal, logs are flushed, and the process exits 1', async () => {
    const dir = await writeConfigDir([]);
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', '--import', PRELOAD, CLI, 'start', '--config', join(dir, 'gateway.yaml')], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.resume();
      const code = await new Promise<number | null>((resolve) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        child.once('exit', (c) => {
          clearTimeout(timer);
          resolve(c);
        });
      });
      expect(code).toBe(1);
      const lines = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.some((l) => l.msg === 'gateway listening')).toBe(true);
      const fatal = lines.find((l) => l.level === 'fatal');
      expect(fatal?.msg).toBe('unhandled rejection');
      expect(JSON.stringify(fatal)).toContain('escaped-bug-marker');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 20_000);
});
