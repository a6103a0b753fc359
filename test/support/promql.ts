// What the deploy/ tests (Grafana dashboard, Prometheus alert rules) check their PromQL against: the
// metric families the gateway registers, with their label names, and promtool.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { createMetrics } from '../../src/metrics/metrics.js';

const ROOT = join(import.meta.dirname, '../..');

export interface Family {
  readonly type: string;
  readonly labels: ReadonlySet<string>;
}

/** Every metric family createMetrics registers, default process metrics included, with its label names. */
export async function registeredFamilies(): Promise<Map<string, Family>> {
  const registry = new Registry();
  createMetrics(registry, { defaultMetrics: true });
  const out = new Map<string, Family>();
  for (const m of await registry.getMetricsAsJSON()) {
    // prom-client's metrics and the gateway's hot ones (src/metrics/hot.ts) alike expose labelNames.
    const labels = (registry.getSingleMetric(m.name) as { labelNames?: readonly string[] } | undefined)?.labelNames;
    if (!labels) throw new Error(`${m.name}: the registered metric has no labelNames`);
    out.set(m.name, { type: String(m.type), labels: new Set(labels) });
  }
  return out;
}

/** Labels every scraped series carries besides its own. */
const TARGET_LABELS = ['job', 'instance'];

/**
 * What is wrong with one PromQL expression: series it names that are not registered (gateway_*,
 * process_*, nodejs_*; histograms through their _bucket/_sum/_count series; Prometheus's own `up`
 * is allowed), labels it matches, groups or joins by that those series lack, and naming none of
 * those series at all. Empty when nothing is.
 */
export function promqlProblems(expr: string, families: ReadonlyMap<string, Family>): string[] {
  const out: string[] = [];
  const text = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""'); // label values are not names
  const series: { name: string; allowed: Set<string> }[] = [];
  let named = 0;
  for (const m of text.matchAll(/\b(gateway_[a-z0-9_]+|process_[a-z0-9_]+|nodejs_[a-z0-9_]+|up)\b\s*(\{[^}]*\})?/g)) {
    const name = m[1] as string;
    named++;
    const suffix = /_(bucket|sum|count)$/.exec(name);
    const base = suffix ? families.get(name.slice(0, suffix.index)) : undefined;
    const family = families.get(name) ?? (base?.type === 'histogram' ? base : undefined);
    if (!family && name !== 'up') {
      out.push(`${name}: not registered by the code`);
      continue;
    }
    const allowed = new Set([...TARGET_LABELS, ...(family?.labels ?? []), ...(suffix?.[1] === 'bucket' && !families.has(name) ? ['le'] : [])]);
    series.push({ name, allowed });
    for (const [, label] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) {
      if (!allowed.has(label as string)) out.push(`${name}{${label}}: no such label`);
    }
  }
  // by/without/on/ignoring name labels of the series they aggregate or match: here, all of them.
  for (const [, list] of text.matchAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)) {
    for (const label of (list as string).split(',').map((l) => l.trim()).filter(Boolean)) {
      for (const s of series) if (!s.allowed.has(label)) out.push(`${s.name}: no label ${label} to group or match by`);
    }
  }
  if (named === 0) out.push(`${expr}: names no gateway series`);
  return out;
}

/**
 * Runs promtool (from the repository root unless told otherwise). promtool is Debian's `prometheus`
 * package (.ci/run installs it); a missing promtool is a failure with the way to install it, never a skip.
 */
export function promtool(args: readonly string[], cwd = ROOT): { status: number | null; output: string } {
  const run = spawnSync('promtool', args, { cwd, encoding: 'utf8' });
  if (run.error) throw new Error(`promtool is not installed (Debian: apt-get install prometheus): ${run.error.message}`);
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}
