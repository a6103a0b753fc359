// The Grafana dashboard (deploy/grafana) queries only what the gateway exposes: every series a panel
// or variable names is registered by createMetrics (gateway_* and prom-client's default process
// metrics; histograms through their _bucket/_sum/_count series) or is Prometheus's own `up`, and
// every label it groups or matches by is one that series has. Every query parses (promtool), and
// the panels cover the golden signals issue 15 asks for.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { promqlProblems, promtool, registeredFamilies } from '../support/promql.js';

const DASHBOARD = join(import.meta.dirname, '../../deploy/grafana/gateway-dashboard.json');

/* eslint-disable @typescript-eslint/no-explicit-any -- a dashboard is untyped JSON, read as such */
type Json = Record<string, any>;

const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as Json;
/** Every panel, those inside collapsed rows included. */
const panels: Json[] = dashboard.panels.flatMap((p: Json) => [p, ...(p.panels ?? [])]);
const queries: { where: string; record: string; expr: string }[] = panels.flatMap((p) =>
  (p.targets ?? []).map((t: Json) => ({ where: `panel ${p.id} "${p.title}" ${t.refId}`, record: `dashboard:panel_${p.id}_${t.refId}`, expr: t.expr as string })),
);
const variables: Json[] = dashboard.templating.list;

describe('the Grafana dashboard', () => {
  it('finds what it checks (the test itself is not blind)', async () => {
    const code = await registeredFamilies();
    expect(code.get('gateway_session_store_duration_seconds')?.labels).toEqual(new Set(['op', 'result']));
    expect(code.get('gateway_requests_total')?.labels).toEqual(new Set(['route', 'method', 'status']));
    expect(queries.length).toBeGreaterThan(20);
    expect(promqlProblems('rate(gateway_nope_total[5m])', code)).toEqual(['gateway_nope_total: not registered by the code']);
    expect(promqlProblems('sum by (kind) (rate(gateway_requests_total{reason="x"}[5m]))', code)).toEqual([
      'gateway_requests_total{reason}: no such label',
      'gateway_requests_total: no label kind to group or match by',
    ]);
    expect(promqlProblems('histogram_quantile(0.9, sum by (le) (rate(gateway_request_duration_seconds_bucket[5m])))', code)).toEqual([]);
  });

  it('queries only series the code registers, by labels they have', async () => {
    const code = await registeredFamilies();
    const found = queries.flatMap(({ where, expr }) => promqlProblems(expr, code).map((p) => `${where}: ${p}`));
    for (const v of variables.filter((v) => v.type === 'query')) {
      // label_values(<selector>, <label>): the selector's series must have that label.
      const q = String(typeof v.query === 'string' ? v.query : v.query.query);
      const m = /^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$/.exec(q);
      expect(m, `variable ${v.name}: label_values(selector, label)`).not.toBeNull();
      found.push(...promqlProblems(`count by (${m?.[2]}) (${m?.[1]})`, code).map((p) => `variable ${v.name}: ${p}`));
    }
    expect(found).toEqual([]);
  });

  it('parses as PromQL (promtool), with Grafana\'s variables filled in', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gw-dashboard-'));
    try {
      const rules = queries.map(({ record, expr }) => ({
        record,
        expr: expr.replace(/\$__rate_interval|\$__interval/g, '5m').replace(/\$[a-z_]+/g, '.*'),
      }));
      await writeFile(join(dir, 'rules.yml'), stringify({ groups: [{ name: 'dashboard', rules }] }));
      const { status, output } = promtool(['check', 'rules', join(dir, 'rules.yml')]);
      expect(status, output).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('takes its Prometheus from the DS_PROMETHEUS variable and filters by job and instance', () => {
    expect(variables.find((v) => v.name === 'DS_PROMETHEUS')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const name of ['job', 'instance']) expect(variables.find((v) => v.name === name)?.type, name).toBe('query');
    const sources = [...panels.filter((p) => p.type !== 'row'), ...panels.flatMap((p) => p.targets ?? []), ...variables.filter((v) => v.type === 'query')].map((x) => x.datasource);
    expect(sources.filter((d) => d?.uid !== '${DS_PROMETHEUS}')).toEqual([]);
    for (const { where, expr } of queries) {
      if (/gateway_|process_|nodejs_/.test(expr)) expect(expr, where).toMatch(/job=~"\$job",instance=~"\$instance"/);
    }
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('shows the golden signals issue 15 asks for', () => {
    const all = queries.map((q) => q.expr).join('\n');
    const wanted = [
      /rate\(gateway_requests_total\{[^}]*\}/, // request rate
      /gateway_requests_total\{[^}]*status=~"5\.\."/, // error ratio
      /histogram_quantile\([^,]+, sum by \(le, route\) \(rate\(gateway_request_duration_seconds_bucket/, // latency by route
      /gateway_auth_outcomes_total\{[^}]*result="refused"/, // refusals by reason
      /gateway_session_cache_total\{[^}]*result="hit"/, // session cache hit ratio
      /gateway_session_store_duration_seconds_bucket/, // Redis latency
      /gateway_redis_reconnects_total/,
      /gateway_jwks_fetches_total/,
      /gateway_jwks_stale_served_total/,
      /gateway_refresh_reuse_detected_total/,
      /gateway_websockets_open/,
      /sum by \(reason\) \(rate\(gateway_websockets_closed_total/,
      /gateway_log_lines_dropped_total/,
      /gateway_config_reloads_total/,
      /gateway_fd_near_limit_total/,
      /gateway_accept_errors_total/,
    ];
    expect(wanted.filter((re) => !re.test(all)).map(String)).toEqual([]);
  });
});
