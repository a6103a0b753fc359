// Turning measurements into bench/RESULTS.md and results.json: medians with min and max over the
// repetitions, ratios to the origin (1) and the bare proxy (2) taken within each repetition, and the
// targets of the benchmark issue checked against the medians of those ratios.
import type { MicroResult } from './micro.js';
import type { Frame } from './profile.js';

export interface ScenarioDef {
  readonly id: number;
  readonly name: string;
  readonly path: string;
}

export interface Measurement {
  scenario: number;
  connections: number;
  size: string;
  rep: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  requests: number;
  cpuMicrosPerRequest: number;
  peakRssBytes: number;
}

interface Stat {
  median: number;
  min: number;
  max: number;
}

function stat(values: number[]): Stat {
  const v = [...values].sort((a, b) => a - b);
  const mid = Math.floor(v.length / 2);
  const median = v.length % 2 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
  return { median, min: v[0] ?? 0, max: v[v.length - 1] ?? 0 };
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const range = (s: Stat, digits = 0) => `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;

/** Targets: scenario, ratio of req/s to the bare proxy, and of p99 where given. */
const TARGETS = [
  { scenario: 3, rps: 0.95, label: 'public route ≥ 0.95 × bare proxy' },
  { scenario: 4, rps: 0.9, p99: 1.25, label: 'session, cache hit ≥ 0.90 × bare proxy, p99 ≤ 1.25 ×' },
  { scenario: 5, rps: 0.75, label: 'session, Redis every request ≥ 0.75 × bare proxy' },
  { scenario: 6, rps: 0.9, label: 'bearer, verified-token cache hit ≥ 0.90 × bare proxy' },
  { scenario: 7, rps: 0.9, label: 'bearer, gateway access token ≥ 0.90 × bare proxy' },
];
const RSS_LIMIT = 150 * 1024 * 1024;

export function report(
  scenarios: ScenarioDef[],
  results: Measurement[],
  micro: MicroResult[],
  frames: Frame[],
  meta: { durationS: number; reps: number; node: string; totalSeconds: number },
) {
  const configs = [...new Set(results.map((r) => `${r.connections}|${r.size}`))].map((k) => {
    const [c, size] = k.split('|');
    return { connections: Number(c), size: size as string };
  });
  const pick = (id: number, c: number, size: string) => results.filter((r) => r.scenario === id && r.connections === c && r.size === size);
  const ratio = (id: number, base: number, c: number, size: string, field: 'rps' | 'p99') => {
    const values: number[] = [];
    for (const r of pick(id, c, size)) {
      const b = pick(base, c, size).find((x) => x.rep === r.rep);
      if (b && b[field] > 0) values.push(r[field] / b[field]);
    }
    return stat(values);
  };

  const rows: Record<string, unknown>[] = [];
  let md = `# Benchmark results\n\nWritten by \`npm run bench\` (${meta.node}, ${meta.reps} runs of ${meta.durationS} s per cell, interleaved; whole run ${Math.round(meta.totalSeconds)} s). `;
  md += 'Every figure is the median with (min–max) over the runs; ratios are taken within each run, then their median reported. ';
  md += 'Origin, bare proxy, redis-server and gateways are separate processes; autocannon drives load from the benchmark process. ';
  md += 'CPU and RSS are the measured process\'s (for gateway scenarios, the gateway\'s). The gateway runs with its access log on (stdout to a file).\n\n';
  md += 'Scenario 6.5 is scenario 6 with the verified-token cache disabled (a signature check per request). Scenarios 9 and 10 are over HTTPS (ECDSA P-256 certificate, TLS 1.3, keep-alive): their × bare proxy is to scenario 9, the bare proxy behind HTTPS.\n\n';

  for (const { connections, size } of configs) {
    md += `## ${connections} connections, ${size === '64k' ? '64 KB' : 'small'} responses\n\n`;
    md += '| # | scenario | req/s | p50 ms | p99 ms | × origin | × bare proxy | p99 × bare | CPU µs/req | peak RSS MB | errors / non-2xx |\n';
    md += '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n';
    for (const s of scenarios) {
      const m = pick(s.id, connections, size);
      if (m.length === 0) continue;
      const row = {
        scenario: s.id,
        name: s.name,
        connections,
        size,
        rps: stat(m.map((x) => x.rps)),
        p50: stat(m.map((x) => x.p50)),
        p99: stat(m.map((x) => x.p99)),
        ratioToOrigin: ratio(s.id, 1, connections, size, 'rps'),
        // HTTPS rows (9, 10) against the bare proxy behind HTTPS (9): TLS costs both the same.
        ratioToBare: ratio(s.id, s.id >= 9 ? 9 : 2, connections, size, 'rps'),
        p99RatioToBare: ratio(s.id, s.id >= 9 ? 9 : 2, connections, size, 'p99'),
        cpuMicrosPerRequest: stat(m.map((x) => x.cpuMicrosPerRequest)),
        peakRssMB: Math.max(...m.map((x) => x.peakRssBytes)) / 2 ** 20,
        errors: m.reduce((a, x) => a + x.errors, 0),
        non2xx: m.reduce((a, x) => a + x.non2xx, 0),
      };
      rows.push(row);
      md += `| ${s.id} | ${s.name} | ${range(row.rps)} | ${range(row.p50, 1)} | ${range(row.p99, 1)} | ${range(row.ratioToOrigin, 2)} | ${range(row.ratioToBare, 2)} | ${range(row.p99RatioToBare, 2)} | ${range(row.cpuMicrosPerRequest, 1)} | ${fmt(row.peakRssMB)} | ${row.errors} / ${row.non2xx} |\n`;
    }
    md += '\n';
  }

  md += '## Targets (medians of ratios to the bare proxy, same run)\n\n| target | config | measured | met |\n| --- | --- | --- | --- |\n';
  const targets: Record<string, unknown>[] = [];
  for (const t of TARGETS) {
    for (const { connections, size } of configs) {
      const r = ratio(t.scenario, 2, connections, size, 'rps');
      const p = ratio(t.scenario, 2, connections, size, 'p99');
      const met = r.median >= t.rps && (t.p99 === undefined || p.median <= t.p99);
      targets.push({ scenario: t.scenario, connections, size, rpsRatio: r.median, p99Ratio: p.median, met });
      md += `| ${t.label} | ${connections} c, ${size} | ${fmt(r.median, 2)}${t.p99 ? `, p99 ${fmt(p.median, 2)}` : ''} | ${met ? 'yes' : '**no**'} |\n`;
    }
  }
  const gatewayRss = Math.max(...results.filter((r) => r.scenario >= 3).map((r) => r.peakRssBytes));
  md += `| gateway RSS under load ≤ 150 MB | all | ${fmt(gatewayRss / 2 ** 20)} MB | ${gatewayRss <= RSS_LIMIT ? 'yes' : '**no**'} |\n\n`;

  md += '## Micro-benchmark: the verification path in process\n\n| operation | ns/op | ops |\n| --- | --- | --- |\n';
  for (const m of micro) md += `| ${m.name} | ${fmt(m.nsPerOp)} | ${fmt(m.ops)} |\n`;
  md += '\n## CPU profile of scenario 4 (session, cache hit; 50 connections, small), top frames by self time\n\n| frame | self % |\n| --- | --- |\n';
  for (const f of frames) md += `| \`${f.frame.replace(/\|/g, '\\|')}\` | ${fmt(f.selfPercent, 1)} |\n`;
  md += '\n';
  return { markdown: md, json: { meta, scenarios, rows, targets, gatewayPeakRssMB: gatewayRss / 2 ** 20, micro, profile: frames, raw: results } };
}
