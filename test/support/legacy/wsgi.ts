// The legacy WSGI app (wsgi_app.py) as a real Python process on port 0, for differential tests:
// it trusts HTTP_X_USER, which wsgiref fills from both `X-User` and `X_User`. Each request the app
// actually received arrives as one JSON line on its stdout and lands in `received`, so a test can
// assert the upstream saw nothing.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** One request as the WSGI app saw it (field names as the app prints them). */
export interface WsgiReceived {
  method: string;
  /** PATH_INFO: already percent-decoded by wsgiref. */
  path: string;
  query: string;
  /** HTTP_X_USER or HTTP_REMOTE_USER, whichever is set; null if neither. */
  remote_user: string | null;
  /** Every HTTP_* key of the environ. */
  env: Record<string, string>;
}

export interface WsgiUpstream {
  url: string;
  received: WsgiReceived[];
  /**
   * Resolves once every request the app has logged so far is in `received`. The app logs before it
   * answers, but its stdout pipe and the HTTP response race each other here; call this after a
   * response and before asserting on `received` (in particular before asserting it is empty).
   */
  settle(): Promise<void>;
  close(): Promise<void>;
}

const APP = fileURLToPath(new URL('./wsgi_app.py', import.meta.url));
const START_TIMEOUT_MS = 10_000;
const KILL_AFTER_MS = 2_000;

export function startWsgiUpstream(): Promise<WsgiUpstream> {
  // -u as well as the app's own flushes: a buffered line would look like "the upstream logged nothing".
  const child = spawn('python3', ['-u', APP], { stdio: ['pipe', 'pipe', 'pipe'] });
  const received: WsgiReceived[] = [];
  const syncs = new Map<number, () => void>();
  let nextSync = 0;
  let stderr = '';
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  // Writes to stdin after the app exited fail with EPIPE; that is not the test's business.
  child.stdin.on('error', () => {});

  const running = () => child.pid !== undefined && child.exitCode === null && child.signalCode === null;

  const close = async (): Promise<void> => {
    // No pid: spawn failed and no exit event will ever come.
    if (!running()) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
    await exited;
    clearTimeout(timer);
  };

  // stdout is one ordered stream: the app echoes the SYNC line after everything it printed before.
  const settle = (): Promise<void> => {
    if (!running()) return Promise.resolve();
    const id = nextSync++;
    const done = new Promise<void>((r) => syncs.set(id, r));
    child.stdin.write(`SYNC ${id}\n`);
    return Promise.race([done, exited]);
  };

  return new Promise((resolve, reject) => {
    let port: number | undefined;
    let buffered = '';
    const fail = (why: string) => {
      clearTimeout(timer);
      void close();
      reject(new Error(`wsgi upstream ${why}: ${stderr}`));
    };
    const timer = setTimeout(() => fail('did not start'), START_TIMEOUT_MS);
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      let nl;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        const sync = /^SYNC (\d+)$/.exec(line);
        const started = /^PORT (\d+)$/.exec(line);
        if (sync) {
          const id = Number(sync[1]);
          syncs.get(id)?.();
          syncs.delete(id);
        } else if (started && port === undefined) {
          port = Number(started[1]);
          clearTimeout(timer);
          resolve({ url: `http://127.0.0.1:${port}`, received, settle, close });
        } else if (line.startsWith('{')) {
          received.push(JSON.parse(line) as WsgiReceived);
        }
      }
    });
    child.once('error', (e) => fail(`could not be spawned (${e.message})`));
    void exited.then(() => {
      // Before the PORT line, an exit means the app died while starting (bad Python, import error).
      if (port === undefined) fail(`exited with ${child.exitCode ?? child.signalCode}`);
    });
  });
}
