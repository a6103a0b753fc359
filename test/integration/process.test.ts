// The gateway as a process: SIGTERM drains (readiness 503, no new connections, in-flight requests
// finish, exit 0) and SIGHUP reloads routes.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { request } from 'undici';
import { stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { route, writeConfigDir } from '../support/gateway.js';
import { spawnGateway, type GatewayProcess } from '../support/process.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

async function start(routes: unknown[], gateway: Record<string, unknown> = {}): Promise<{ gw: GatewayProcess; dir: string }> {
  const dir = await writeConfigDir(routes, gateway);
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const gw = await spawnGateway(join(dir, 'gateway.yaml'));
  cleanup.push(() => gw.kill('SIGKILL'));
  return { gw, dir };
}

function canConnect(url: string): Promise<boolean> {
  const { port } = new URL(url);
  return new Promise((resolve) => {
    const s = connect(Number(port), '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe('SIGTERM', () => {
  it('turns readiness 503, stops accepting, lets in-flight requests finish, exits 0', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow: Upstream = await startUpstream((req, res) => {
      req.resume();
      void gate.then(() => res.end('finished'));
    });
    cleanup.push(() => slow.close());
    const { gw } = await start([route('slow', '/', slow.url)], { shutdown: { drainTimeout: '10s' } });

    const inFlight = request(`${gw.url}/work`);
    while (slow.received.length === 0) await new Promise((r) => setTimeout(r, 20));
    gw.child.kill('SIGTERM');
    while (!gw.logs.some((l) => l.msg === 'draining')) await new Promise((r) => setTimeout(r, 20));

    const ready = await request(`${gw.adminUrl}/readyz`);
    expect(ready.statusCode).toBe(503);
    expect(await ready.body.json()).toMatchObject({ status: 'not_ready', checks: { lifecycle: { ok: false, reason: 'draining' } } });
    expect(await canConnect(gw.url)).toBe(false);

    release();
    const res = await inFlight;
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('finished');
    expect(await gw.exited).toBe(0);
  });

  it('bounds the drain: a request that outlives drainTimeout is cut and the process still exits 0', async () => {
    const hanging = await startUpstream((req) => req.resume());
    cleanup.push(() => hanging.close());
    const { gw } = await start([route('hang', '/', hanging.url)], { shutdown: { drainTimeout: '300ms' } });
    const inFlight = request(`${gw.url}/forever`).then(
      () => 'answered',
      () => 'cut',
    );
    while (hanging.received.length === 0) await new Promise((r) => setTimeout(r, 20));
    const started = Date.now();
    gw.child.kill('SIGTERM');
    expect(await gw.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await inFlight).toBe('cut');
  });
});

describe('SIGHUP', () => {
  it('reloads the routes file', async () => {
    const up = await startUpstream();
    cleanup.push(() => up.close());
    // With the file watcher off, only the signal can cause the reload.
    const { gw, dir } = await start([route('a', '/a', up.url)], { reload: { watchFile: false } });
    expect(await request(`${gw.url}/b`).then((r) => r.statusCode)).toBe(404);
    await writeFile(join(dir, 'routes.yaml'), stringify({ routes: [route('a', '/a', up.url), route('b', '/b', up.url)] }));
    gw.child.kill('SIGHUP');
    for (let i = 0; i < 100 && !gw.logs.some((l) => l.msg === 'routes reloaded'); i++) await new Promise((r) => setTimeout(r, 50));
    const res = await request(`${gw.url}/b`);
    await res.body.dump();
    expect(res.statusCode).toBe(200);
  });
});
