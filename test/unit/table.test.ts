import { describe, expect, it } from 'vitest';
import { RouteTable, type Matchable } from '../../src/routing/table.js';

interface R extends Matchable {
  name: string;
}
const r = (name: string, prefix: string, host?: string, methods?: string[]): R => ({
  name,
  prefix,
  host,
  methods: methods ? new Set(methods) : null,
});

function matchName(t: RouteTable<R>, host: string, path: string, method = 'GET'): string {
  const m = t.match(host, path, method);
  return m.kind === 'route' ? m.route.name : m.kind;
}

describe('RouteTable', () => {
  const table = new RouteTable<R>([
    r('root', '/'),
    r('api', '/api'),
    r('orders', '/api/orders'),
    r('orders-write', '/api/orders/admin', undefined, ['POST']),
    r('exact-host', '/api', 'api.example.com'),
    r('wild', '/', '*.example.com'),
    r('deep-wild', '/', '*.eu.example.com'),
  ]);

  it('matches prefixes on segment boundaries only', () => {
    expect(matchName(table, 'x.test', '/api/orders')).toBe('orders');
    expect(matchName(table, 'x.test', '/api/orders/1')).toBe('orders');
    expect(matchName(table, 'x.test', '/api/orders/')).toBe('orders');
    expect(matchName(table, 'x.test', '/api/ordersX')).toBe('api');
    expect(matchName(table, 'x.test', '/apiX')).toBe('root');
  });

  it('prefers the longest path', () => {
    expect(matchName(table, 'x.test', '/api/orders/admin/1', 'POST')).toBe('orders-write');
  });

  it('falls back to a shorter prefix when the longer one refuses the method', () => {
    expect(matchName(table, 'x.test', '/api/orders/admin', 'GET')).toBe('orders');
  });

  it('prefers the most specific host, then the longest path', () => {
    expect(matchName(table, 'api.example.com', '/api/orders')).toBe('exact-host');
    expect(matchName(table, 'api.example.com', '/other')).toBe('wild');
    expect(matchName(table, 'a.eu.example.com', '/x')).toBe('deep-wild');
    expect(matchName(table, 'a.b.example.com', '/x')).toBe('wild');
  });

  it('does not let a wildcard match the apex', () => {
    expect(matchName(table, 'example.com', '/x')).toBe('root');
  });

  it('reports 405 with the allowed methods when only the method is wrong', () => {
    const t = new RouteTable<R>([r('w', '/w', undefined, ['POST', 'PUT'])]);
    expect(t.match('h', '/w/1', 'GET')).toEqual({ kind: 'method_not_allowed', allow: 'POST, PUT' });
    expect(t.match('h', '/x', 'GET')).toEqual({ kind: 'none' });
  });
});
