// Turning measurements into bench/RESULTS.md and results.json: medians with min and max over the
// repetitions, ratios to the origin (1) and the bare proxy (2) taken within each repetition, and the
// targets of the benchmark issue checked against the medians of those ratios. Scenario 2.5 (the bare
// proxy forwarding a token-sized header) is the physical limit the session path is also held to;
// scenario 11 (two workers) is compared with scenario 4 (the same path in one process).
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
  /** For a row of several processes (scenario 11): CPU µs/req of each, the cluster primary first. */
  cpuMicrosPerRequestByProcess?: number[];
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
  meta: { durationS: number; reps: number; node: string; totalSeconds: number; pinned: boolean; pinning: string; cores: number; tokenHeaderBytes: number },
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

  const has = (id: number) => results.some((r) => r.scenario === id);
  const plain = (id: number) => id !== 9 && id !== 10;
  const rows: Record<string, unknown>[] = [];
  let md = `# Benchmark results\n\nWritten by \`npm run bench\` (${meta.node}, ${meta.reps} runs of ${meta.durationS} s per cell, interleaved; whole run ${Math.round(meta.totalSeconds)} s). `;
  md += `**Mode: ${meta.pinning}** (${meta.cores} cores available). `;
  md += 'Every figure is the median with (min–max) over the runs; ratios are taken within each run, then their median reported. ';
  md += 'Origin, bare proxies, redis-server and gateways are separate processes; autocannon drives load from a process of its own (load.ts). ';
  md += 'CPU and RSS are the measured process\'s (for gateway scenarios, the gateway\'s; for scenario 11, summed over the cluster primary and its two workers). The gateway runs with its access log on (stdout to a file).\n\n';
  md += `Scenario 2.5 is the bare proxy adding one header to every upstream request: the \`authorization\` header the gateway forwards on the session route, the same bytes (${meta.tokenHeaderBytes} B on the wire, read from a real minted token), the physical limit of this job; "× bare+token" is each plain-HTTP row's req/s over its. `;
  md += 'Scenario 6.5 is scenario 6 with the verified-token cache disabled (a signature check per request). Scenarios 9 and 10 are over HTTPS (ECDSA P-256 certificate, TLS 1.3, keep-alive): their × bare proxy is to scenario 9, the bare proxy behind HTTPS. ';
  md += `Scenario 11 is scenario 4 on a gateway with \`workers: 2\` (cluster primary + two workers${meta.pinned ? ', pinned to two cores, one of them shared with the origin and the load generator' : ''}).\n\n`;
  md += 'The host is shared with other work (test runs): absolute figures move by ±30% between runs, so compare ratios taken within this run.\n\n';

  for (const { connections, size } of configs) {
    md += `## ${connections} connections, ${size === '64k' ? '64 KB' : 'small'} responses\n\n`;
    md += '| # | scenario | req/s | p50 ms | p99 ms | × origin | × bare proxy | p99 × bare | × bare+token | CPU µs/req | peak RSS MB | errors / non-2xx |\n';
    md += '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n';
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
        ratioToBareToken: plain(s.id) && has(2.5) ? ratio(s.id, 2.5, connections, size, 'rps') : undefined,
        cpuMicrosPerRequest: stat(m.map((x) => x.cpuMicrosPerRequest)),
        peakRssMB: Math.max(...m.map((x) => x.peakRssBytes)) / 2 ** 20,
        errors: m.reduce((a, x) => a + x.errors, 0),
        non2xx: m.reduce((a, x) => a + x.non2xx, 0),
      };
      rows.push(row);
      md += `| ${s.id} | ${s.name} | ${range(row.rps)} | ${range(row.p50, 1)} | ${range(row.p99, 1)} | ${range(row.ratioToOrigin, 2)} | ${range(row.ratioToBare, 2)} | ${range(row.p99RatioToBare, 2)} | ${row.ratioToBareToken ? range(row.ratioToBareToken, 2) : '–'} | ${range(row.cpuMicrosPerRequest, 1)} | ${fmt(row.peakRssMB)} | ${row.errors} / ${row.non2xx} |\n`;
    }
    md += '\n';
  }

  md +=
    '## Targets (medians of ratios to the bare proxy, same run)\n\nWhere a target is not met, [README.md](README.md#where-the-targets-stand) gives the measured reason. ' +
    '"best round" is the best of the interleaved rounds, for the best figure reached.\n\n| target | config | measured | best round | met |\n| --- | --- | --- | --- | --- |\n';
  const targets: Record<string, unknown>[] = [];
  for (const t of TARGETS) {
    for (const { connections, size } of configs) {
      const r = ratio(t.scenario, 2, connections, size, 'rps');
      const p = ratio(t.scenario, 2, connections, size, 'p99');
      const met = r.median >= t.rps && (t.p99 === undefined || p.median <= t.p99);
      targets.push({ scenario: t.scenario, connections, size, rpsRatio: r.median, p99Ratio: p.median, met });
      md += `| ${t.label} | ${connections} c, ${size} | ${fmt(r.median, 2)}${t.p99 ? `, p99 ${fmt(p.median, 2)}` : ''} | ${fmt(r.max, 2)} | ${met ? 'yes' : '**no**'} |\n`;
    }
  }
  // One gateway process's RSS (scenario 11 is three processes summed: reported in its own section;
  // scenario 9 is the bare proxy behind HTTPS).
  const gatewayCells = results.filter((r) => r.scenario >= 3 && r.scenario !== 9 && r.scenario !== 11).map((r) => r.peakRssBytes);
  const gatewayRss = Math.max(...gatewayCells);
  const gatewayRssLow = Math.min(...gatewayCells);
  const bareRss = Math.max(...results.filter((r) => r.scenario === 2 || r.scenario === 2.5 || r.scenario === 9).map((r) => r.peakRssBytes));
  md += `| gateway RSS under load ≤ 150 MB | all | ${fmt(gatewayRss / 2 ** 20)} MB | ${fmt(gatewayRssLow / 2 ** 20)} MB | ${gatewayRss <= RSS_LIMIT ? 'yes' : '**no**'} |\n\n`;
  md += `For scale: the bare proxy's own peak RSS in this run was ${fmt(bareRss / 2 ** 20)} MB; the RSS "best round" is the lowest peak of any single-process gateway cell.\n\n`;

  const cpuRatio = (id: number, base: number, c: number, size: string) => {
    const values: number[] = [];
    for (const r of pick(id, c, size)) {
      const b = pick(base, c, size).find((x) => x.rep === r.rep);
      if (b && b.cpuMicrosPerRequest > 0) values.push(r.cpuMicrosPerRequest / b.cpuMicrosPerRequest);
    }
    return stat(values);
  };
  const limit: Record<string, unknown>[] = [];
  if (has(2.5)) {
    md += '## Against the physical limit: the bare proxy forwarding a token-sized header (scenario 2.5)\n\n';
    md += 'req/s of each row ÷ req/s of scenario 2.5 in the same repetition (the figure to drive to 1), and CPU µs/req of the proxy process over 2.5\'s. ';
    md += 'The first row is what the header alone costs the bare proxy.\n\n';
    md += '| row | config | req/s ÷ bare+token | CPU/req ÷ bare+token |\n| --- | --- | --- | --- |\n';
    const LIMIT_ROWS: [number, number, string][] = [
      [2.5, 2, 'bare+token ÷ bare proxy'],
      [4, 2.5, 'session cache hit ÷ bare+token'],
      [5, 2.5, 'session, Redis every request ÷ bare+token'],
      [6, 2.5, 'bearer, verified-token cache hit ÷ bare+token'],
      [7, 2.5, 'bearer, gateway access token ÷ bare+token'],
    ];
    for (const [id, base, label] of LIMIT_ROWS) {
      if (!has(id)) continue;
      for (const { connections, size } of configs) {
        const r = ratio(id, base, connections, size, 'rps');
        const c = cpuRatio(id, base, connections, size);
        limit.push({ scenario: id, base, connections, size, rpsRatio: r, cpuRatio: c });
        md += `| ${label} | ${connections} c, ${size} | ${range(r, 2)} | ${range(c, 2)} |\n`;
      }
    }
    md += '\n';
  }

  const workers: Record<string, unknown>[] = [];
  if (has(11) && has(4)) {
    md += '## Workers: the session cache-hit path with `workers: 1` (scenario 4) and `workers: 2` (scenario 11), same run\n\n';
    md += 'CPU µs/req and RSS of the two-worker gateway are summed over the cluster primary and its workers (their pids from /proc). ';
    md += meta.pinned
      ? `Pinned: one worker gets one core, two workers get two, and the second of those is also one the origin and the load generator run on${meta.cores === 2 ? ' (this host has two cores: the 2-worker row measures the whole host shared by proxy, origin and load, not two free cores)' : ''}.\n\n`
      : 'Unpinned: every process competes for every core.\n\n';
    md += '| config | workers: 1 req/s | workers: 2 req/s | 2 ÷ 1 req/s | workers: 1 CPU µs/req | workers: 2 CPU µs/req (summed) | of which the primary | peak RSS MB 1 / 2 (summed) |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n';
    for (const { connections, size } of configs) {
      const one = pick(4, connections, size);
      const two = pick(11, connections, size);
      const r = ratio(11, 4, connections, size, 'rps');
      const row = {
        connections,
        size,
        rps1: stat(one.map((x) => x.rps)),
        rps2: stat(two.map((x) => x.rps)),
        ratio: r,
        cpu1: stat(one.map((x) => x.cpuMicrosPerRequest)),
        cpu2: stat(two.map((x) => x.cpuMicrosPerRequest)),
        rss1MB: Math.max(...one.map((x) => x.peakRssBytes)) / 2 ** 20,
        rss2MB: Math.max(...two.map((x) => x.peakRssBytes)) / 2 ** 20,
        primaryCpu: stat(two.map((x) => x.cpuMicrosPerRequestByProcess?.[0] ?? 0)),
      };
      workers.push(row);
      md += `| ${connections} c, ${size} | ${range(row.rps1)} | ${range(row.rps2)} | ${range(r, 2)} | ${range(row.cpu1, 1)} | ${range(row.cpu2, 1)} | ${range(row.primaryCpu, 1)} | ${fmt(row.rss1MB)} / ${fmt(row.rss2MB)} |\n`;
    }
    md += '\n';
  }

  md += '## Micro-benchmark: the verification path in process\n\n| operation | ns/op | ops |\n| --- | --- | --- |\n';
  for (const m of micro) md += `| ${m.name} | ${fmt(m.nsPerOp)} | ${fmt(m.ops)} |\n`;
  md += '\n## CPU profile of scenario 4 (session, cache hit; 50 connections, small), top frames by self time\n\n| frame | self % |\n| --- | --- |\n';
  for (const f of frames) md += `| \`${f.frame.replace(/\|/g, '\\|')}\` | ${fmt(f.selfPercent, 1)} |\n`;
  md += '\n';
  return { markdown: md, json: { meta, scenarios, rows, targets, limit, workers, gatewayPeakRssMB: gatewayRss / 2 ** 20, micro, profile: frames, raw: results } };
}
