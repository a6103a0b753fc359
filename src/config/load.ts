// Load, interpolate and validate both configuration files, reporting every problem at once with
// its file:line:column. Loading has no side effects: it reads files and returns values or a
// ConfigError, so `gateway check-config` and a reload can call it freely.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { z } from 'zod';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { crossRouteIssues, routesSchema, type RouteConfig } from './routes-schema.js';
import { gatewaySchema, type GatewayConfig } from './schema.js';
import { formatPath, parseYamlSource, type PathSegment, type YamlSource } from './yaml-source.js';

export interface LoadedConfig {
  /** Absolute path of gateway.yaml. */
  readonly gatewayFile: string;
  /** Absolute path of the routes file it names. */
  readonly routesFile: string;
  readonly gateway: GatewayConfig;
  readonly routes: readonly RouteConfig[];
}

/** Load gateway.yaml and the routes file it names; throws ConfigError listing every problem. */
export async function loadConfig(gatewayFile: string, env: NodeJS.ProcessEnv = process.env): Promise<LoadedConfig> {
  const file = resolve(gatewayFile);
  const gatewayText = await readText(file);
  const source = parseYamlSource(file, gatewayText, env);
  const gwResult = validate(source, gatewaySchema);
  const problems = [...source.problems, ...gwResult.problems];
  // The routes file is checked even when gateway.yaml has problems, so one run reports them all.
  const named = (source.value as { routesFile?: unknown } | undefined)?.routesFile;
  const routesFile = resolve(dirname(file), gwResult.value?.routesFile ?? (typeof named === 'string' ? named : './routes.yaml'));
  let routes: readonly RouteConfig[] = [];
  try {
    routes = await loadRoutes(routesFile, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  if (problems.length > 0 || !gwResult.value) throw new ConfigError(problems);
  return { gatewayFile: file, routesFile, gateway: gwResult.value, routes };
}

/** Load and validate a routes file alone (what a hot reload does). */
export async function loadRoutes(routesFile: string, env: NodeJS.ProcessEnv = process.env): Promise<readonly RouteConfig[]> {
  return (await loadRoutesFile(routesFile, env)).routes;
}

/** The routes file as a whole: its routes and whether it means to be empty. */
export async function loadRoutesFile(routesFile: string, env: NodeJS.ProcessEnv = process.env): Promise<{ routes: readonly RouteConfig[]; allowEmpty: boolean }> {
  const source = parseYamlSource(routesFile, await readText(routesFile), env);
  const result = validate(source, routesSchema);
  const problems = [...source.problems, ...result.problems];
  for (const issue of crossRouteIssues(source.value)) {
    problems.push({ file: source.name, ...source.locate(issue.path), path: formatPath(issue.path), message: issue.message });
  }
  problems.sort((a, b) => a.line - b.line || a.column - b.column);
  if (problems.length > 0 || !result.value) throw new ConfigError(problems);
  return { routes: result.value.routes, allowEmpty: result.value.allowEmpty };
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError([{ file, line: 0, column: 0, path: '', message: `cannot be read (${code})` }]);
  }
}

function validate<S extends z.ZodType>(source: YamlSource, schema: S): { value?: z.output<S>; problems: ConfigProblem[] } {
  if (source.problems.length > 0 && source.value === undefined) return { problems: [] };
  // An empty file is an empty mapping: every key takes its default.
  const result = schema.safeParse(source.value ?? {}, { reportInput: true });
  if (result.success) return source.problems.length > 0 ? { problems: [] } : { value: result.data, problems: [] };
  const problems: ConfigProblem[] = [];
  for (const issue of result.error.issues) {
    const path = issue.path.filter((p): p is PathSegment => typeof p !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      const allowed = allowedKeys(schema, path);
      for (const key of issue.keys) {
        problems.push({
          file: source.name,
          ...source.locate([...path, key], true),
          path: formatPath([...path, key]),
          message: `unknown key${allowed ? `; allowed here: ${allowed.join(', ')}` : ''}`,
        });
      }
      continue;
    }
    const at = source.locate(path);
    if (source.unresolved.has(`${at.line}:${at.column}`)) continue;
    problems.push({ file: source.name, ...at, path: formatPath(path), message: describe(issue) });
  }
  problems.sort((a, b) => a.line - b.line || a.column - b.column);
  return { problems };
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'object') return Array.isArray(value) ? 'a list' : 'a mapping';
  return JSON.stringify(value);
}

function describe(issue: z.core.$ZodIssue): string {
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case 'invalid_type':
      return input === undefined ? `is required (${issue.expected})` : `${show(input)} is not a ${issue.expected}`;
    case 'invalid_value':
      return `${show(input)} is not one of ${issue.values.map((v) => String(v)).join(', ')}`;
    case 'too_small':
      return issue.origin === 'array'
        ? `needs at least ${String(issue.minimum)} item(s)`
        : `${show(input)} is below the minimum of ${String(issue.minimum)}`;
    case 'too_big':
      return issue.origin === 'array'
        ? `allows at most ${String(issue.maximum)} item(s)`
        : `${show(input)} is above the maximum of ${String(issue.maximum)}`;
    case 'invalid_union':
      return `${show(input)} is not valid here (${issue.errors[0]?.[0]?.message ?? 'see docs/configuration.md'})`;
    default: {
      const primitive = input !== undefined && (typeof input !== 'object' || input === null);
      return primitive && issue.message.startsWith('must') ? `${show(input)} ${issue.message}` : issue.message;
    }
  }
}

interface SchemaDef {
  type: string;
  shape?: Record<string, unknown>;
  innerType?: unknown;
  in?: unknown;
  element?: unknown;
}

/** The keys an object schema allows at `path`, to say what would be right after a typo. */
function allowedKeys(schema: unknown, path: readonly PathSegment[]): string[] | undefined {
  let node = schema;
  for (let i = 0; ; ) {
    const def = (node as { _zod?: { def: SchemaDef } })._zod?.def;
    if (!def) return undefined;
    if (def.type === 'default' || def.type === 'optional' || def.type === 'nullable' || def.type === 'prefault') {
      node = def.innerType;
    } else if (def.type === 'pipe') {
      node = def.in;
    } else if (i === path.length) {
      return def.type === 'object' && def.shape ? Object.keys(def.shape) : undefined;
    } else if (def.type === 'object' && def.shape) {
      node = def.shape[String(path[i++])];
    } else if (def.type === 'array') {
      node = def.element;
      i++;
    } else return undefined;
  }
}
