// The route table: built once per load or reload, read by every request. Matching picks the most
// specific host (exact, then the longest wildcard suffix, then routes without a host), then the
// longest path prefix on a segment boundary, then the first route there that accepts the method.
// A lookup costs one Map probe per path segment, whatever the number of routes.

export interface Matchable {
  /** Exact host, `*.example.com`, or undefined for any host. */
  readonly host: string | undefined;
  /** Path prefix without a trailing slash (`/` for the root). */
  readonly prefix: string;
  /** Methods accepted, or null for all. */
  readonly methods: ReadonlySet<string> | null;
}

export type MatchResult<R> =
  | { readonly kind: 'route'; readonly route: R }
  | { readonly kind: 'method_not_allowed'; readonly allow: string }
  | { readonly kind: 'none' };

const NONE = { kind: 'none' } as const;

class PathTable<R extends Matchable> {
  private readonly byPrefix = new Map<string, R[]>();

  add(route: R): void {
    const list = this.byPrefix.get(route.prefix);
    if (list) list.push(route);
    else this.byPrefix.set(route.prefix, [route]);
  }

  match(path: string, method: string): MatchResult<R> {
    let p = path.length > 1 && path.charCodeAt(path.length - 1) === 47 ? path.slice(0, -1) : path;
    let allowed: Set<string> | undefined;
    for (;;) {
      const routes = this.byPrefix.get(p);
      if (routes) {
        for (const r of routes) {
          if (r.methods === null || r.methods.has(method)) {
            return { kind: 'route', route: r };
          }
        }
        allowed ??= new Set();
        for (const r of routes) for (const m of r.methods ?? []) allowed.add(m);
      }
      if (p === '/') break;
      const slash = p.lastIndexOf('/');
      p = slash === 0 ? '/' : p.slice(0, slash);
    }
    return allowed ? { kind: 'method_not_allowed', allow: [...allowed].sort().join(', ') } : NONE;
  }
}

export class RouteTable<R extends Matchable> {
  private readonly exact = new Map<string, PathTable<R>>();
  private readonly wildcards: { suffix: string; table: PathTable<R> }[] = [];
  private readonly anyHost = new PathTable<R>();
  /** Every route, in file order. */
  readonly routes: readonly R[];

  constructor(routes: readonly R[]) {
    this.routes = routes;
    const wild = new Map<string, PathTable<R>>();
    for (const r of routes) {
      if (r.host === undefined) this.anyHost.add(r);
      else if (r.host.startsWith('*.')) getOrAdd(wild, r.host.slice(1)).add(r);
      else getOrAdd(this.exact, r.host).add(r);
    }
    for (const [suffix, table] of wild) this.wildcards.push({ suffix, table });
    this.wildcards.sort((a, b) => b.suffix.length - a.suffix.length);
  }

  /** `host` is normalized (lower case, no port); `path` is the normalized, decoded path. */
  match(host: string, path: string, method: string): MatchResult<R> {
    let methodMismatch: MatchResult<R> | undefined;
    const exact = this.exact.get(host);
    if (exact) {
      const m = exact.match(path, method);
      if (m.kind === 'route') return m;
      if (m.kind === 'method_not_allowed') methodMismatch = m;
    }
    for (const w of this.wildcards) {
      // `*.example.com` matches a.example.com and a.b.example.com, never example.com itself.
      if (host.length > w.suffix.length && host.endsWith(w.suffix)) {
        const m = w.table.match(path, method);
        if (m.kind === 'route') return m;
        if (m.kind === 'method_not_allowed') methodMismatch ??= m;
      }
    }
    const m = this.anyHost.match(path, method);
    if (m.kind === 'route') return m;
    return methodMismatch ?? m;
  }
}

function getOrAdd<R extends Matchable>(map: Map<string, PathTable<R>>, key: string): PathTable<R> {
  let t = map.get(key);
  if (!t) map.set(key, (t = new PathTable<R>()));
  return t;
}
