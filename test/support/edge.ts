// Real edge proxies for the forward-auth tests: Debian's nginx and Caddy, each run from a
// temporary directory on a loopback port with the snippet docs/forward-auth.md shows (read from
// the doc itself, so the documented configuration is the tested one), the doc's host names
// replaced by the test's addresses.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './redis.js';

export interface Edge {
  readonly url: string;
  /** What the proxy wrote to its error log / stderr, for a failing test's message. */
  output(): string;
  stop(): Promise<void>;
}

/** The code block after `<!-- snippet:<name> -->` in docs/forward-auth.md. */
export async function docSnippet(name: string): Promise<string> {
  const doc = await readFile(new URL('../../docs/forward-auth.md', import.meta.url), 'utf8');
  const at = doc.indexOf(`<!-- snippet:${name} -->`);
  if (at === -1) throw new Error(`docs/forward-auth.md has no snippet:${name}`);
  const m = /```[a-z]*\n([\s\S]*?)```/.exec(doc.slice(at));
  if (!m) throw new Error(`snippet:${name} has no code block`);
  return m[1] as string;
}

function localize(snippet: string, gateway: string, backend: string): string {
  return snippet.replaceAll('gateway:8080', gateway).replaceAll('backend:8000', backend);
}

async function waitListening(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const until = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}: ${output()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`not listening on ${port}: ${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function run(command: string, args: string[], port: number, dir: string, log: () => Promise<string>, env: NodeJS.ProcessEnv = process.env): Promise<Edge> {
  let stderr = '';
  const child = spawn(command, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const edge: Edge = {
    url: `http://127.0.0.1:${port}`,
    output: () => stderr,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
  return waitListening(port, child, () => stderr).then(
    () => edge,
    async (err: Error) => {
      const logged = await log().catch(() => '');
      await edge.stop();
      throw new Error(`${command}: ${err.message} ${logged}`);
    },
  );
}

/** nginx with the documented server block; one process (no master, so no user switch), logs in its directory. */
export async function startNginx(gateway: string, backend: string): Promise<Edge> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'gw-nginx-'));
  await mkdir(join(dir, 'tmp'));
  const server = localize(await docSnippet('nginx'), gateway, backend).replace('listen 80;', `listen 127.0.0.1:${port};`);
  const conf = `daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path ${dir}/tmp/body;
    proxy_temp_path ${dir}/tmp/proxy;
    fastcgi_temp_path ${dir}/tmp/fastcgi;
    uwsgi_temp_path ${dir}/tmp/uwsgi;
    scgi_temp_path ${dir}/tmp/scgi;
${server}
}
`;
  await writeFile(join(dir, 'nginx.conf'), conf);
  // Debian installs it in /usr/sbin, which a non-root PATH may lack.
  return run(existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], port, dir, () => readFile(join(dir, 'error.log'), 'utf8'));
}

/** Caddy with the documented site block; no admin endpoint, no automatic HTTPS. */
export async function startCaddy(gateway: string, backend: string): Promise<Edge> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'gw-caddy-'));
  const site = localize(await docSnippet('caddy'), gateway, backend).replace(/^:80 \{/m, `http://127.0.0.1:${port} {`);
  await writeFile(join(dir, 'Caddyfile'), `{\n\tadmin off\n\tauto_https off\n}\n${site}`);
  // Caddy keeps its state under XDG/HOME: give it this directory.
  return run('caddy', ['run', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], port, dir, async () => '', { ...process.env, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir });
}
