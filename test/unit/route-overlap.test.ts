// What check-config warns about in a route table (routing/overlap.ts), and the table's own account of
// a match that `gateway explain` prints (RouteTable.explain).
import { describe, expect, it } from 'vitest';
import { routeWarnings } from '../../src/compose/explain.js';
import { loadConfig } from '../../src/config/load.js';
import type { RouteConfig } from '../../src/config/routes-schema.js';
import { routesSchema } from '../../src/config/routes-schema.js';
import { routeMatchables } from '../../src/pipeline/route.js';
import { routeOverlaps, type OverlapRoute } from '../../src/routing/overlap.js';
import { RouteTable } from '../../src/routing/table.js';

const r = (name: string, prefix: string, opts: { host?: string; methods?: string[]; ruleOf?: string; caseInsensitive?: boolean } = {}): OverlapRoute => ({
  name,
  prefix,
  host: opts.host,
  methods: opts.methods ? new Set(opts.methods.includes('GET') ? [...opts.methods, 'HEAD'] : opts.methods) : null,
  caseInsensitive: opts.caseInsensitive ?? false,
  ruleOf: opts.ruleOf,
});

const kinds = (routes: OverlapRoute[]) => routeOverlaps(routes).map((w) => [w.kind, w.route, w.by]);

describe('routeOverlaps', () => {
  it('finds a route no request reaches: an earlier route at its host and path takes its every method (GET takes HEAD)', () => {
    const w = routeOverlaps([r('page', '/x', { methods: ['GET'] }), r('head-only', '/x', { methods: ['HEAD'] })]);
    expect(w).toHaveLength(1);
    expect(w[0]).toMatchObject({ kind: 'shadowed', route: 'head-only', by: 'page' });
    expect(w[0]?.message).toMatch(/"head-only" \(any host, \/x, HEAD\) is never matched: HEAD requests go to "page"/);
  });

  it('finds a route that loses some of its methods to an earlier one', () => {
    expect(kinds([r('page', '/x', { methods: ['GET'] }), r('more', '/x', { methods: ['HEAD', 'POST'] })])).toEqual([['partly_shadowed', 'more', 'page']]);
  });

  it('finds a longer path losing to a more specific host, exact or wildcard, and says what happens there', () => {
    const w = routeOverlaps([r('site', '/', { host: 'a.example.com', methods: ['GET'] }), r('admin', '/admin', { methods: ['GET', 'DELETE'] })]);
    expect(w).toHaveLength(1);
    expect(w[0]).toMatchObject({ kind: 'host_precedence', route: 'admin' });
    expect(w[0]?.message).toContain('"admin" (any host, /admin, DELETE GET HEAD) never gets requests for host a.example.com');
    expect(w[0]?.message).toContain('GET, HEAD requests go to "site"; DELETE requests are answered 405 (Allow: GET, HEAD)');
    expect(w[0]?.message).toContain('the most specific host is chosen before the longest path');
    expect(kinds([r('tenants', '/', { host: '*.example.com' }), r('api', '/api')])).toEqual([['host_precedence', 'api', 'tenants']]);
    expect(kinds([r('eu', '/', { host: '*.eu.example.com' }), r('all', '/api', { host: '*.example.com' })])).toEqual([['host_precedence', 'all', 'eu']]);
  });

  it('says nothing when the more specific host has the longer path, or when the hosts never meet', () => {
    expect(kinds([r('root', '/'), r('api', '/api', { host: 'a.example.com' })])).toEqual([]);
    expect(kinds([r('a', '/', { host: 'a.example.com' }), r('b', '/admin', { host: '*.other.com' })])).toEqual([]);
    expect(kinds([r('a', '/api', { host: 'a.example.com' }), r('b', '/api')])).toEqual([]);
  });

  it('finds a longer prefix that answers 405 for methods a shorter route would take', () => {
    const w = routeOverlaps([r('orders', '/api/orders'), r('orders-admin', '/api/orders/admin', { methods: ['POST'] })]);
    expect(w).toHaveLength(1);
    expect(w[0]).toMatchObject({ kind: 'method_gap', route: 'orders', by: 'orders-admin' });
    expect(w[0]?.message).toMatch(/^"orders" \(any host, \/api\/orders\) never gets GET, HEAD, PUT, PATCH, DELETE, OPTIONS, TRACE, CONNECT requests to \/api\/orders\/admin/);
  });

  it('leaves a route\'s own rules alone: they are meant to take its methods (rules docs)', () => {
    expect(
      kinds([
        r('app.assets', '/app/assets', { ruleOf: 'app' }),
        r('app.hook', '/app/hook', { ruleOf: 'app', methods: ['POST'] }),
        r('app.read', '/app', { ruleOf: 'app', methods: ['GET'] }),
        r('app', '/app'),
        r('root', '/'),
      ]),
    ).toEqual([]);
  });

  it('finds nothing in the shipped routes', async () => {
    const cfg = await loadConfig('config/gateway.yaml', { ...process.env });
    expect(routeWarnings(cfg)).toEqual([]);
  });
});

describe('routeMatchables', () => {
  it('expands rules before their route, as the table matches them', () => {
    const file = routesSchema.parse({
      routes: [
        {
          name: 'app',
          match: { path: '/app/', methods: ['GET', 'POST'] },
          upstream: { url: 'http://u' },
          auth: 'session',
          rules: [{ name: 'hook', path: '/app/hook', methods: ['POST'], auth: 'public' }],
        },
      ],
    }).routes as RouteConfig[];
    const m = routeMatchables(file, { caseInsensitive: true, refuseAmbiguousPaths: true });
    expect(m.map((x) => [x.name, x.ruleOf, x.prefix, x.methods && [...x.methods].sort(), x.caseInsensitive])).toEqual([
      ['app.hook', 'app', '/app/hook', ['POST'], true],
      ['app', undefined, '/app', ['GET', 'HEAD', 'POST'], true],
    ]);
  });
});

describe('RouteTable.explain', () => {
  const table = new RouteTable([
    r('root', '/'),
    r('api', '/api'),
    r('orders', '/api/orders', { methods: ['GET'] }),
    r('site', '/', { host: 'a.example.com' }),
    r('tenants', '/api', { host: '*.example.com' }),
    r('Docs', '/Docs', { caseInsensitive: true }),
  ]);

  it('names the tiers for the host, the levels of the path in each, and which decided', () => {
    const e = table.explain('b.example.com', '/api/orders/1', 'GET');
    expect(e.result).toEqual(table.match('b.example.com', '/api/orders/1', 'GET'));
    expect(e.result.kind === 'route' && e.result.route.name).toBe('tenants');
    expect(e.tiers.map((t) => [t.tier, t.host, t.consulted, t.decided, t.levels.map((l) => l.prefix)])).toEqual([
      ['wildcard', '*.example.com', true, true, ['/api']],
      ['any', undefined, false, false, ['/api/orders', '/api', '/']],
    ]);
    const any = table.explain('other.test', '/api/orders/1', 'GET');
    expect(any.tiers.map((t) => [t.tier, t.decided, t.levels.map((l) => l.routes.map((x) => x.route.name))])).toEqual([['any', true, [['orders'], ['api'], ['root']]]]);
  });

  it('shows a longest prefix refusing the method, and a caseInsensitive route matched folded', () => {
    const e = table.explain('x.test', '/api/orders/1', 'POST');
    expect(e.result).toEqual({ kind: 'method_not_allowed', allow: 'GET, HEAD' });
    expect(e.tiers[0]?.levels[0]?.prefix).toBe('/api/orders');
    const docs = table.explain('x.test', '/DOCS/Intro', 'GET');
    expect(docs.foldedPath).toBe('/docs/intro');
    expect(docs.tiers[0]?.levels[0]?.routes).toEqual([{ route: expect.objectContaining({ name: 'Docs' }), folded: true }]);
    expect(docs.lenientChecked).toBe(true);
  });

  it('shows an ambiguous path: the lenient reading selects another route', () => {
    const t = new RouteTable([r('root', '/'), r('admin', '/admin')]);
    const e = t.explain('x.test', '/ADMIN/x', 'GET');
    expect(e.result.kind).toBe('ambiguous');
    expect(e.result.kind === 'ambiguous' && [e.result.route.name, e.result.lenient?.name]).toEqual(['root', 'admin']);
    expect(e.lenientChecked).toBe(true);
    expect(t.explain('x.test', '/admin/x', 'GET').lenientChecked).toBe(false);
  });
});
