// The route table: built once per load or reload, read by every request. Matching picks the most
// specific host (exact, then the longest wildcard suffix, then routes without a host), then the
// longest path prefix on a segment boundary; among the routes at that prefix, the first that
// accepts the method. When none does, the answer is 405: a request never falls back to a shorter,
// less protected prefix or host. A lookup costs a Map probe or two (exact-case and caseInsensitive
// routes) per path segment, whatever the number of routes.
//
// A second table, keyed by the folded (lenient) form of every prefix (fold.ts), answers "which
// route would a backend that ignores case, trailing dots or compatibility characters see?". When it
// disagrees with the exact match, the request is ambiguous and refused. It is consulted only for
// paths that fold to something else, or for every path when a route's own prefix has upper case;
// routes-schema.ts refuses two prefixes that differ only in case, so a folded key never hides one
// route behind another.
import { fold, needsFold } from './fold.js';

export interface Matchable {
  /** Exact host, `*.example.com`, or undefined for any host. */
  readonly host: string | undefined;
  /** Path prefix without a trailing slash (`/` for the root). */
  readonly prefix: string;
  /** Methods accepted, or null for all. */
  readonly methods: ReadonlySet<string> | null;
  /** Match the folded path (case, trailing dots, NFKC ignored: fold.ts) against the folded prefix. */
  readonly caseInsensitive: boolean;
}

export type MatchResult<R> =
  | { readonly kind: 'route'; readonly route: R }
  | { readonly kind: 'method_not_allowed'; readonly allow: string }
  | { readonly kind: 'none' }
  /** The exact match and the lenient reading select different routes (or the lenient one refuses the method). */
  | { readonly kind: 'ambiguous'; readonly route: R; readonly lenient: R | undefined };

const NONE = { kind: 'none' } as const;

function parent(p: string): string {
  const slash = p.lastIndexOf('/');
  return slash === 0 ? '/' : p.slice(0, slash);
}

function trimSlash(p: string): string {
  return p.length > 1 && p.charCodeAt(p.length - 1) === 47 ? p.slice(0, -1) : p;
}

class PathTable<R extends Matchable> {
  /** Case-sensitive routes by prefix. */
  private readonly exact = new Map<string, R[]>();
  /** Case-insensitive routes by folded prefix. */
  private readonly folded = new Map<string, R[]>();

  add(route: R, lenient: boolean): void {
    const insensitive = lenient || route.caseInsensitive;
    const map = insensitive ? this.folded : this.exact;
    const key = insensitive ? fold(route.prefix) : route.prefix;
    const list = map.get(key);
    if (list) list.push(route);
    else map.set(key, [route]);
  }

  /** `foldedPath` is fold(path); both have the same number of segments, so they are walked together. */
  match(path: string, foldedPath: string, method: string): MatchResult<R> {
    let p = trimSlash(path);
    let f = trimSlash(foldedPath);
    const anyFolded = this.folded.size > 0;
    const anyExact = this.exact.size > 0;
    for (;;) {
      const exact = anyExact ? this.exact.get(p) : undefined;
      const folded = anyFolded ? this.folded.get(f) : undefined;
      if (exact || folded) return pick(exact, folded, method);
      if (p === '/' || f === '/') return NONE;
      p = parent(p);
      f = parent(f);
    }
  }

  /** Every level of match's walk that holds routes, longest first: the first is the one match decides at (`gateway explain`). */
  levels(path: string, foldedPath: string): PrefixRoutes<R>[] {
    const out: PrefixRoutes<R>[] = [];
    let p = trimSlash(path);
    let f = trimSlash(foldedPath);
    for (;;) {
      const exact = this.exact.get(p) ?? [];
      const folded = this.folded.get(f) ?? [];
      if (exact.length + folded.length > 0) {
        out.push({ prefix: exact.length > 0 ? p : f, routes: [...exact.map((route) => ({ route, folded: false })), ...folded.map((route) => ({ route, folded: true }))] });
      }
      if (p === '/' || f === '/') return out;
      p = parent(p);
      f = parent(f);
    }
  }
}

/** One level of the walk up the path that holds routes: its exact-case routes, then its caseInsensitive ones (pick's order). */
export interface PrefixRoutes<R> {
  /** The prefix as the route table keys it (a caseInsensitive route's is folded). */
  readonly prefix: string;
  readonly routes: readonly { readonly route: R; readonly folded: boolean }[];
}

/** The first route that accepts the method, exact-case routes first; else 405 with the methods of all. */
function pick<R extends Matchable>(exact: R[] | undefined, folded: R[] | undefined, method: string): MatchResult<R> {
  const r = (exact && accepting(exact, method)) ?? (folded && accepting(folded, method));
  if (r) return { kind: 'route', route: r };
  const allowed = new Set<string>();
  for (const list of [exact ?? [], folded ?? []]) for (const route of list) for (const m of route.methods ?? []) allowed.add(m);
  return { kind: 'method_not_allowed', allow: [...allowed].sort().join(', ') };
}

function accepting<R extends Matchable>(list: readonly R[], method: string): R | undefined {
  for (const r of list) if (r.methods === null || r.methods.has(method)) return r;
  return undefined;
}

/** Host tables, most specific first; `lenient` keys every route by its folded prefix. */
class HostTables<R extends Matchable> {
  private readonly exact = new Map<string, PathTable<R>>();
  private readonly wildcards: { suffix: string; table: PathTable<R> }[] = [];
  private readonly anyHost = new PathTable<R>();
  constructor(routes: readonly R[], lenient: boolean) {
    const wild = new Map<string, PathTable<R>>();
    for (const r of routes) {
      const table = r.host === undefined ? this.anyHost : r.host.startsWith('*.') ? getOrAdd(wild, r.host.slice(1)) : getOrAdd(this.exact, r.host);
      table.add(r, lenient);
    }
    for (const [suffix, table] of wild) this.wildcards.push({ suffix, table });
    this.wildcards.sort((a, b) => b.suffix.length - a.suffix.length);
  }

  match(host: string, path: string, foldedPath: string, method: string): MatchResult<R> {
    const exact = this.exact.get(host);
    if (exact) {
      const m = exact.match(path, foldedPath, method);
      if (m.kind !== 'none') return m;
    }
    for (const w of this.wildcards) {
      // `*.example.com` matches a.example.com and a.b.example.com, never example.com itself.
      if (host.length > w.suffix.length && host.endsWith(w.suffix)) {
        const m = w.table.match(path, foldedPath, method);
        if (m.kind !== 'none') return m;
      }
    }
    return this.anyHost.match(path, foldedPath, method);
  }

  /** The tables match consults for `host`, in its order (`gateway explain`). */
  tiers(host: string): { tier: HostTier; host: string | undefined; table: PathTable<R> }[] {
    const out: { tier: HostTier; host: string | undefined; table: PathTable<R> }[] = [];
    const exact = this.exact.get(host);
    if (exact) out.push({ tier: 'exact', host, table: exact });
    for (const w of this.wildcards) {
      if (host.length > w.suffix.length && host.endsWith(w.suffix)) out.push({ tier: 'wildcard', host: `*${w.suffix}`, table: w.table });
    }
    out.push({ tier: 'any', host: undefined, table: this.anyHost });
    return out;
  }
}

/** How a route names its host: exactly, by wildcard, or not at all. */
export type HostTier = 'exact' | 'wildcard' | 'any';

/** Why the table answers what it answers for one request (`gateway explain`). */
export interface TableExplanation<R> {
  /** match's own answer. */
  readonly result: MatchResult<R>;
  /** The path as caseInsensitive routes and the lenient check compare it (routing/fold.ts). */
  readonly foldedPath: string;
  /** Whether the lenient reading was compared with the exact match (a foldable path, or a route prefix with upper case). */
  readonly lenientChecked: boolean;
  /**
   * The host tables that apply to the host, most specific first, each with the levels of the path
   * it holds routes at, longest first. match takes the first tier with any level, and there the
   * first level; later tiers are never consulted (`consulted: false`).
   */
  readonly tiers: readonly {
    readonly tier: HostTier;
    readonly host: string | undefined;
    readonly consulted: boolean;
    readonly decided: boolean;
    readonly levels: readonly PrefixRoutes<R>[];
  }[];
}

export interface RouteTableOptions {
  /** Refuse requests whose lenient reading (fold.ts) selects another route than the exact one. */
  readonly refuseAmbiguous: boolean;
}

export class RouteTable<R extends Matchable> {
  private readonly tables: HostTables<R>;
  private readonly lenient: HostTables<R> | undefined;
  /** Some prefix changes when folded (upper case in a route path): every request needs the lenient check. */
  private readonly lenientAlways: boolean;
  /** Every route, in file order. */
  readonly routes: readonly R[];

  constructor(routes: readonly R[], opts: RouteTableOptions = { refuseAmbiguous: true }) {
    this.routes = routes;
    this.tables = new HostTables(routes, false);
    this.lenient = opts.refuseAmbiguous ? new HostTables(routes, true) : undefined;
    this.lenientAlways = routes.some((r) => fold(r.prefix) !== r.prefix);
  }

  /** `host` is normalized (lower case, no port); `path` is the normalized, decoded path. */
  match(host: string, path: string, method: string): MatchResult<R> {
    const foldable = needsFold(path);
    const folded = foldable ? fold(path) : path;
    const m = this.tables.match(host, path, folded, method);
    if (m.kind !== 'route' || this.lenient === undefined || !(foldable || this.lenientAlways)) return m;
    const l = this.lenient.match(host, path, folded, method);
    if (l.kind === 'route' && l.route === m.route) return m;
    return { kind: 'ambiguous', route: m.route, lenient: l.kind === 'route' ? l.route : undefined };
  }

  /** match, with what it looked at: for `gateway explain`, never on the request path. */
  explain(host: string, path: string, method: string): TableExplanation<R> {
    const result = this.match(host, path, method);
    const foldedPath = fold(path);
    let decided = false;
    const tiers = this.tables.tiers(host).map(({ tier, host: name, table }) => {
      const levels = table.levels(path, foldedPath);
      const consulted = !decided;
      const decides = consulted && levels.length > 0;
      if (decides) decided = true;
      return { tier, host: name, consulted, decided: decides, levels };
    });
    const lenientChecked = this.lenient !== undefined && (result.kind === 'ambiguous' || (result.kind === 'route' && (needsFold(path) || this.lenientAlways)));
    return { result, foldedPath, lenientChecked, tiers };
  }
}

function getOrAdd<R extends Matchable>(map: Map<string, PathTable<R>>, key: string): PathTable<R> {
  let t = map.get(key);
  if (!t) map.set(key, (t = new PathTable<R>()));
  return t;
}
