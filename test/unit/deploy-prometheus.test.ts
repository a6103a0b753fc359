// The alert rules (deploy/prometheus) are valid for Prometheus (`promtool check rules`), behave as
// their unit tests say (`promtool test rules`: each alert fires on what it is about, and the
// error-ratio and Redis alerts stay silent on healthy series), query only series and labels the
// code registers, and each names a runbook section that docs/operations.md has. promtool is
// Debian's `prometheus` package (.ci/run installs it); without it these tests fail, never skip.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { promqlProblems, promtool, registeredFamilies } from '../support/promql.js';

const ROOT = join(import.meta.dirname, '../..');
const RULES = 'deploy/prometheus/gateway-alerts.yml';
const RULE_TESTS = 'deploy/prometheus/gateway-alerts.test.yml';

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const rules = (parse(readFileSync(join(ROOT, RULES), 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

/** GitHub's anchor for a Markdown heading. */
const slug = (heading: string) => heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');

describe('the Prometheus alert rules', () => {
  it('pass promtool check rules', () => {
    const { status, output } = promtool(['check', 'rules', RULES]);
    expect(status, output).toBe(0);
  });

  it('pass their promtool unit tests', () => {
    const { status, output } = promtool(['test', 'rules', RULE_TESTS]);
    expect(status, output).toBe(0);
  });

  it('have unit tests in which every alert fires, and the error-ratio and Redis alerts also stay silent', () => {
    const tests = (parse(readFileSync(join(ROOT, RULE_TESTS), 'utf8')) as { tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[] }).tests;
    const cases = tests.flatMap((t) => t.alert_rule_test ?? []);
    const fired = new Set(cases.filter((c) => c.exp_alerts.length > 0).map((c) => c.alertname));
    const silent = new Set(cases.filter((c) => c.exp_alerts.length === 0).map((c) => c.alertname));
    expect(rules.map((r) => r.alert).filter((a) => !fired.has(a))).toEqual([]);
    expect(silent).toContain('GatewayErrorRatioHigh');
    expect(silent).toContain('GatewayRedisUnavailable');
  });

  it('query only series the code registers, by labels they have', async () => {
    const code = await registeredFamilies();
    expect(code.get('gateway_session_store_duration_seconds')?.labels).toEqual(new Set(['op', 'result'])); // not blind
    expect(rules.flatMap((r) => promqlProblems(r.expr, code).map((p) => `${r.alert}: ${p}`))).toEqual([]);
  });

  it('cover what issue 15 asks for', () => {
    const all = rules.map((r) => r.expr).join('\n');
    const wanted = [
      /gateway_requests_total\{status=~"5\.\."\}/,
      /gateway_session_store_duration_seconds_count\{result="error"\}/,
      /gateway_redis_reconnects_total/,
      /gateway_jwks_stale_served_total/,
      /gateway_refresh_reuse_detected_total/,
      /gateway_log_lines_dropped_total/,
      /gateway_config_reloads_total\{result="failure"\}/,
      /gateway_fd_near_limit_total/,
      /\bup\{[^}]*\} == 0/,
    ];
    expect(wanted.filter((re) => !re.test(all)).map(String)).toEqual([]);
  });

  it('each wait a while, say how bad and why, and point at a runbook section of docs/operations.md', () => {
    const headings = new Set([...readFileSync(join(ROOT, 'docs/operations.md'), 'utf8').matchAll(/^#+ (.+)$/gm)].map((m) => slug(m[1] as string)));
    for (const r of rules) {
      expect(r.for, r.alert).toMatch(/^\d+[smh]$/);
      expect(['critical', 'warning'], r.alert).toContain(r.labels?.severity);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
      expect(r.annotations?.description, r.alert).toBeTruthy();
      const [file, anchor] = (r.annotations?.runbook ?? '').split('#');
      expect(file, r.alert).toBe('docs/operations.md');
      expect(headings, `${r.alert}: a heading for #${anchor}`).toContain(anchor);
    }
  });
});
