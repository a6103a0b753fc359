// Peak RSS of the bare proxy and of the gateway under the same loads, each in fresh processes, and
// what that RSS is made of. `npm run bench`'s RSS column is the peak of whichever process served a
// cell, and its gateway lives through four times as many cells as its bare proxy does; this puts
// both through one sequence (small answers at 50 and 100 connections, 64 KB answers at 50 and 100,
// small again), REPS times each, interleaved. Each process runs with bench/memwatch.ts: at its RSS
// peak, V8's young and old generations and external memory; after the load, two forced full
// collections show the live heap and the RSS a collection cannot give back.
//
//   node dist/bench/memory.js     MEMORY_REPS=3  MEMORY_SECONDS=4 (per step)
//   MEMORY_FLAGS="--max-semi-space-size=8": more node flags for both processes
// Pinned as `npm run bench` is: the process under test on the first core; the origin, redis-server and
// this process, which drives the load with autocannon, on the others.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import type { MemorySample } from './memwatch.js';
import { pinning, pinPid } from './pin.js';
import { startProc, startRedisServer, type Proc } from './procs.js';
import { benchIssuer, gatewayConfig, login, ROOT, startGateway } from './setup.js';

const REPS = Number(process.env.MEMORY_REPS ?? 3);
const SECONDS = Number(process.env.MEMORY_SECONDS ?? 4);
const FLAGS = (process.env.MEMORY_FLAGS ?? '').split(/\s+/).filter(Boolean);
const STEPS: readonly (readonly [number, '' | '/big'])[] = [[50, ''], [100, ''], [50, '/big'], [100, '/big'], [50, ''], [100, '']];

interface Result {
  readonly label: string;
  readonly peak: MemorySample;
  readonly after: MemorySample & { readonly heapUsed: number };
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] as number;

/** The JSON the sampler wrote to `file`, once it is there and whole (it is rewritten in place at each new peak). */
async function readJson<T>(file: string): Promise<T> {
  for (let i = 0; i < 50; i++) {
    try {
      return JSON.parse(await readFile(file, 'utf8')) as T;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${file} never held whole JSON`);
}

async function measure(label: string, proc: Proc, url: string, headers: Record<string, string>, file: string): Promise<Result> {
  try {
    for (const [connections, size] of STEPS) {
      const r = await autocannon({ url: `${url}${size}`, connections, duration: SECONDS, headers });
      if (r.non2xx > 0 || r.errors > 0) throw new Error(`${label}: ${r.non2xx} non-2xx, ${r.errors} errors`);
    }
    await new Promise((r) => setTimeout(r, 200));
    const peak = await readJson<MemorySample>(file);
    process.kill(proc.pid, 'SIGUSR2');
    const after = await readJson<Result['after']>(`${file}.after`);
    return { label, peak, after };
  } finally {
    await proc.stop();
  }
}

function row(r: Result): string {
  const p = r.peak;
  const a = r.after;
  return `| ${r.label} | ${p.rss} | ${p.anon} / ${p.file} | ${p.young} | ${p.old} (${p.oldUsed}) | ${p.external} | ${a.heapUsed} | ${a.rss} |`;
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'gw-memory-'));
  const pin = pinning();
  pinPid(process.pid, pin.others);
  const redis = await startRedisServer(pin.others);
  const procs: Proc[] = [];
  const results: Result[] = [];
  try {
    const { jwks } = await benchIssuer();
    const origin = await startProc('origin', process.execPath, [join(ROOT, 'dist/bench/origin.js')], { JWKS_JSON: jwks }, pin.others);
    procs.push(origin);
    const watch = ['--expose-gc', '--import', join(ROOT, 'dist/bench/memwatch.js'), ...FLAGS];
    const config = await gatewayConfig(join(work, 'gw'), redis.url, origin.url, { cacheTtl: '2s' });
    for (let rep = 0; rep < REPS; rep++) {
      const bareFile = join(work, `bare-${rep}.json`);
      const bare = await startProc('bare-proxy', process.execPath, [...watch, join(ROOT, 'dist/bench/bare-proxy.js')], { ORIGIN: origin.url, MEMWATCH_FILE: bareFile }, pin.proxy);
      results.push(await measure('bare proxy', bare, `${bare.url}/pub`, {}, bareFile));
      const gwFile = join(work, `gw-${rep}.json`);
      const gw = await startGateway('gateway', config, watch, undefined, { MEMWATCH_FILE: gwFile }, pin.proxy);
      results.push(await measure('gateway, session cache hit', gw, `${gw.url}/app`, { cookie: await login(gw) }, gwFile));
    }
  } finally {
    for (const p of procs.reverse()) await p.stop();
    await redis.stop();
    await rm(work, { recursive: true, force: true });
  }
  process.stdout.write(`${pin.describe}\n${REPS} fresh processes each, ${STEPS.length} steps of ${SECONDS} s${FLAGS.length ? `, node ${FLAGS.join(' ')}` : ''}; MB\n\n`);
  process.stdout.write('| process | peak RSS | anon / file | young gen | old gen (in use) | external | live heap after full GC | RSS after full GC |\n');
  process.stdout.write('| --- | --- | --- | --- | --- | --- | --- | --- |\n');
  for (const r of results) process.stdout.write(`${row(r)}\n`);
  for (const label of new Set(results.map((r) => r.label))) {
    const mine = results.filter((r) => r.label === label);
    process.stdout.write(
      `\n${label}: peak RSS median ${median(mine.map((r) => r.peak.rss))} (${Math.min(...mine.map((r) => r.peak.rss))}–${Math.max(...mine.map((r) => r.peak.rss))}), live heap ${median(mine.map((r) => r.after.heapUsed))}`,
    );
  }
  process.stdout.write('\n');
}

await main();
