// The layering the tree shows, kept by a test: each top-level part of src/ imports only the parts
// listed for it below (type-only imports included), and no module imports itself through others.
// docs/architecture.md explains the layers; change both together.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '../../src');

const CORE = ['clock', 'errors', 'jwt', 'log', 'log-stream'];
const DOMAIN = ['sessions', 'refresh', 'revocation', 'rate-limit', 'forward'];
/** Part → the parts it may import (besides itself). Listed bottom up. */
export const LAYERS: Record<string, readonly string[]> = {
  clock: [],
  errors: [],
  jwt: [],
  'log-stream': [],
  log: ['log-stream'],
  config: [...CORE],
  wire: [...CORE],
  metrics: [...CORE, 'config'],
  routing: [...CORE, 'config'],
  keys: [...CORE, 'config'],
  sessions: [...CORE, 'config'],
  revocation: [...CORE, 'config'],
  'rate-limit': [...CORE, 'config'],
  refresh: [...CORE, 'config', 'keys', 'sessions', 'revocation'],
  forward: [...CORE, 'config', 'wire'],
  pipeline: [...CORE, 'config', 'wire', 'metrics', 'routing', 'keys', ...DOMAIN],
  http: [...CORE, 'config', 'wire', 'metrics', 'routing', 'keys', ...DOMAIN, 'pipeline'],
  endpoints: [...CORE, 'config', 'wire', 'metrics', 'routing', 'keys', ...DOMAIN, 'pipeline', 'http'],
  // Adapters implement the ports of the domain parts; only the composition root picks them.
  adapters: [...CORE, 'config', 'sessions', 'refresh', 'revocation', 'rate-limit'],
  compose: [...CORE, 'config', 'wire', 'metrics', 'routing', 'keys', ...DOMAIN, 'pipeline', 'http', 'endpoints', 'adapters'],
  // The cluster primary and the workers' side of it: Node's cluster and prom-client only.
  workers: [],
  main: [...CORE, 'config', 'wire', 'metrics', 'routing', 'keys', ...DOMAIN, 'pipeline', 'http', 'endpoints', 'adapters', 'compose', 'workers'],
  cli: [...CORE, 'config', 'keys', 'main', 'workers'],
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** Module (path under src/, without extension) → the modules it imports. */
function graph(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const file of sources(SRC)) {
    const text = readFileSync(file, 'utf8');
    const deps = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?\bfrom\s*'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)/g)].map((m) => {
      const spec = (m[1] ?? m[2]) as string;
      return relative(SRC, normalize(join(dirname(file), spec))).replace(/\.js$/, '');
    });
    out.set(relative(SRC, file).replace(/\.ts$/, ''), deps);
  }
  return out;
}

const part = (module: string) => module.split('/')[0] as string;

describe('layering', () => {
  const modules = graph();

  it('knows every part of src/', () => {
    expect([...new Set([...modules.keys()].map(part))].filter((p) => !(p in LAYERS))).toEqual([]);
  });

  it('imports only run down the layers', () => {
    const wrong: string[] = [];
    for (const [from, deps] of modules) {
      for (const to of deps) {
        if (part(from) !== part(to) && !LAYERS[part(from)]?.includes(part(to))) wrong.push(`${from} → ${to}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('has no import cycle, not even a type-only one', () => {
    // Tarjan's strongly connected components: any component of more than one module is a cycle.
    let index = 0;
    const idx = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const onStack = new Set<string>();
    const cycles: string[][] = [];
    const visit = (v: string) => {
      idx.set(v, index);
      low.set(v, index++);
      stack.push(v);
      onStack.add(v);
      for (const w of modules.get(v) ?? []) {
        if (!modules.has(w)) continue;
        if (!idx.has(w)) {
          visit(w);
          low.set(v, Math.min(low.get(v)!, low.get(w)!));
        } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
      }
      if (low.get(v) === idx.get(v)) {
        const scc: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          scc.push(w);
        } while (w !== v);
        if (scc.length > 1 || (modules.get(v) ?? []).includes(v)) cycles.push(scc.sort());
      }
    };
    for (const v of modules.keys()) if (!idx.has(v)) visit(v);
    expect(cycles).toEqual([]);
  });

  it('finds imports where they are (the test itself is not blind)', () => {
    expect(modules.get('pipeline/authn/session-cookie')).toContain('wire/cookies');
    expect(modules.get('main')).toContain('compose/auth');
  });
});
