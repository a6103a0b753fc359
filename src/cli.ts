#!/usr/bin/env node
// `gateway start | check-config | explain | keygen | sessions revoke`. Every command but keygen reads
// --config PATH, falling back to GATEWAY_CONFIG, then ./config/gateway.yaml.
import { parseArgs } from 'node:util';
import { developmentSettings } from './config/development.js';
import { loadConfig } from './config/load.js';
import { ConfigError, formatProblem } from './errors.js';
import { KEYGEN_ALGORITHMS, type KeygenAlgorithm } from './jwt.js';
import { writeKey } from './keys/keygen.js';
import { createLogger } from './log.js';
import { explainFromConfig, ExplainInputError, formatExplanation, revokeUser, routeWarnings, startGateway } from './main.js';
import { isWorker, runPrimary, workerCount } from './workers.js';

const HELP = `Usage: gateway <command> [options]

Commands:
  start          Run the gateway.
  check-config   Validate gateway.yaml and its routes file; exit 0 when valid, 1 otherwise.
                 Development settings are warnings; with --production (or NODE_ENV=production)
                 they fail the check. Routes no request can reach (shadowed by an earlier route
                 or a more specific host) and overlaps whose winner depends on subtle precedence
                 (a more specific host beating a longer path, a longer prefix answering 405 for
                 methods a shorter one takes) are warnings naming both routes; with --strict
                 every warning fails the check.
  explain METHOD URL
                 What the gateway would do with this request, and why: every normalization
                 step, the route matched (or why none), its policy in words, the authentication
                 tried, CSRF, the headers dropped and added, and the decision (allowed, or 401,
                 403 with its reason, 503...) with the claims of the internal token it would
                 mint. Built from the configuration like "start" (the same Redis, keys and
                 issuers), without listening. URL is http(s)://host/path?query or /path (Host
                 from --header). The token, cookie and bearer token are never printed.
  keygen         Write a new signing key (private JWK) into a keys directory.
  sessions revoke --user SUB
                 End every session of a user on every instance (as the admin endpoint does).

Options:
  --config PATH  gateway.yaml to use (default: $GATEWAY_CONFIG, else ./config/gateway.yaml)
  --alg ALG      keygen: ${KEYGEN_ALGORITHMS.join(', ')} (default ES256)
  --out DIR      keygen: directory to write into (default ./keys)
  --kid KID      keygen: key id (default: the UTC time and part of the thumbprint, so keys sort by age)
  --user SUB     sessions revoke: the user whose sessions end
  --production   check-config: development settings are problems, not warnings
  --strict       check-config: any warning fails the check (exit 1)
  --header 'K: V'
                 explain: a request header line (repeat for more)
  --cookie VALUE explain: the session cookie's value ("-": read it from stdin)
  --bearer TOKEN explain: a bearer token, sent as Authorization: Bearer ("-": from stdin)
  --json         explain: print the report as JSON
  -h, --help     Show this help.
`;

/* eslint-disable no-console -- the CLI talks to a person on the terminal */
async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      alg: { type: 'string', default: 'ES256' },
      out: { type: 'string', default: './keys' },
      kid: { type: 'string' },
      user: { type: 'string' },
      production: { type: 'boolean' },
      strict: { type: 'boolean' },
      header: { type: 'string', multiple: true },
      cookie: { type: 'string' },
      bearer: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    console.log(HELP);
    return values.help ? 0 : 2;
  }
  const configPath = values.config ?? process.env.GATEWAY_CONFIG ?? './config/gateway.yaml';
  switch (command) {
    case 'check-config':
      try {
        const cfg = await loadConfig(configPath);
        const production = values.production === true || process.env.NODE_ENV === 'production';
        const dev = developmentSettings(cfg.gateway);
        for (const d of dev) console.error(`${cfg.gatewayFile} ${d.key}: ${production ? '' : 'warning: '}${d.message}`);
        if (production && dev.length > 0) {
          console.error(`${dev.length} development setting(s) in a configuration checked for production`);
          return 1;
        }
        const overlaps = routeWarnings(cfg);
        for (const w of overlaps) console.error(`${cfg.routesFile}: warning (${w.kind.replace('_', ' ')}): ${w.message}`);
        const warnings = overlaps.length + (production ? 0 : dev.length);
        if (values.strict && warnings > 0) {
          console.error(`${warnings} warning(s), and --strict makes them fail the check`);
          return 1;
        }
        console.log(`${cfg.gatewayFile}: ok (${cfg.routes.length} routes from ${cfg.routesFile}${warnings > 0 ? `; ${warnings} warning(s)` : ''})`);
        return 0;
      } catch (err) {
        return reportConfigError(err);
      }
    case 'start':
      return start(configPath);
    case 'explain':
      return explain(configPath, positionals.slice(1), values);
    case 'keygen': {
      if (!(KEYGEN_ALGORITHMS as readonly string[]).includes(values.alg)) {
        console.error(`--alg ${values.alg} is not one of ${KEYGEN_ALGORITHMS.join(', ')}`);
        return 2;
      }
      const written = await writeKey(values.out, values.alg as KeygenAlgorithm, values.kid);
      console.log(`wrote ${written.file} (kid ${written.kid}, ${written.alg})`);
      return 0;
    }
    case 'sessions': {
      if (positionals[1] !== 'revoke' || !values.user) {
        console.error('usage: gateway sessions revoke --user SUB [--config PATH]');
        return 2;
      }
      try {
        const revoked = await revokeUser(configPath, values.user);
        console.log(`revoked ${revoked} session(s) of ${values.user}`);
        return 0;
      } catch (err) {
        if (err instanceof ConfigError) return reportConfigError(err);
        throw err;
      }
    }
    default:
      console.error(`unknown command "${command}"\n\n${HELP}`);
      return 2;
  }
}

const EXPLAIN_USAGE = "usage: gateway explain [--config PATH] METHOD URL [--header 'K: V']... [--cookie VALUE|-] [--bearer TOKEN|-] [--json]";

/** `-`: the first line of stdin (a secret kept off the command line, where `ps` shows it). */
async function secret(value: string | undefined): Promise<string | undefined> {
  if (value !== '-') return value;
  let text = '';
  for await (const chunk of process.stdin) text += (chunk as Buffer).toString('utf8');
  return text.split(/\r?\n/)[0]?.trim();
}

async function explain(
  configPath: string,
  args: string[],
  values: { header?: string[] | undefined; cookie?: string | undefined; bearer?: string | undefined; json?: boolean | undefined },
): Promise<number> {
  const [method, url, extra] = args;
  if (method === undefined || url === undefined || extra !== undefined) {
    console.error(EXPLAIN_USAGE);
    return 2;
  }
  const headers: [string, string][] = [];
  for (const line of values.header ?? []) {
    const colon = line.indexOf(':');
    if (colon <= 0) {
      console.error(`--header ${JSON.stringify(line)}: write it as 'Name: value'\n${EXPLAIN_USAGE}`);
      return 2;
    }
    headers.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
  }
  if (values.cookie === '-' && values.bearer === '-') {
    console.error('only one of --cookie and --bearer can be read from stdin');
    return 2;
  }
  try {
    const report = await explainFromConfig(configPath, { method, url, headers, cookie: await secret(values.cookie), bearer: await secret(values.bearer) });
    console.log(values.json ? JSON.stringify(report, null, 2) : formatExplanation(report));
    return 0;
  } catch (err) {
    if (err instanceof ExplainInputError) {
      console.error(`${err.message}\n${EXPLAIN_USAGE}`);
      return 2;
    }
    return reportConfigError(err);
  }
}

function reportConfigError(err: unknown): number {
  if (err instanceof ConfigError) {
    for (const p of err.problems) console.error(formatProblem(p));
    console.error(`${err.problems.length} problem(s) found`);
    return 1;
  }
  throw err;
}

async function start(configPath: string): Promise<number> {
  // workers > 1: this process only runs the workers (workers.ts), each of which comes back here.
  if (!isWorker()) {
    let count: number;
    let level: string;
    try {
      const cfg = await loadConfig(configPath);
      count = workerCount(cfg.gateway.workers);
      level = cfg.gateway.log.level;
    } catch (err) {
      return reportConfigError(err);
    }
    if (count > 1) return runPrimary(count, createLogger(level).child({ role: 'primary' }));
  }
  // Signal handlers go in before anything listens: a SIGHUP that arrives during start-up must not
  // take Node's default action (exit).
  let gateway: Awaited<ReturnType<typeof startGateway>> | undefined;
  let stopRequested = false;
  const stop = (signal: string) => {
    stopRequested = true;
    // Nothing serves yet (start-up may be waiting on Redis): nothing to drain.
    if (!gateway) {
      exit(0);
      return;
    }
    gateway.logger.info({ signal }, 'shutdown requested');
    void gateway.shutdown().then(() => process.exit(0));
  };
  // SIGHUP reloads what can change under a running gateway: the routes file and the TLS certificate.
  process.on('SIGHUP', () => {
    void gateway?.reloadRoutes();
    void gateway?.reloadCertificate();
  });
  // A bug that escaped every handler: say what it was (with the lines still buffered), then exit
  // non-zero so the orchestrator restarts a process in a known state, never one half-broken.
  const fatal = (what: string) => (err: unknown) => {
    if (gateway) {
      gateway.logger.fatal({ err }, what);
      try {
        gateway.flushLogs();
      } catch {
        // a stuck stdout: nothing more can be said
      }
    } else console.error(`${what}: ${err instanceof Error ? err.stack : String(err)}`);
    exit(1);
  };
  process.on('unhandledRejection', fatal('unhandled rejection'));
  process.on('uncaughtException', fatal('uncaught exception'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  try {
    gateway = await startGateway({ configPath, production: process.env.NODE_ENV === 'production' });
  } catch (err) {
    if (err instanceof ConfigError) return reportConfigError(err);
    throw err;
  }
  if (stopRequested) stop('SIGTERM');
  return -1; // keep running
}

/**
 * Exit once what was written has been flushed. process.exitCode alone is not enough: a Redis
 * client that keeps reconnecting, or any other handle, would keep the process alive after an error.
 */
function exit(code: number): void {
  process.stderr.write('', () => process.stdout.write('', () => process.exit(code)));
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) exit(code);
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    exit(1);
  },
);
