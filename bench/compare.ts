// A quick A/B of CPU per request, for trying an optimization: the bare proxy and the gateway (and,
// with COMPARE_DIST=<other build's dist dir> and/or COMPARE_ENV="K=V ...", a second gateway built
// from other code or run with other settings) under the same fixed request rate, in short slices
// taken in turn over many rounds. At a fixed rate no process saturates, so CPU µs/request is the
// process's own cost; the machines drift by ±30% over minutes, so the figure to trust is the
// median of the per-round ratios (each round's slices are seconds apart).
//
//   node dist/bench/compare.js [path ...]     paths: /pub /app /app-policy /api /api#own (default /pub /app); /app/big etc.: the 64 KB answer
//   COMPARE_RATE=3000 (0: as fast as they go) COMPARE_SECONDS=1.5 COMPARE_ROUNDS=15 COMPARE_CONNECTIONS=50
//   COMPARE_CACHES=off: session and verified-token caches off (Redis and a signature check on every request)
//   COMPARE_CONFIG='{"redis":{"autoPipelining":true}}': gateway.yaml settings of the second gateway (merged per section)
// Pinned as `npm run bench` is (pin.ts; BENCH_PIN=0 turns it off): the proxies under test on the first
// core, one at a time under load; the origin, redis-server and this process (autocannon) on the others.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { pinning, pinPid } from './pin.js';
import { cpuMicros, rssBytes, startProc, startRedisServer, type Proc } from './procs.js';
import { accessToken, benchIssuer, gatewayConfig, login, ROOT, startGateway } from './setup.js';

const RATE = Number(process.env.COMPARE_RATE ?? 3000);
const SECONDS = Number(process.env.COMPARE_SECONDS ?? 1.5);
const ROUNDS = Number(process.env.COMPARE_ROUNDS ?? 15);
const CONNECTIONS = Number(process.env.COMPARE_CONNECTIONS ?? 50);
const OTHER_DIST = process.env.COMPARE_DIST;
const CACHES_OFF = process.env.COMPARE_CACHES === 'off';
const OTHER_CONFIG = JSON.parse(process.env.COMPARE_CONFIG ?? '{}') as Record<string, Record<string, unknown>>;
const OTHER_ENV = Object.fromEntries((process.env.COMPARE_ENV ?? '').split(/\s+/).filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));

interface Target {
  readonly label: string;
  readonly proc: Proc;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly samples: number[];
  peakRss: number;
}

async function run(t: Target): Promise<void> {
  const before = cpuMicros(t.proc.pid);
  const sampler = setInterval(() => (t.peakRss = Math.max(t.peakRss, rssBytes(t.proc.pid))), 100);
  const r = await autocannon({ url: t.url, connections: CONNECTIONS, duration: SECONDS, ...(RATE > 0 ? { overallRate: RATE } : {}), headers: t.headers });
  clearInterval(sampler);
  const cpu = cpuMicros(t.proc.pid) - before;
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${t.label}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  t.samples.push(cpu / r.requests.total);
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

async function main(): Promise<void> {
  const paths = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['/pub', '/app'];
  const work = await mkdtemp(join(tmpdir(), 'gw-compare-'));
  const pin = pinning();
  pinPid(process.pid, pin.others);
  process.stdout.write(`mode: ${pin.describe}\n`);
  const redis = await startRedisServer(pin.others);
  const procs: Proc[] = [];
  try {
    const { idpToken, jwks } = await benchIssuer();
    const origin = await startProc('origin', process.execPath, [join(ROOT, 'dist/bench/origin.js')], { JWKS_JSON: jwks }, pin.others);
    procs.push(origin);
    const bare = await startProc('bare-proxy', process.execPath, [join(ROOT, 'dist/bench/bare-proxy.js')], { ORIGIN: origin.url }, pin.proxy);
    procs.push(bare);
    const gateways: [string, Proc][] = [];
    const builds: [string, string | undefined, NodeJS.ProcessEnv][] = [['gateway', undefined, {}]];
    if (OTHER_DIST || Object.keys(OTHER_ENV).length > 0 || Object.keys(OTHER_CONFIG).length > 0) builds.push(['other', OTHER_DIST && join(OTHER_DIST, 'src/cli.js'), OTHER_ENV]);
    for (const [label, cli, env] of builds) {
      const extra: Record<string, Record<string, unknown>> = { redis: { url: redis.url }, ...(CACHES_OFF ? { bearer: { cacheMaxEntries: 0 } } : {}) };
      if (label === 'other') for (const [section, values] of Object.entries(OTHER_CONFIG)) extra[section] = { ...extra[section], ...values };
      const gw = await startGateway(label, await gatewayConfig(join(work, label), redis.url, origin.url, { cacheTtl: CACHES_OFF ? 0 : '2s' }, extra, paths.includes('/app-policy')), [], cli, env, pin.proxy);
      procs.push(gw);
      gateways.push([label, gw]);
    }
    const targets: Target[] = [{ label: 'bare /pub', proc: bare, url: `${bare.url}/pub`, headers: {}, samples: [], peakRss: 0 }];
    for (const [label, gw] of gateways) {
      const creds: Record<string, Record<string, string>> = {
        '/pub': {},
        '/app': { cookie: await login(gw) },
        '/app-policy': { cookie: await login(gw) },
        '/api': { authorization: idpToken },
        '/api#own': { authorization: await accessToken(gw) },
      };
      // `/app/big` (the origin's 64 KB answer) takes `/app`'s credentials.
      const credsOf = (p: string) => creds[p.replace(/^(\/[^/#]*)[^#]*/, '$1')] ?? {};
      for (const p of paths) targets.push({ label: `${label} ${p}`, proc: gw, url: `${gw.url}${p.replace(/#.*/, '')}`, headers: credsOf(p), samples: [], peakRss: 0 });
    }
    // Warm-up, not counted: CPU per request keeps falling for seconds while V8 optimises.
    for (let i = 0; i < 3; i++) for (const t of targets) await run(t);
    for (const t of targets) t.samples.length = 0;
    for (let i = 0; i < ROUNDS; i++) for (const t of targets) await run(t);
    process.stdout.write(`${RATE} req/s, ${CONNECTIONS} connections, ${ROUNDS} × ${SECONDS} s\n`);
    const base = targets[0] as Target;
    for (const t of targets) {
      const range = `${Math.min(...t.samples).toFixed(0)}–${Math.max(...t.samples).toFixed(0)}`;
      const ratios = t.samples.map((x, i) => x / (base.samples[i] as number));
      process.stdout.write(
        `${t.label.padEnd(20)} CPU µs/req median ${median(t.samples).toFixed(1).padStart(6)} (${range})  × bare, median of rounds ${median(ratios).toFixed(2)}  peak RSS ${Math.round(t.peakRss / 2 ** 20)} MB\n`,
      );
    }
    // Same path on both gateways: the paired ratio, round by round.
    for (const t of targets.filter((x) => x.label.startsWith('other '))) {
      const a = targets.find((x) => x.label === t.label.replace(/^other /, 'gateway ')) as Target;
      const ratios = t.samples.map((x, i) => x / (a.samples[i] as number));
      process.stdout.write(`${t.label} ÷ ${a.label}: median of rounds ${median(ratios).toFixed(3)} (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})\n`);
    }
  } finally {
    for (const p of procs.reverse()) await p.stop();
    await redis.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
