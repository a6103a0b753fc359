// Pinned mode: the proxy under test on a core of its own, the origin, redis-server and the load
// generator on the others (taskset, from util-linux), so a ratio reflects the proxy's cost and not
// the load generator's. Default where this process may run on two or more cores; BENCH_PIN=0 turns
// it off (then every process goes wherever the scheduler puts it, as before).
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

export interface Pinning {
  readonly pinned: boolean;
  /** Cores this process may use (its affinity when it started). */
  readonly cores: number;
  /** The proxy under test (a gateway or a bare proxy): one core. */
  readonly proxy: string | undefined;
  /** A gateway with two workers: two cores, the proxy's and one of the others. */
  readonly pair: string | undefined;
  /** The origin, redis-server, the load generator and this process. */
  readonly others: string | undefined;
  /** One line for RESULTS.md. */
  readonly describe: string;
}

/** The cores this process may run on, in order (from taskset -p, or 0..n-1 without taskset). */
function allowedCores(): number[] {
  try {
    const out = execFileSync('taskset', ['-pc', String(process.pid)], { encoding: 'utf8' });
    const list = out.slice(out.lastIndexOf(':') + 1).trim();
    const cores: number[] = [];
    for (const part of list.split(',')) {
      const [a, b] = part.split('-').map(Number);
      if (a === undefined || Number.isNaN(a)) continue;
      for (let c = a; c <= (b ?? a); c++) cores.push(c);
    }
    if (cores.length > 0) return cores;
  } catch {
    // no taskset: fall through
  }
  return Array.from({ length: availableParallelism() }, (_, i) => i);
}

let cached: Pinning | undefined;

export function pinning(): Pinning {
  if (cached) return cached;
  const cores = allowedCores();
  const wanted = process.env.BENCH_PIN !== '0';
  if (!wanted || cores.length < 2) {
    cached = {
      pinned: false,
      cores: cores.length,
      proxy: undefined,
      pair: undefined,
      others: undefined,
      describe: `unpinned (${wanted ? `only ${cores.length} core available` : 'BENCH_PIN=0'}): every process on any of the ${cores.length} cores`,
    };
    return cached;
  }
  const [first, second] = cores as [number, number];
  const others = cores.slice(1).join(',');
  cached = {
    pinned: true,
    cores: cores.length,
    proxy: String(first),
    pair: `${first},${second}`,
    others,
    describe:
      `pinned (taskset): the proxy under test (bare proxy or gateway) on core ${first}; origin, redis-server, the load generator (autocannon in its own process) ` +
      `and the benchmark process on core${cores.length > 2 ? 's' : ''} ${others}; the two-worker gateway on cores ${first},${second}, ` +
      `so its second worker shares core ${second} with the origin and the load generator`,
  };
  return cached;
}

/** The command line that runs `cmd args` on `cores` (unchanged when cores is undefined). */
export function onCores(cores: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return cores === undefined ? [cmd, args] : ['taskset', ['-c', cores, cmd, ...args]];
}

/** Move a running process (this one, redis-server) onto `cores`. */
export function pinPid(pid: number, cores: string | undefined): void {
  if (cores !== undefined) execFileSync('taskset', ['-pc', cores, String(pid)], { stdio: 'ignore' });
}
