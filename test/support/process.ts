// A gateway as a separate process (for signals, memory and multi-instance tests), started through
// the real CLI; its listening addresses are read from its first log lines.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface GatewayProcess {
  child: ChildProcess;
  url: string;
  adminUrl: string;
  logs: Record<string, unknown>[];
  /** Peak resident set size so far (VmHWM), in bytes. */
  peakRssBytes(): number;
  rssBytes(): number;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

const CLI = join(import.meta.dirname, '../../src/cli.ts');

export interface SpawnOptions {
  /** A file-descriptor limit for the process (prlimit --nofile), soft and hard. */
  readonly nofile?: number;
}

export function spawnGateway(configPath: string, env: NodeJS.ProcessEnv = {}, opts: SpawnOptions = {}): Promise<GatewayProcess> {
  const node = [process.execPath, '--import', 'tsx', CLI, 'start', '--config', configPath];
  const [command, ...args] = opts.nofile === undefined ? node : ['prlimit', `--nofile=${opts.nofile}:${opts.nofile}`, '--', ...node];
  const child = spawn(command as string, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const status = (field: string) => {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
    return Number(m?.[1] ?? 0) * 1024;
  };
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error(`gateway did not start: ${stderr}`)), 15_000);
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout?.on('data', (d: Buffer) => {
      buffered += d.toString();
      let nl;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logs.push(entry);
          if (entry.msg === 'gateway listening') {
            clearTimeout(timer);
            resolve({
              child,
              url: entry.url as string,
              adminUrl: entry.adminUrl as string,
              logs,
              peakRssBytes: () => status('VmHWM'),
              rssBytes: () => status('VmRSS'),
              exited,
              kill: (signal = 'SIGTERM') => {
                if (child.exitCode === null) child.kill(signal);
                return exited;
              },
            });
          }
        } catch {
          // not a log line
        }
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code}: ${stderr}`));
    });
  });
}
