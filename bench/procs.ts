// Processes the benchmark starts and measures: each is a separate OS process, stopped at the end.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createServer } from 'node:net';
import { onCores } from './pin.js';

export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Where it listens: http://127.0.0.1:PORT. */
  readonly url: string;
  /** Admin URL for gateways. */
  readonly adminUrl?: string;
  /** Its stdout (log lines), until stop() removes it. */
  readonly logFile: string;
  stop(): Promise<void>;
}

const TICKS_PER_SECOND = 100; // Linux USER_HZ

/** User + system CPU time of a process so far, in microseconds. */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / TICKS_PER_SECOND;
}

export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

/** The pid and its descendants (a cluster primary and its workers), from /proc/<pid>/task/<tid>/children. */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    const p = out[i] as number;
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const t of tasks) {
      try {
        for (const c of readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').trim().split(/\s+/)) if (c) out.push(Number(c));
      } catch {
        // the task ended meanwhile
      }
    }
  }
  return out;
}

/** CPU microseconds summed over pids (one that has exited counts 0). */
export function cpuMicrosOf(pids: readonly number[]): number {
  let sum = 0;
  for (const p of pids) {
    try {
      sum += cpuMicros(p);
    } catch {
      // gone
    }
  }
  return sum;
}

/** RSS summed over pids. */
export function rssBytesOf(pids: readonly number[]): number {
  let sum = 0;
  for (const p of pids) {
    try {
      sum += rssBytes(p);
    } catch {
      // gone
    }
  }
  return sum;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * Start a process and wait for its JSON "listening" line (`port`, or `url` and `adminUrl`). Its
 * stdout goes to a file, as a deployment's logs would (a pipe into this busy load generator
 * would stall its writes and distort what it costs).
 */
export async function startProc(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, cores?: string): Promise<Proc> {
  const dir = await mkdtemp(join(tmpdir(), `bench-${name}-`));
  const logFile = join(dir, 'stdout.log');
  const fd = openSync(logFile, 'w');
  // taskset execs the command: the child's pid is the process itself.
  const [file, argv] = onCores(cores, cmd, args);
  const child = spawn(file, argv, { env: { ...process.env, ...env }, stdio: ['ignore', fd, 'pipe'] });
  closeSync(fd);
  return waitListening(name, child, logFile);
}

function waitListening(name: string, child: ChildProcess, logFile: string): Promise<Proc> {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${stderr}`)), 20_000);
    const poll = setInterval(() => {
      let text: string;
      try {
        text = readFileSync(logFile, 'utf8');
      } catch {
        return;
      }
      for (const line of text.split('\n')) {
        let msg: { msg?: string; port?: number; url?: string; adminUrl?: string };
        try {
          msg = JSON.parse(line) as typeof msg;
        } catch {
          continue;
        }
        if (msg.msg === 'listening' || msg.msg === 'gateway listening') {
          clearTimeout(timer);
          clearInterval(poll);
          const exited = new Promise<void>((r) => child.once('exit', () => r()));
          resolve({
            name,
            child,
            pid: child.pid as number,
            url: msg.url ?? `http://127.0.0.1:${msg.port}`,
            adminUrl: msg.adminUrl,
            logFile,
            stop: async () => {
              if (child.exitCode === null) child.kill('SIGTERM');
              await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
              if (child.exitCode === null) child.kill('SIGKILL');
              await rm(dirname(logFile), { recursive: true, force: true });
            },
          });
          return;
        }
      }
    }, 50);
    child.once('exit', (code) => {
      clearTimeout(timer);
      clearInterval(poll);
      reject(new Error(`${name} exited (${code}): ${stderr}`));
    });
  });
}

/** A redis-server on a free port, with nothing kept on disk. */
export async function startRedisServer(cores?: string): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const port = await freePort();
  const [file, argv] = onCores(cores, 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  const child = spawn(file, argv, { stdio: 'ignore' });
  const { Redis } = await import('ioredis');
  for (let i = 0; i < 100; i++) {
    const c = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.ping();
      c.disconnect();
      break;
    } catch {
      c.disconnect();
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid as number,
    stop: async () => {
      child.kill('SIGKILL');
    },
  };
}
