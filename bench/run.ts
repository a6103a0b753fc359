// `npm run bench`: the origin, a bare undici proxy, redis-server and gateways run as separate
// processes; autocannon drives load from a process of its own (load.ts). Every scenario runs at 50
// and 100 connections, with a small and a 64 KB answer, three times, interleaved so drift hits all
// alike. Pinned mode (pin.ts, default on two or more cores; BENCH_PIN=0 turns it off): the proxy
// under test on one core, everything else on the others. Writes bench/RESULTS.md (people) and
// bench/results.json (tools).
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMicro } from './micro.js';
import { pinning, pinPid } from './pin.js';
import { cpuMicrosOf, processTree, rssBytesOf, startProc, startRedisServer, type Proc } from './procs.js';
import { topFrames } from './profile.js';
import { report, type Measurement, type ScenarioDef } from './report.js';
import {
  accessToken,
  benchIssuer,
  ES_SECRET,
  expressSession,
  forwardedToken,
  gatewayConfig,
  login,
  ROOT,
  selfSignedCert,
  startGateway,
  startLoadGenerator,
  type LoadGenerator,
} from './setup.js';

const HAND_RUN = '<!-- hand-run comparisons (compare.ts): kept by npm run bench -->';

const DURATION_S = Number(process.env.BENCH_DURATION ?? 2);
const REPS = Number(process.env.BENCH_REPS ?? 3);
const CONNECTIONS = [50, 100];
const SIZES = ['small', '64k'] as const;

type Scenario = ScenarioDef & {
  base: string;
  headers: Record<string, string>;
  /** The processes whose CPU and RSS the row reports: one, or a cluster primary and its workers. */
  pids: () => number[];
};

/** Wait until `proc` has logged `msg` `count` times (a cluster's workers each say they listen). */
async function logged(proc: Proc, msg: string, count: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const n = readFileSync(proc.logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes(`"msg":"${msg}"`)).length;
    if (n >= count) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${proc.name}: "${msg}" not logged ${count} times`);
}

async function measure(gen: LoadGenerator, s: Scenario, connections: number, size: string, rep: number): Promise<Measurement> {
  const url = `${s.base}${s.path}${size === '64k' ? '/big' : ''}`;
  const pids = s.pids();
  let peak = rssBytesOf(pids);
  const sampler = setInterval(() => (peak = Math.max(peak, rssBytesOf(pids))), 100);
  const before = pids.map((p) => cpuMicrosOf([p]));
  const r = await gen.load(url, connections, s.headers, DURATION_S);
  const byPid = pids.map((p, i) => cpuMicrosOf([p]) - (before[i] as number));
  const cpu = byPid.reduce((a, b) => a + b, 0);
  clearInterval(sampler);
  const total = r.requests.total;
  return {
    scenario: s.id,
    connections,
    size,
    rep,
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    requests: total,
    cpuMicrosPerRequest: total > 0 ? cpu / total : 0,
    // Several processes (a cluster): each one's share, the primary first.
    ...(pids.length > 1 ? { cpuMicrosPerRequestByProcess: byPid.map((c) => (total > 0 ? c / total : 0)) } : {}),
    peakRssBytes: peak,
  };
}

async function main(): Promise<void> {
  const started = Date.now();
  const work = await mkdtemp(join(tmpdir(), 'gw-bench-'));
  const procs: Proc[] = [];
  const pin = pinning();
  // This process (RSS sampling, the micro-benchmark) stays off the proxy's core too.
  pinPid(process.pid, pin.others);
  process.stdout.write(`mode: ${pin.describe}\n`);
  const redis = await startRedisServer(pin.others);
  const gen = startLoadGenerator(pin.others);
  const { idpToken, jwks } = await benchIssuer();
  try {
    const origin = await startProc('origin', process.execPath, [join(ROOT, 'dist/bench/origin.js')], { JWKS_JSON: jwks }, pin.others);
    procs.push(origin);
    const bare = await startProc('bare-proxy', process.execPath, [join(ROOT, 'dist/bench/bare-proxy.js')], { ORIGIN: origin.url }, pin.proxy);
    procs.push(bare);
    const cachedConfig = await gatewayConfig(join(work, 'cached'), redis.url, origin.url, { cacheTtl: '2s' });
    const cached = await startGateway('gateway', cachedConfig, [], undefined, {}, pin.proxy);
    procs.push(cached);
    const uncached = await startGateway(
      'gateway-no-cache',
      await gatewayConfig(join(work, 'uncached'), redis.url, origin.url, { cacheTtl: 0 }, { bearer: { cacheMaxEntries: 0 } }),
      [],
      undefined,
      {},
      pin.proxy,
    );
    procs.push(uncached);
    const express = await startGateway(
      'gateway-express-session',
      await gatewayConfig(join(work, 'express'), redis.url, origin.url, {
        format: 'express-session',
        expressSession: { secrets: [ES_SECRET], subject: 'user.id', claims: { email: 'user.email', roles: 'user.roles' } },
      }),
      [],
      undefined,
      {},
      pin.proxy,
    );
    procs.push(express);
    // TLS rows: the bare proxy and a gateway behind HTTPS, same certificate (ECDSA P-256, TLS 1.3).
    const cert = selfSignedCert(work);
    const bareTls = await startProc(
      'bare-proxy-tls',
      process.execPath,
      [join(ROOT, 'dist/bench/bare-proxy.js')],
      { ORIGIN: origin.url, TLS_CERT: cert.certFile, TLS_KEY: cert.keyFile },
      pin.proxy,
    );
    procs.push(bareTls);
    const tlsGateway = await startGateway(
      'gateway-tls',
      await gatewayConfig(join(work, 'tls'), redis.url, origin.url, { cacheTtl: '2s' }, { listen: { host: '127.0.0.1', port: 0, tls: { ...cert, hsts: false } } }),
      [],
      undefined,
      {},
      pin.proxy,
    );
    procs.push(tlsGateway);
    // workers: 2, otherwise the cached gateway's configuration; on two cores when pinned.
    const twoWorkers = await startGateway(
      'gateway-2-workers',
      await gatewayConfig(join(work, 'workers'), redis.url, origin.url, { cacheTtl: '2s' }, { workers: 2 }),
      [],
      undefined,
      {},
      pin.pair,
    );
    procs.push(twoWorkers);
    await logged(twoWorkers, 'gateway listening', 2);

    // One sign-in serves every session row on the same Redis (sign-in is rate limited per user).
    const cookie = await login(cached);
    // The bare proxy plus the header the gateway adds on the session route: its internal JWT, as minted.
    const token = await forwardedToken(cached, '/app', { cookie });
    const bareToken = await startProc(
      'bare-proxy-token',
      process.execPath,
      [join(ROOT, 'dist/bench/bare-proxy.js')],
      { ORIGIN: origin.url, EXTRA_HEADER_NAME: token.name, EXTRA_HEADER_VALUE: token.value },
      pin.proxy,
    );
    procs.push(bareToken);
    const tokenHeaderBytes = Buffer.byteLength(`${token.name}: ${token.value}\r\n`);

    const one = (p: Proc) => () => [p.pid];
    const scenarios: Scenario[] = [
      { id: 1, name: 'origin directly (ceiling)', base: origin.url, path: '/pub', pids: one(origin), headers: {} },
      { id: 2, name: 'bare undici proxy', base: bare.url, path: '/pub', pids: one(bare), headers: {} },
      { id: 2.5, name: `bare undici proxy + token-sized header (${tokenHeaderBytes} B)`, base: bareToken.url, path: '/pub', pids: one(bareToken), headers: {} },
      { id: 3, name: 'gateway, public route', base: cached.url, path: '/pub', pids: one(cached), headers: {} },
      { id: 4, name: 'gateway, session, cache hit', base: cached.url, path: '/app', pids: one(cached), headers: { cookie } },
      { id: 5, name: 'gateway, session, Redis every request', base: uncached.url, path: '/app', pids: one(uncached), headers: { cookie: await login(uncached) } },
      { id: 6, name: 'gateway, bearer (issuer JWT), verified-token cache hit', base: cached.url, path: '/api', pids: one(cached), headers: { authorization: idpToken } },
      { id: 6.5, name: 'gateway, bearer (issuer JWT), cache disabled', base: uncached.url, path: '/api', pids: one(uncached), headers: { authorization: idpToken } },
      { id: 7, name: 'gateway, bearer (gateway access token)', base: cached.url, path: '/api', pids: one(cached), headers: { authorization: await accessToken(cached) } },
      { id: 8, name: 'gateway, express-session mode', base: express.url, path: '/app', pids: one(express), headers: { cookie: await expressSession(redis.url) } },
      { id: 9, name: 'bare undici proxy, HTTPS', base: bareTls.url, path: '/pub', pids: one(bareTls), headers: {} },
      { id: 10, name: 'gateway, HTTPS, session, cache hit', base: tlsGateway.url, path: '/app', pids: one(tlsGateway), headers: { cookie: await login(tlsGateway) } },
      // The primary and its workers, found afresh for each cell (a replaced worker is counted).
      { id: 11, name: 'gateway, workers: 2, session, cache hit', base: twoWorkers.url, path: '/app', pids: () => processTree(twoWorkers.pid), headers: { cookie } },
    ];

    // Warm up JIT and pools: a gateway has more code to optimise than the bare proxy.
    for (const s of scenarios) await gen.load(`${s.base}${s.path}`, 50, s.headers, 2);
    const results: Measurement[] = [];
    for (let rep = 1; rep <= REPS; rep++) {
      for (const connections of CONNECTIONS) {
        for (const size of SIZES) {
          for (const s of scenarios) {
            const m = await measure(gen, s, connections, size, rep);
            results.push(m);
            process.stdout.write(`rep ${rep} c${connections} ${size} #${s.id} ${s.name}: ${Math.round(m.rps)} req/s p99 ${m.p99} ms\n`);
          }
        }
      }
    }

    // CPU profile of scenario 4 in a gateway of its own, so the profile holds only that load.
    const profDir = join(work, 'prof');
    const profiled = await startGateway(
      'gateway-profiled',
      await gatewayConfig(join(work, 'profiled'), redis.url, origin.url, { cacheTtl: '2s' }),
      ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
      undefined,
      {},
      pin.proxy,
    );
    await gen.load(`${profiled.url}/app`, 50, { cookie }, 3);
    await profiled.stop();
    const profFile = (await readdir(profDir)).find((f) => f.endsWith('.cpuprofile'));
    const frames = profFile ? await topFrames(join(profDir, profFile)) : [];

    const micro = await runMicro();
    const out = report(
      scenarios.map(({ id, name, path }) => ({ id, name, path })),
      results,
      micro,
      frames,
      {
        durationS: DURATION_S,
        reps: REPS,
        node: process.version,
        totalSeconds: (Date.now() - started) / 1000,
        pinned: pin.pinned,
        pinning: pin.describe,
        cores: pin.cores,
        tokenHeaderBytes,
      },
    );
    // Hand-run A/B comparisons (compare.ts) below the marker are kept: they are measured apart.
    const previous = await readFile(join(ROOT, 'bench/RESULTS.md'), 'utf8').catch(() => '');
    const kept = previous.includes(HAND_RUN) ? previous.slice(previous.indexOf(HAND_RUN)) : '';
    await writeFile(join(ROOT, 'bench/RESULTS.md'), kept ? `${out.markdown.trimEnd()}\n\n${kept}` : out.markdown);
    await writeFile(join(ROOT, 'bench/results.json'), JSON.stringify(out.json, null, 2) + '\n');
    process.stdout.write(`\nwrote bench/RESULTS.md and bench/results.json in ${Math.round((Date.now() - started) / 1000)} s\n`);
  } finally {
    await gen.stop();
    for (const p of procs.reverse()) await p.stop();
    await redis.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
