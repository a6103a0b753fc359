// Routes that no request reaches, and pairs of routes where which one takes a request depends on
// subtle precedence: what `gateway check-config` warns about. (Two routes on the same host, path
// and method are a load error already: routes-schema.ts crossRouteIssues.) Every verdict comes from
// the route table itself (table.ts), asked about the requests most favourable to the route in
// question: its own host (or one only its tier matches), its own path and a path just under it.
import { HTTP_METHODS } from '../config/routes-schema.js';
import { fold } from './fold.js';
import { RouteTable, type Matchable, type MatchResult, type RouteTableOptions } from './table.js';

export interface OverlapRoute extends Matchable {
  readonly name: string;
  /** The route this one is a rule of (`<route>.<rule>`); undefined for a route. */
  readonly ruleOf?: string | undefined;
}

export type RouteWarningKind = 'shadowed' | 'partly_shadowed' | 'host_precedence' | 'method_gap';

export interface RouteWarning {
  readonly kind: RouteWarningKind;
  /** The route that loses requests it names. */
  readonly route: string;
  /** What takes them instead: a route's name, or several, comma-separated. */
  readonly by: string;
  readonly message: string;
}

/** A path segment no route names, to ask about "a path under this prefix". */
const PROBE = 'zz--explain-probe';

function child(prefix: string): string {
  return prefix === '/' ? `/${PROBE}` : `${prefix}/${PROBE}`;
}

function hostText(r: Matchable): string {
  return r.host ?? 'any host';
}

function describe(r: OverlapRoute): string {
  return `"${r.name}" (${hostText(r)}, ${r.prefix}${r.methods ? `, ${[...r.methods].sort().join(' ')}` : ''})`;
}

function methodsOf(r: Matchable): readonly string[] {
  return r.methods ? [...r.methods] : HTTP_METHODS;
}

/** Whether `inner` is strictly under `outer` (on a segment boundary), as the table compares them. */
function strictlyUnder(inner: OverlapRoute, outer: OverlapRoute): boolean {
  const fold2 = inner.caseInsensitive || outer.caseInsensitive;
  const i = fold2 ? fold(inner.prefix) : inner.prefix;
  const o = fold2 ? fold(outer.prefix) : outer.prefix;
  return o === '/' ? i !== '/' : i.startsWith(`${o}/`);
}

/** Whether every host `h` (more specific) matches is also one `l` matches. */
function hostWithin(h: Matchable, l: Matchable): boolean {
  if (l.host === undefined) return h.host !== undefined;
  if (!l.host.startsWith('*.') || h.host === undefined) return false;
  const suffix = l.host.slice(1);
  const inner = h.host.startsWith('*.') ? h.host.slice(1) : h.host;
  return inner.length > suffix.length && inner.endsWith(suffix);
}

function sameRoute(a: OverlapRoute, b: OverlapRoute): boolean {
  return (a.ruleOf ?? a.name) === (b.ruleOf ?? b.name);
}

/** What happens to a request instead, in words. */
function taker<R extends OverlapRoute>(m: MatchResult<R>): string {
  switch (m.kind) {
    case 'route':
      return `go to "${m.route.name}"`;
    case 'method_not_allowed':
      return `are answered 405 (Allow: ${m.allow})`;
    case 'ambiguous':
      return `are refused as ambiguous (lenient reading: ${m.lenient?.name ?? 'no route'})`;
    default:
      return 'are answered 404';
  }
}

/** `every request goes to "a"`, or `HEAD requests go to "a"; DELETE requests are answered 405 (...)`. */
function grouped(byTaker: Map<string, string[]>, of: readonly string[]): string {
  const [only] = byTaker;
  if (byTaker.size === 1 && only && only[1].length === of.length && of.length > 1) return `all its requests ${only[0]}`;
  return [...byTaker].map(([t, ms]) => `${ms.join(', ')} requests ${t}`).join('; ');
}

/** Who takes instead: route names, or the table's answer. */
function takers(byTaker: Map<string, string[]>): string {
  return [...byTaker.keys()].map((t) => /^go to "(.*)"$/.exec(t)?.[1] ?? t.replace(/^are /, '')).join(', ');
}

function add(map: Map<string, string[]>, key: string, value: string): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/**
 * The warnings for a table of routes in match order (each route's rules before it), with the
 * table's options (routing.refuseAmbiguousPaths).
 */
export function routeOverlaps<R extends OverlapRoute>(routes: readonly R[], opts: RouteTableOptions = { refuseAmbiguous: true }): RouteWarning[] {
  const table = new RouteTable(routes, opts);
  const exactHosts = new Set(routes.flatMap((r) => (r.host !== undefined && !r.host.startsWith('*.') ? [r.host] : [])));
  /** A host only the route's own tier and less specific ones match: its name, or one its wildcard alone covers. */
  const hostFor = (r: Matchable): string => {
    if (r.host === undefined) return '';
    if (!r.host.startsWith('*.')) return r.host;
    let probe = `${PROBE}${r.host.slice(1)}`;
    for (let n = 2; exactHosts.has(probe); n++) probe = `${PROBE}${n}${r.host.slice(1)}`;
    return probe;
  };
  const warnings: RouteWarning[] = [];

  for (const r of routes) {
    // Shadowed: a method of r that neither its path nor a path under it ever reaches r with.
    const host = hostFor(r);
    const lost = new Map<string, string[]>();
    let reached = false;
    for (const m of methodsOf(r)) {
      const own = table.match(host, r.prefix, m);
      const under = table.match(host, child(r.prefix), m);
      if ((own.kind === 'route' && own.route === r) || (under.kind === 'route' && under.route === r)) {
        reached = true;
        continue;
      }
      // A route takes the methods its own rules leave on its path: that is what rules are for.
      if (own.kind === 'route' && own.route.ruleOf === r.name) continue;
      add(lost, taker(own), m);
    }
    if (lost.size === 0) continue;
    warnings.push(
      reached
        ? { kind: 'partly_shadowed', route: r.name, by: takers(lost), message: `${describe(r)} never gets some of its methods: ${grouped(lost, methodsOf(r))} (the first route at a host and path that takes a method wins; GET takes HEAD too)` }
        : { kind: 'shadowed', route: r.name, by: takers(lost), message: `${describe(r)} is never matched: ${grouped(lost, methodsOf(r))} (the first route at a host and path that takes a method wins; GET takes HEAD too)` },
    );
  }

  // Host precedence: a route with a longer path loses to a route of a more specific host.
  const seen = new Set<string>();
  for (const l of routes) {
    if (l.host !== undefined && !l.host.startsWith('*.')) continue;
    for (const h of routes) {
      if (!hostWithin(h, l) || !strictlyUnder(l, h)) continue;
      const host = hostFor(h);
      if (seen.has(`${l.name}\n${host}`)) continue;
      seen.add(`${l.name}\n${host}`);
      const lost = new Map<string, string[]>();
      for (const m of methodsOf(l)) {
        const got = table.match(host, child(l.prefix), m);
        if (!(got.kind === 'route' && got.route === l)) add(lost, taker(got), m);
      }
      if (lost.size === 0) continue;
      const on = h.host?.startsWith('*.') ? `hosts ${h.host}` : `host ${h.host ?? ''}`;
      warnings.push({
        kind: 'host_precedence',
        route: l.name,
        by: takers(lost),
        message: `${describe(l)} never gets requests for ${on}, although its path is longer than that of ${describe(h)}: there, ${grouped(lost, methodsOf(l))} (the most specific host is chosen before the longest path)`,
      });
    }
  }

  // Method gaps: a longer prefix taking only some methods answers 405 for the rest, where a
  // shorter prefix's route would have taken them (a request never falls back to a looser route).
  for (const t of routes) {
    if (t.methods === null || t.prefix === '/') continue;
    const host = hostFor(t);
    const level = (r: Matchable) => r.host === t.host && (t.caseInsensitive || r.caseInsensitive ? fold(r.prefix) === fold(t.prefix) : r.prefix === t.prefix);
    // Asked once per route with methods: without its level, where would its path go?
    let without: RouteTable<R> | undefined;
    const gaps = new Map<string, string[]>();
    for (const m of HTTP_METHODS) {
      if (t.methods.has(m)) continue;
      const got = table.match(host, t.prefix, m);
      if (got.kind !== 'method_not_allowed') continue;
      without ??= new RouteTable(routes.filter((r) => !level(r)), opts);
      const fallback = without.match(host, t.prefix, m);
      if (fallback.kind !== 'route' || sameRoute(fallback.route, t)) continue;
      add(gaps, fallback.route.name, m);
    }
    for (const [f, ms] of gaps) {
      const fr = routes.find((r) => r.name === f) as R;
      warnings.push({
        kind: 'method_gap',
        route: f,
        by: t.name,
        message: `${describe(fr)} never gets ${ms.join(', ')} requests to ${t.prefix}${t.host === undefined ? '' : ` on ${t.host}`}: ${describe(t)} takes that path and answers them 405 (a request never falls back to a shorter prefix)`,
      });
    }
  }
  return warnings;
}
