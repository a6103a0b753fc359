// YAML with positions: parse once, interpolate `${VAR}` / `${VAR:-default}` in scalar values, and
// answer "where is routes[2].auth?" so every validation message can name file:line:column.
//
// Interpolation happens on parsed scalars, never on the raw text, so an environment value cannot
// inject YAML structure (a `\n  admin: ...` in a variable stays one string).
import { basename } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import type { ConfigProblem } from '../errors.js';

export type PathSegment = string | number;

export interface YamlSource {
  /** The file name as shown in messages (basename: the directory adds noise, not information). */
  readonly name: string;
  /** The plain value after interpolation; undefined when the file did not parse. */
  readonly value: unknown;
  /** Problems found while parsing and interpolating. */
  readonly problems: ConfigProblem[];
  /** Positions (`line:column`) of values whose interpolation failed: their schema errors would only repeat it. */
  readonly unresolved: ReadonlySet<string>;
  /** The position of the node at `path` (or of its nearest existing parent). */
  locate(path: readonly PathSegment[], atKey?: boolean): { line: number; column: number };
}

const VAR = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out ? `.${seg}` : seg;
  return out;
}

export function parseYamlSource(file: string, text: string, env: NodeJS.ProcessEnv): YamlSource {
  const name = basename(file);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const problems: ConfigProblem[] = [];
  const unresolved = new Set<string>();
  const pos = (offset: number) => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, column: p.col };
  };

  const syntaxErrors = doc.errors.length > 0;
  for (const err of doc.errors) {
    problems.push({ file: name, ...pos(err.pos[0]), path: '', message: err.message.split('\n')[0] ?? err.message });
  }

  if (!syntaxErrors) {
    visit(doc, {
      Scalar(_key, node) {
        if (typeof node.value !== 'string' || !node.value.includes('${')) return;
        const missing: string[] = [];
        const replaced = node.value.replace(VAR, (_m, varName: string, fallback: string | undefined) => {
          const v = env[varName];
          if (v !== undefined && v !== '') return v;
          if (fallback !== undefined) return fallback;
          missing.push(varName);
          return '';
        });
        for (const varName of missing) {
          const at = pos(node.range?.[0] ?? 0);
          unresolved.add(`${at.line}:${at.column}`);
          problems.push({
            file: name,
            ...at,
            path: '',
            message: `environment variable ${varName} is not set and has no default (write \${${varName}:-default})`,
          });
        }
        // A plain (unquoted) scalar that was a variable takes the type YAML would give the text:
        // `port: ${PORT:-8080}` is a number, as if 8080 had been written.
        node.value = node.type === 'PLAIN' ? plainScalar(replaced) : replaced;
      },
    });
  }

  const locate = (path: readonly PathSegment[], atKey = false) => {
    let node: unknown = doc.contents;
    let at: Node | null | undefined = doc.contents as Node | null;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === seg);
        if (!pair) break;
        at = (atKey || pair.value == null ? pair.key : pair.value) as Node;
        if (atKey && seg === path[path.length - 1]) break;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg] as Node | undefined;
        if (!item) break;
        at = item;
        node = item;
      } else break;
    }
    return at?.range ? pos(at.range[0]) : { line: 1, column: 1 };
  };

  // Validation still runs after interpolation problems, so every problem is reported at once.
  return { name, value: syntaxErrors ? undefined : doc.toJS({ maxAliasCount: 50 }), problems, unresolved, locate };
}

function plainScalar(text: string): unknown {
  if (/^-?\d+$/.test(text)) return Number(text);
  if (/^-?\d+\.\d+$/.test(text)) return Number(text);
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (text === '' || text === 'null' || text === '~') return null;
  return text;
}

export type { Document };
