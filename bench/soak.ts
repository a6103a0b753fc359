// `npm run soak`: one gateway (from dist, as the benchmark runs it) under a fixed request rate of
// mixed traffic for SOAK_MINUTES (default 10): session-cookie requests (some with 64 KB answers),
// bearer requests with the gateway's own access tokens and with an external issuer's JWTs, public
// requests, and WebSockets opened, used and closed through a websocket route (echo upstream). Every
// 5 s it samples the gateway's RSS (/proc/<pid>/status VmRSS) and V8 heap in use (admin /metrics:
// nodejs_heap_size_used_bytes). Writes bench/soak.csv, bench/soak.png, and a Soak section in
// bench/RESULTS.md below the hand-run marker (which `npm run bench` keeps), replacing the last one.
//
//   SOAK_MINUTES=10  SOAK_RATE=1000 (HTTP req/s)  SOAK_WS_RATE=5 (WebSockets opened per second)
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type autocannon from 'autocannon';
import { request } from 'undici';
import { WebSocket } from 'ws';
import { lineChart } from './png.js';
import { rssBytes, startProc, startRedisServer, type Proc } from './procs.js';
import { accessToken, benchIssuer, gatewayConfig, login, ROOT, startGateway, startLoadGenerator } from './setup.js';

const MINUTES = Number(process.env.SOAK_MINUTES ?? 10);
const RATE = Number(process.env.SOAK_RATE ?? 1000);
const WS_RATE = Number(process.env.SOAK_WS_RATE ?? 5);
const SAMPLE_MS = 5000;
const SESSIONS = 20;
const ACCESS_TOKENS = 5;
const ORIGIN_HEADER = 'http://bench.example';

const HAND_RUN = '<!-- hand-run comparisons (compare.ts): kept by npm run bench -->';
const SOAK_BEGIN = '<!-- soak (npm run soak): replaced by the next soak, kept by npm run bench -->';
const SOAK_END = '<!-- end of soak -->';

interface Sample {
  seconds: number;
  rssMB: number;
  heapMB: number;
  wsOpened: number;
  wsFailed: number;
}

async function heapUsedBytes(gw: Proc): Promise<number> {
  const res = await request(`${gw.adminUrl}/metrics`);
  const text = await res.body.text();
  const line = text.split('\n').find((l) => l.startsWith('nodejs_heap_size_used_bytes'));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : NaN;
}

/** Least-squares slope of y over x. */
function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den > 0 ? num / den : NaN;
}

/** WebSockets: open one through the gateway, exchange three echoes, close; at WS_RATE a second. */
function webSocketTraffic(gw: Proc, cookies: string[]) {
  let opened = 0;
  let failed = 0;
  let n = 0;
  const pending = new Set<Promise<void>>();
  const one = (cookie: string) =>
    new Promise<void>((resolve) => {
      const socket = new WebSocket(`${gw.url.replace('http:', 'ws:')}/live/socket`, { headers: { cookie, origin: ORIGIN_HEADER } });
      let echoes = 0;
      const done = (ok: boolean) => {
        clearTimeout(timer);
        if (!ok) {
          failed++;
          socket.terminate();
        }
        resolve();
      };
      const timer = setTimeout(() => done(false), 10_000);
      socket.once('open', () => {
        opened++;
        socket.send(`ping ${echoes}`);
      });
      socket.on('message', () => {
        if (++echoes < 3) socket.send(`ping ${echoes}`);
        else socket.close(1000);
      });
      socket.once('close', (code) => done(code === 1000 && echoes === 3));
      socket.once('error', () => done(false));
    });
  const timer = setInterval(() => {
    const p = one(cookies[n++ % cookies.length] as string);
    pending.add(p);
    void p.then(() => pending.delete(p));
  }, 1000 / WS_RATE);
  return {
    get opened() {
      return opened;
    },
    get failed() {
      return failed;
    },
    stop: async () => {
      clearInterval(timer);
      await Promise.all(pending);
    },
  };
}

/** The Soak section of RESULTS.md: replaces the last one, or goes at the end (below the hand-run marker). */
async function writeResults(section: string): Promise<void> {
  const file = join(ROOT, 'bench/RESULTS.md');
  let text = await readFile(file, 'utf8').catch(() => '');
  const block = `${SOAK_BEGIN}\n${section.trimEnd()}\n${SOAK_END}\n`;
  const begin = text.indexOf(SOAK_BEGIN);
  const end = text.indexOf(SOAK_END);
  if (begin >= 0 && end > begin) {
    text = text.slice(0, begin) + block + text.slice(end + SOAK_END.length).replace(/^\n/, '');
  } else {
    // `npm run bench` keeps what follows the hand-run marker: the section must come after it.
    if (!text.includes(HAND_RUN)) text = `${text.trimEnd()}\n\n${HAND_RUN}\n`;
    text = `${text.trimEnd()}\n\n${block}`;
  }
  await writeFile(file, text);
}

async function main(): Promise<void> {
  const durationS = Math.round(MINUTES * 60);
  const work = await mkdtemp(join(tmpdir(), 'gw-soak-'));
  const redis = await startRedisServer();
  const procs: Proc[] = [];
  const gen = startLoadGenerator();
  try {
    const { idpToken, jwks } = await benchIssuer();
    const origin = await startProc('origin', process.execPath, [join(ROOT, 'dist/bench/origin.js')], { JWKS_JSON: jwks, WS_ECHO: '1' });
    procs.push(origin);
    const config = await gatewayConfig(
      join(work, 'gateway'),
      redis.url,
      origin.url,
      { cacheTtl: '2s' },
      {
        // Many sign-ins by one user at start; access tokens that outlive the run.
        login: { verifyUrl: `${origin.url}/verify`, rateLimit: { perAddress: { max: 10_000 }, perUsername: { max: 10_000 } } },
        accessTokens: { ttl: `${Math.max(15, Math.ceil(MINUTES) + 5)}m` },
      },
      true,
      [{ name: 'live', match: { path: '/live' }, upstream: { url: origin.url }, auth: 'session', websocket: true }],
    );
    const gw = await startGateway('gateway-soak', config);
    procs.push(gw);

    const cookies: string[] = [];
    for (let i = 0; i < SESSIONS; i++) cookies.push(await login(gw));
    const tokens: string[] = [];
    for (let i = 0; i < ACCESS_TOKENS; i++) tokens.push(await accessToken(gw));
    // Each connection walks this list in turn: 50% session (1 in 10 of those a 64 KB answer), 30% bearer
    // (half the gateway's access tokens, half the issuer's JWT), 20% public.
    const requests: autocannon.Request[] = [];
    for (let i = 0; i < 100; i++) {
      const k = i % 10;
      if (k < 5) requests.push({ method: 'GET', path: i % 20 === 0 ? '/app/big' : '/app', headers: { cookie: cookies[i % SESSIONS] as string } });
      else if (k < 8) requests.push({ method: 'GET', path: '/api', headers: { authorization: k === 5 ? idpToken : (tokens[i % ACCESS_TOKENS] as string) } });
      else requests.push({ method: 'GET', path: '/pub' });
    }

    process.stdout.write(`soak: ${MINUTES} min, ${RATE} req/s HTTP, ${WS_RATE} WebSockets/s, gateway pid ${gw.pid}\n`);
    const samples: Sample[] = [];
    const started = Date.now();
    const ws = webSocketTraffic(gw, cookies);
    const sample = async () => {
      const s: Sample = {
        seconds: (Date.now() - started) / 1000,
        rssMB: rssBytes(gw.pid) / 2 ** 20,
        heapMB: (await heapUsedBytes(gw)) / 2 ** 20,
        wsOpened: ws.opened,
        wsFailed: ws.failed,
      };
      samples.push(s);
      process.stdout.write(`${s.seconds.toFixed(0)} s: RSS ${s.rssMB.toFixed(1)} MB, heap ${s.heapMB.toFixed(1)} MB, WebSockets ${s.wsOpened} (${s.wsFailed} failed)\n`);
    };
    await sample();
    let sampling = Promise.resolve();
    const sampler = setInterval(() => (sampling = sampling.then(sample, sample)), SAMPLE_MS);
    const load = gen.run({ url: gw.url, connections: 20, duration: durationS, overallRate: RATE, requests, timeout: 10 });
    const result = await load;
    await ws.stop();
    clearInterval(sampler);
    await sampling;
    // The last sample at the end of the load, unless the sampler has just taken one.
    if (Date.now() - started - (samples[samples.length - 1]?.seconds ?? 0) * 1000 > 2000) await sample();

    // soak.csv and soak.png
    const csv = ['seconds,rss_mb,heap_used_mb,ws_opened,ws_failed', ...samples.map((s) => `${s.seconds.toFixed(1)},${s.rssMB.toFixed(2)},${s.heapMB.toFixed(2)},${s.wsOpened},${s.wsFailed}`)];
    await writeFile(join(ROOT, 'bench/soak.csv'), csv.join('\n') + '\n');
    const rss = samples.map((s) => [s.seconds / 60, s.rssMB] as const);
    const heap = samples.map((s) => [s.seconds / 60, s.heapMB] as const);
    await writeFile(
      join(ROOT, 'bench/soak.png'),
      lineChart(
        [
          { name: 'RSS MB', color: [214, 39, 40], points: rss },
          { name: 'HEAP MB', color: [31, 119, 180], points: heap },
        ],
        { xName: 'MIN', xMax: MINUTES },
      ),
    );

    // Slopes over the second half (the first holds start-up and the caches filling).
    const half = (samples[samples.length - 1]?.seconds ?? 0) / 120;
    const rssSlope = slope(rss.filter((p) => p[0] >= half));
    const heapSlope = slope(heap.filter((p) => p[0] >= half));
    const at = (minute: number) => samples.reduce((best, s) => (Math.abs(s.seconds - minute * 60) < Math.abs(best.seconds - minute * 60) ? s : best));
    const fmt = (n: number, d = 1) => n.toFixed(d);
    const total = result.requests.total;
    let md = `## Soak\n\n`;
    md += `\`npm run soak\`, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${process.version}: one gateway (workers: 1, access log on, session cache 2 s) for ${MINUTES} minute${MINUTES === 1 ? '' : 's'} `;
    md += `at a fixed ${RATE} req/s over 20 connections (${fmt(total / durationS, 0)} req/s achieved; ${total} requests, ${result.non2xx} non-2xx, ${result.errors + result.timeouts} errors): `;
    md += `50% session cookie (${SESSIONS} sessions; 1 in 10 of these a 64 KB answer), 30% bearer (the gateway's own access tokens and an issuer's JWT), 20% public; `;
    md += `plus ${WS_RATE} WebSockets a second opened through a session websocket route, three echoes each, then closed (${ws.opened} opened, ${ws.failed} failed). `;
    md += `RSS from /proc, V8 heap in use from the admin /metrics (nodejs_heap_size_used_bytes), every ${SAMPLE_MS / 1000} s: [soak.csv](soak.csv), plotted in [soak.png](soak.png). `;
    md += 'The host was shared with other work (test runs, other benchmarks) during the run.\n\n';
    md += `Slope over the second half (least squares): **RSS ${rssSlope >= 0 ? '+' : ''}${fmt(rssSlope, 2)} MB/min, heap ${heapSlope >= 0 ? '+' : ''}${fmt(heapSlope, 2)} MB/min**.\n\n`;
    md += '| minute | RSS MB | heap MB |\n| --- | --- | --- |\n';
    for (let m = 0; m <= Math.floor(MINUTES + 1e-9); m++) {
      const s = at(m);
      md += `| ${m} | ${fmt(s.rssMB)} | ${fmt(s.heapMB)} |\n`;
    }
    md += '\n![soak: RSS and heap over time](soak.png)\n';
    await writeResults(md);
    process.stdout.write(`\nRSS ${fmt(rssSlope, 2)} MB/min, heap ${fmt(heapSlope, 2)} MB/min over the second half; wrote bench/soak.csv, bench/soak.png, RESULTS.md (Soak)\n`);
  } finally {
    await gen.stop();
    for (const p of procs.reverse()) await p.stop();
    await redis.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
