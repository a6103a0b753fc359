// Out of file descriptors, libuv closes the connections it cannot accept and Node reports nothing:
// the gateway's own once-a-second check must count it and log it (at most every 10 s), the process
// must live on, and once descriptors are free again it serves as before. A real process under a
// real limit (prlimit).
import { connect, type Socket } from 'node:net';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_AUTH, route, writeConfigDir } from '../support/gateway.js';
import { spawnGateway, type GatewayProcess } from '../support/process.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

let upstream: Upstream;
let dir: string;
let gw: GatewayProcess;
beforeAll(async () => {
  upstream = await startUpstream();
  dir = await writeConfigDir([route('pub', '/', upstream.url)]);
  gw = await spawnGateway(join(dir, 'gateway.yaml'), {}, { nofile: 160 });
});
afterAll(async () => {
  await gw?.kill();
  await upstream?.close();
  await rm(dir, { recursive: true, force: true });
});

function open(url: string): Promise<Socket | undefined> {
  const { port } = new URL(url);
  return new Promise((resolve) => {
    const s = connect(Number(port), '127.0.0.1');
    s.once('connect', () => resolve(s));
    s.once('error', () => resolve(undefined));
    s.on('close', () => undefined);
  });
}

describe('running out of file descriptors', () => {
  it('is counted and logged, the process lives on, and serves again once descriptors are free', async () => {
    const sockets = (await Promise.all(Array.from({ length: 300 }, () => open(gw.url)))).filter((s): s is Socket => s !== undefined);
    // Held past one check.
    await new Promise((r) => setTimeout(r, 1500));
    for (const s of sockets) s.destroy();
    await new Promise((r) => setTimeout(r, 300));
    expect(gw.child.exitCode).toBeNull();
    const logged = gw.logs.find((l) => l.msg === 'near the file-descriptor limit: new connections are refused (raise ulimit -n / LimitNOFILE)');
    expect(logged).toMatchObject({ level: 'error', limit: 160 });
    expect(Number(logged?.open)).toBeGreaterThanOrEqual(144);
    const metrics = await (await request(`${gw.adminUrl}/metrics`, { headers: ADMIN_AUTH })).body.text();
    expect(Number(/gateway_fd_near_limit_total (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(0);
    const res = await request(`${gw.url}/hello`);
    await res.body.dump();
    expect(res.statusCode).toBe(200);
  }, 20_000);
});
