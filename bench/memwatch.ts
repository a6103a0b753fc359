// Loaded into a proxy under test with `node --expose-gc --import dist/bench/memwatch.js` (memory.ts):
// samples the process's memory every 50 ms and keeps, in MEMWATCH_FILE, the sample taken at the
// highest RSS, with V8's heap spaces at that moment (what the RSS was made of). On SIGUSR2 it runs
// two full collections and writes what is left to MEMWATCH_FILE.after: the live heap, and the RSS a
// collection cannot give back. Benchmark-only: the gateway never loads it.
import { readFileSync, writeFileSync } from 'node:fs';
import v8 from 'node:v8';

const FILE = process.env.MEMWATCH_FILE as string;
const MB = 2 ** 20;
const mb = (bytes: number) => Math.round((bytes / MB) * 10) / 10;

/** RssAnon and RssFile of /proc/self/status, in MB: anonymous memory (heap, malloc) and mapped files (the node binary). */
function rssParts(): { anon: number; file: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  return { anon: Math.round(kb('RssAnon') / 1024), file: Math.round(kb('RssFile') / 1024) };
}

export interface MemorySample {
  readonly rss: number;
  readonly anon: number;
  readonly file: number;
  readonly heapTotal: number;
  /** The young generation's size (both semi-spaces). */
  readonly young: number;
  readonly old: number;
  readonly oldUsed: number;
  /** Memory V8 tracks outside its heap (Buffers' contents among it). */
  readonly external: number;
}

function sample(): MemorySample {
  const u = process.memoryUsage();
  const spaces = v8.getHeapSpaceStatistics();
  const old = spaces.find((s) => s.space_name === 'old_space');
  return {
    rss: mb(u.rss),
    ...rssParts(),
    heapTotal: mb(u.heapTotal),
    young: mb(spaces.find((s) => s.space_name === 'new_space')?.space_size ?? 0),
    old: mb(old?.space_size ?? 0),
    oldUsed: mb(old?.space_used_size ?? 0),
    external: mb(u.external),
  };
}

let peak = 0;
setInterval(() => {
  const rss = process.memoryUsage.rss();
  if (rss <= peak) return;
  peak = rss;
  writeFileSync(FILE, JSON.stringify(sample()));
}, 50).unref();

process.on('SIGUSR2', () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return writeFileSync(`${FILE}.after`, JSON.stringify({ error: 'start node with --expose-gc' }));
  gc();
  gc();
  // Let V8 free the pages it swept before reading the RSS.
  setTimeout(() => writeFileSync(`${FILE}.after`, JSON.stringify({ ...sample(), heapUsed: mb(process.memoryUsage().heapUsed) })), 500);
});
