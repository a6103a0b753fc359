// The metrics table of docs/operations.md names exactly the gateway_* metrics the code registers,
// each with its type: a metric added, renamed or removed without its row fails here (issue 13).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics/metrics.js';

const OPERATIONS = join(import.meta.dirname, '../../docs/operations.md');

/** gateway_* metric → type, from the rows of the table under "## Metrics". */
function documented(): Map<string, string> {
  const text = readFileSync(OPERATIONS, 'utf8');
  const start = text.indexOf('\n## Metrics\n');
  expect(start, 'docs/operations.md has a "## Metrics" section').toBeGreaterThanOrEqual(0);
  const end = text.indexOf('\n## ', start + 1);
  const section = text.slice(start, end < 0 ? undefined : end);
  const rows = new Map<string, string>();
  for (const m of section.matchAll(/^\|\s*`(gateway_[a-z0-9_]+)`\s*\|\s*([a-z]+)\s*\|/gm)) {
    rows.set(m[1] as string, m[2] as string);
  }
  return rows;
}

/** gateway_* metric → type, as registered by createMetrics (which also registers the request metrics). */
async function registered(): Promise<Map<string, string>> {
  const registry = new Registry();
  createMetrics(registry, { defaultMetrics: false });
  const out = new Map<string, string>();
  for (const m of await registry.getMetricsAsJSON()) if (m.name.startsWith('gateway_')) out.set(m.name, String(m.type));
  return out;
}

describe('metrics docs', () => {
  it('finds what it compares (the test itself is not blind)', async () => {
    const code = await registered();
    expect(code.get('gateway_requests_total')).toBe('counter');
    expect(code.get('gateway_request_duration_seconds')).toBe('histogram');
    expect(code.get('gateway_requests_in_flight')).toBe('gauge');
    expect(documented().size).toBeGreaterThan(10);
  });

  it('document every registered gateway_* metric', async () => {
    const docs = documented();
    expect([...(await registered()).keys()].filter((name) => !docs.has(name))).toEqual([]);
  });

  it('document no metric the code does not register', async () => {
    const code = await registered();
    expect([...documented().keys()].filter((name) => !code.has(name))).toEqual([]);
  });

  it('give each metric the type the code registers', async () => {
    const code = await registered();
    const wrong = [...documented()].filter(([name, type]) => code.has(name) && code.get(name) !== type).map(([name, type]) => `${name}: docs ${type}, code ${code.get(name)}`);
    expect(wrong).toEqual([]);
  });
});
