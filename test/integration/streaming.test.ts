// 200 MB up and 200 MB down through a gateway process, with its memory flat: bodies stream with
// backpressure in both directions, nothing is buffered whole.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { route, writeConfigDir } from '../support/gateway.js';
import { spawnGateway, type GatewayProcess } from '../support/process.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

const SIZE = 200 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 'x');

function generated(total: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) return void this.push(null);
      const n = Math.min(CHUNK.length, total - sent);
      sent += n;
      this.push(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
    },
  });
}

let up: Upstream;
let gw: GatewayProcess;
let dir: string;

beforeAll(async () => {
  up = await startUpstream((req, res) => {
    if (req.url === '/download') {
      req.resume();
      const bytes = Number(req.headers['x-size'] ?? SIZE);
      res.writeHead(200, { 'content-length': String(bytes) });
      generated(bytes).pipe(res);
      return;
    }
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => res.end(JSON.stringify({ bytes: n })));
  });
  dir = await writeConfigDir([route('big', '/', up.url, { maxBodySize: '300MB' })], { log: { level: 'info', accessLog: false } });
  gw = await spawnGateway(join(dir, 'gateway.yaml'));
  // Warm up so the baseline includes a used connection pool.
  await (await request(`${gw.url}/warm`, { method: 'POST', body: 'x' })).body.dump();
}, 30_000);

afterAll(async () => {
  await gw?.kill();
  await up?.close();
  await rm(dir, { recursive: true, force: true });
});

async function transfer(bytes: number): Promise<void> {
  const upload = await request(`${gw.url}/upload`, { method: 'POST', body: generated(bytes), headers: { 'x-size': String(bytes) } });
  expect(upload.statusCode).toBe(200);
  expect(await upload.body.json()).toEqual({ bytes });
  const download = await request(`${gw.url}/download`, { headers: { 'x-size': String(bytes) } });
  expect(download.statusCode).toBe(200);
  let received = 0;
  for await (const chunk of download.body) received += (chunk as Buffer).length;
  expect(received).toBe(bytes);
}

describe('streaming with backpressure', () => {
  it('passes a 200 MB upload and a 200 MB download with the gateway memory flat', async () => {
    const baseline = gw.rssBytes();
    // 50 MB each way first: what V8's heap and the socket buffers settle at under streaming load.
    await transfer(50 * 1024 * 1024);
    const settled = gw.peakRssBytes();
    await transfer(SIZE);
    const peak = gw.peakRssBytes();
    const mib = (n: number) => (n / 2 ** 20).toFixed(1);
    console.log(`gateway RSS baseline ${mib(baseline)} MiB, peak after 50 MB ${mib(settled)} MiB, after 200 MB ${mib(peak)} MiB`);
    // Flat: four times the data adds (almost) nothing to the peak. Buffering a body would add 200 MB.
    expect(peak - settled).toBeLessThan(64 * 1024 * 1024);
  }, 60_000);
});
