// `npm run bench`: the origin, a bare undici proxy, redis-server and gateways run as separate
// processes; autocannon drives load from this process. Every scenario runs at 50 and 100
// connections, with a small and a 64 KB answer, three times, interleaved so drift hits all alike.
// Writes bench/RESULTS.md (people) and bench/results.json (tools).
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMicro } from './micro.js';
import { cpuMicros, rssBytes, startProc, startRedisServer, type Proc } from './procs.js';
import { topFrames } from './profile.js';
import { report, type Measurement, type ScenarioDef } from './report.js';
import { accessToken, benchIssuer, ES_SECRET, expressSession, gatewayConfig, load, login, ROOT, selfSignedCert, startGateway } from './setup.js';

const HAND_RUN = '<!-- hand-run comparisons (compare.ts): kept by npm run bench -->';

const DURATION_S = Number(process.env.BENCH_DURATION ?? 2);
const REPS = Number(process.env.BENCH_REPS ?? 3);
const CONNECTIONS = [50, 100];
const SIZES = ['small', '64k'] as const;

async function measure(s: ScenarioDef & { base: string; proc: Proc; headers: Record<string, string> }, connections: number, size: string, rep: number): Promise<Measurement> {
  const url = `${s.base}${s.path}${size === '64k' ? '/big' : ''}`;
  let peak = rssBytes(s.proc.pid);
  const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(s.proc.pid))), 100);
  const cpuBefore = cpuMicros(s.proc.pid);
  const r = await load(url, connections, s.headers, DURATION_S);
  const cpu = cpuMicros(s.proc.pid) - cpuBefore;
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
    peakRssBytes: peak,
  };
}

async function main(): Promise<void> {
  const started = Date.now();
  const work = await mkdtemp(join(tmpdir(), 'gw-bench-'));
  const procs: Proc[] = [];
  const redis = await startRedisServer();
  const { idpToken, jwks } = await benchIssuer();
  try {
    const origin = await startProc('origin', process.execPath, [join(ROOT, 'dist/bench/origin.js')], { JWKS_JSON: jwks });
    procs.push(origin);
    const bare = await startProc('bare-proxy', process.execPath, [join(ROOT, 'dist/bench/bare-proxy.js')], { ORIGIN: origin.url });
    procs.push(bare);
    const cached = await startGateway('gateway', await gatewayConfig(join(work, 'cached'), redis.url, origin.url, { cacheTtl: '2s' }));
    procs.push(cached);
    const uncached = await startGateway(
      'gateway-no-cache',
      await gatewayConfig(join(work, 'uncached'), redis.url, origin.url, { cacheTtl: 0 }, { bearer: { cacheMaxEntries: 0 } }),
    );
    procs.push(uncached);
    const express = await startGateway(
      'gateway-express-session',
      await gatewayConfig(join(work, 'express'), redis.url, origin.url, {
        format: 'express-session',
        expressSession: { secrets: [ES_SECRET], subject: 'user.id', claims: { email: 'user.email', roles: 'user.roles' } },
      }),
    );
    procs.push(express);
    // TLS rows: the bare proxy and a gateway behind HTTPS, same certificate (ECDSA P-256, TLS 1.3).
    const cert = selfSignedCert(work);
    const bareTls = await startProc('bare-proxy-tls', process.execPath, [join(ROOT, 'dist/bench/bare-proxy.js')], { ORIGIN: origin.url, TLS_CERT: cert.certFile, TLS_KEY: cert.keyFile });
    procs.push(bareTls);
    const tlsGateway = await startGateway(
      'gateway-tls',
      await gatewayConfig(join(work, 'tls'), redis.url, origin.url, { cacheTtl: '2s' }, { listen: { host: '127.0.0.1', port: 0, tls: { ...cert, hsts: false } } }),
    );
    procs.push(tlsGateway);

    const scenarios: (ScenarioDef & { base: string; proc: Proc; headers: Record<string, string> })[] = [
      { id: 1, name: 'origin directly (ceiling)', base: origin.url, path: '/pub', proc: origin, headers: {} },
      { id: 2, name: 'bare undici proxy', base: bare.url, path: '/pub', proc: bare, headers: {} },
      { id: 3, name: 'gateway, public route', base: cached.url, path: '/pub', proc: cached, headers: {} },
      { id: 4, name: 'gateway, session, cache hit', base: cached.url, path: '/app', proc: cached, headers: { cookie: await login(cached) } },
      { id: 5, name: 'gateway, session, Redis every request', base: uncached.url, path: '/app', proc: uncached, headers: { cookie: await login(uncached) } },
      { id: 6, name: 'gateway, bearer (issuer JWT), verified-token cache hit', base: cached.url, path: '/api', proc: cached, headers: { authorization: idpToken } },
      { id: 6.5, name: 'gateway, bearer (issuer JWT), cache disabled', base: uncached.url, path: '/api', proc: uncached, headers: { authorization: idpToken } },
      { id: 7, name: 'gateway, bearer (gateway access token)', base: cached.url, path: '/api', proc: cached, headers: { authorization: await accessToken(cached) } },
      { id: 8, name: 'gateway, express-session mode', base: express.url, path: '/app', proc: express, headers: { cookie: await expressSession(redis.url) } },
      { id: 9, name: 'bare undici proxy, HTTPS', base: bareTls.url, path: '/pub', proc: bareTls, headers: {} },
      { id: 10, name: 'gateway, HTTPS, session, cache hit', base: tlsGateway.url, path: '/app', proc: tlsGateway, headers: { cookie: await login(tlsGateway) } },
    ];

    // Warm up JIT and pools: a gateway has more code to optimise than the bare proxy.
    for (const s of scenarios) await load(`${s.base}${s.path}`, 50, s.headers, 2);
    const results: Measurement[] = [];
    for (let rep = 1; rep <= REPS; rep++) {
      for (const connections of CONNECTIONS) {
        for (const size of SIZES) {
          for (const s of scenarios) {
            const m = await measure(s, connections, size, rep);
            results.push(m);
            process.stdout.write(`rep ${rep} c${connections} ${size} #${s.id} ${s.name}: ${Math.round(m.rps)} req/s p99 ${m.p99} ms\n`);
          }
        }
      }
    }

    // CPU profile of scenario 4 in a gateway of its own, so the profile holds only that load.
    const profDir = join(work, 'prof');
    const profiled = await startGateway('gateway-profiled', await gatewayConfig(join(work, 'profiled'), redis.url, origin.url, { cacheTtl: '2s' }), [
      '--cpu-prof',
      `--cpu-prof-dir=${profDir}`,
    ]);
    await load(`${profiled.url}/app`, 50, { cookie: await login(profiled) }, 3);
    await profiled.stop();
    const profFile = (await readdir(profDir)).find((f) => f.endsWith('.cpuprofile'));
    const frames = profFile ? await topFrames(join(profDir, profFile)) : [];

    const micro = await runMicro();
    const out = report(
      scenarios.map(({ id, name, path }) => ({ id, name, path })),
      results,
      micro,
      frames,
      { durationS: DURATION_S, reps: REPS, node: process.version, totalSeconds: (Date.now() - started) / 1000 },
    );
    // Hand-run A/B comparisons (compare.ts) below the marker are kept: they are measured apart.
    const previous = await readFile(join(ROOT, 'bench/RESULTS.md'), 'utf8').catch(() => '');
    const kept = previous.includes(HAND_RUN) ? previous.slice(previous.indexOf(HAND_RUN)) : '';
    await writeFile(join(ROOT, 'bench/RESULTS.md'), kept ? `${out.markdown.trimEnd()}\n\n${kept}` : out.markdown);
    await writeFile(join(ROOT, 'bench/results.json'), JSON.stringify(out.json, null, 2) + '\n');
    process.stdout.write(`\nwrote bench/RESULTS.md and bench/results.json in ${Math.round((Date.now() - started) / 1000)} s\n`);
  } finally {
    for (const p of procs.reverse()) await p.stop();
    await redis.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
