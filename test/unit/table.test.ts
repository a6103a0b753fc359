import { describe, expect, it } from 'vitest';
import { RouteTable, type Matchable } from '../../src/routing/table.js';

interface R extends Matchable {
  name: string;
}
const r = (name: string, prefix: string, host?: string, methods?: string[], caseInsensitive = false): R => ({
  name,
  prefix,
  host,
  methods: methods ? new Set(methods) : null,
  caseInsensitive,
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

  it('answers 405 when the longest prefix refuses the method: never a shorter, less protected prefix', () => {
    expect(table.match('x.test', '/api/orders/admin', 'GET')).toEqual({ kind: 'method_not_allowed', allow: 'POST' });
    expect(table.match('x.test', '/api/orders/admin/1', 'DELETE')).toEqual({ kind: 'method_not_allowed', allow: 'POST' });
  });

  it('answers 405 rather than falling back to a less specific host', () => {
    const t = new RouteTable<R>([r('open', '/'), r('hosted', '/', 'admin.example.com', ['GET'])]);
    expect(t.match('admin.example.com', '/x', 'DELETE')).toEqual({ kind: 'method_not_allowed', allow: 'GET' });
    expect(matchName(t, 'other.example.com', '/x', 'DELETE')).toBe('open');
  });

  it('picks, among routes at one prefix, the first that accepts the method', () => {
    const t = new RouteTable<R>([r('read', '/items', undefined, ['GET']), r('write', '/items', undefined, ['POST', 'DELETE'])]);
    expect(matchName(t, 'h', '/items/1', 'GET')).toBe('read');
    expect(matchName(t, 'h', '/items/1', 'DELETE')).toBe('write');
    expect(t.match('h', '/items/1', 'PUT')).toEqual({ kind: 'method_not_allowed', allow: 'DELETE, GET, POST' });
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

describe('RouteTable: paths a lenient backend reads differently', () => {
  const table = new RouteTable<R>([r('root', '/'), r('admin', '/admin'), r('public', '/public'), r('vault', '/public/vault')]);
  const kind = (path: string, method = 'GET', t = table) => {
    const m = t.match('h', path, method);
    return m.kind === 'ambiguous' ? `ambiguous:${m.route.name}->${m.lenient?.name ?? 'none'}` : m.kind === 'route' ? m.route.name : m.kind;
  };

  it.each([
    ['/ADMIN/users', 'ambiguous:root->admin'],
    ['/Admin', 'ambiguous:root->admin'],
    ['/public/VAULT/x', 'ambiguous:public->vault'],
    ['/admin./x', 'ambiguous:root->admin'],
    ['/admin ', 'ambiguous:root->admin'],
    ['/admin. . /x', 'ambiguous:root->admin'],
    ['/ａｄｍｉｎ/x', 'ambiguous:root->admin'],
    ['/ADMİN', 'ambiguous:root->admin'],
    ['/admin::$DATA', 'ambiguous:root->admin'],
    ['/admin::$data/x', 'ambiguous:root->admin'],
    ['/Ādmin', 'ambiguous:root->admin'],
    ['/admìn', 'ambiguous:root->admin'],
    ['/admin\u00a0', 'ambiguous:root->admin'],
    ['/adminſ', 'root'],
    ['/ıd', 'root'],
  ])('%s → %s', (path, expected) => expect(kind(path)).toBe(expected));

  it('folds the long s and the Kelvin sign the way Java equalsIgnoreCase does', () => {
    const t = new RouteTable<R>([r('root', '/'), r('secret', '/secret'), r('kv', '/kv')]);
    expect(kind('/ſecret', 'GET', t)).toBe('ambiguous:root->secret');
    expect(kind('/\u212Av', 'GET', t)).toBe('ambiguous:root->kv');
  });

  it('lets through what every reading sends to the same route', () => {
    expect(kind('/Images/Logo.PNG')).toBe('root');
    expect(kind('/admin/Users')).toBe('admin');
    expect(kind('/public/Readme.')).toBe('public');
    expect(kind('/admin/x')).toBe('admin');
  });

  it('checks every request when a route path itself has upper case', () => {
    const t = new RouteTable<R>([r('root', '/'), r('reports', '/Reports')]);
    expect(kind('/reports/1', 'GET', t)).toBe('ambiguous:root->reports');
    expect(kind('/Reports/1', 'GET', t)).toBe('reports');
  });

  it('is ambiguous when the lenient reading refuses the method', () => {
    const t = new RouteTable<R>([r('root', '/'), r('ro', '/ro', undefined, ['GET'])]);
    expect(kind('/RO/1', 'DELETE', t)).toBe('ambiguous:root->none');
  });

  it('can be turned off', () => {
    const t = new RouteTable<R>([r('root', '/'), r('admin', '/admin')], { refuseAmbiguous: false });
    expect(kind('/ADMIN', 'GET', t)).toBe('root');
  });

  it('matches caseInsensitive routes by their folded prefix, exact-case routes first', () => {
    const t = new RouteTable<R>([r('root', '/'), r('iis', '/Legacy', undefined, undefined, true), r('exact', '/legacy/exact')]);
    expect(kind('/LEGACY/page', 'GET', t)).toBe('iis');
    expect(kind('/legacy./page', 'GET', t)).toBe('iis');
    expect(kind('/legacy/exact/1', 'GET', t)).toBe('exact');
    expect(kind('/legacy/EXACT/1', 'GET', t)).toBe('ambiguous:iis->exact');
  });
});
