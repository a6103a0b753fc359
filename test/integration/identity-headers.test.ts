// Identity headers for a backend that cannot verify a JWT: a real WSGI app (wsgiref) that reads
// who the user is from headers sees the signed-in user, never a client's spoofed value in any
// spelling WSGI folds together, and no internal token when the route sends none.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identityHeadersStage } from '../../src/pipeline/identity-headers.js';
import type { Exchange } from '../../src/pipeline/exchange.js';
import { route } from '../support/gateway.js';
import { startWsgiUpstream, type WsgiUpstream } from '../support/legacy/wsgi.js';
import { startSessionEnv, type SessionEnv } from '../support/session-gateway.js';

let wsgi: WsgiUpstream;
let env: SessionEnv;
beforeAll(async () => {
  wsgi = await startWsgiUpstream();
  const identityHeaders = { 'X-Forwarded-User': 'sub', 'Remote-User': 'sub', 'X-Forwarded-Email': 'email', 'X-Forwarded-Groups': { from: 'roles', join: ';' } };
  env = await startSessionEnv({
    routes: () => [
      { ...route('legacy', '/legacy', wsgi.url, { upstream: { stripPrefix: true } }), auth: 'session', identityHeaders, token: { send: false } },
      { ...route('open', '/open', wsgi.url, { upstream: { stripPrefix: true } }), identityHeaders },
    ],
  });
});
afterAll(async () => {
  await env?.close();
  await wsgi?.close();
});

const spoof = {
  'x-forwarded-user': 'u-root',
  x_forwarded_user: 'u-root',
  'remote-user': 'u-root',
  remote_user: 'u-root',
  'x-forwarded-email': 'root@example.com',
  'x-forwarded-groups': 'admin',
};

describe('identity headers', () => {
  it('carry the signed-in user to a WSGI app, whatever the client sent in any spelling, and no token when told not to', async () => {
    const alice = await env.login('alice');
    const res = await env.get('/legacy/whoami', alice, spoof);
    expect(res.status).toBe(200);
    await wsgi.settle();
    const seen = wsgi.received.at(-1)?.env ?? {};
    expect(seen.HTTP_X_FORWARDED_USER).toBe('u-alice');
    expect(seen.HTTP_REMOTE_USER).toBe('u-alice');
    expect(seen.HTTP_X_FORWARDED_EMAIL).toBe('alice@example.com');
    expect(seen.HTTP_X_FORWARDED_GROUPS).toBe('user');
    expect(seen.HTTP_AUTHORIZATION).toBeUndefined();
    expect(JSON.stringify(seen)).not.toContain('u-root');
  });

  it('are never filled by a client on a public route', async () => {
    const res = await env.get('/open/x', undefined, spoof);
    expect(res.status).toBe(200);
    await wsgi.settle();
    const seen = wsgi.received.at(-1)?.env ?? {};
    expect(seen.HTTP_X_FORWARDED_USER).toBeUndefined();
    expect(seen.HTTP_REMOTE_USER).toBeUndefined();
    expect(JSON.stringify(seen)).not.toContain('u-root');
  });

  it('never let two values arrive alike: %, edge spaces and the list separator are encoded, blank values left out', () => {
    const stage = identityHeadersStage({ 'X-User': 'sub', 'X-Groups': { from: 'groups', join: ',' }, 'X-Blank': 'blank' });
    const run = (sub: string, groups: unknown[]) => {
      const ex = { principal: { sub, via: 'session', sessionHandle: 'h', claims: { groups, blank: '   ' } }, upstreamHeaders: [] as string[] };
      void stage?.(ex as unknown as Exchange);
      return ex.upstreamHeaders;
    };
    // röot and a user who chose the name "r%C3%B6ot" arrive as different users.
    expect(run('röot', [])[1]).toBe('r%C3%B6ot');
    expect(run('r%C3%B6ot', [])[1]).toBe('r%25C3%25B6ot');
    expect(run(' root', [])[1]).toBe('%20root');
    // One group named "user,admin" is not two groups.
    expect(run('u', ['user,admin', 'ops'])).toEqual(['x-user', 'u', 'x-groups', 'user%2Cadmin,ops']);
  });

  it('percent-encode what is not printable ASCII, join lists, and leave out what the principal lacks', () => {
    const stage = identityHeadersStage({ 'X-User': 'sub', 'X-Name': 'name', 'X-Groups': { from: 'org.groups', join: ',' }, 'X-Missing': 'nope' });
    const ex = { principal: { sub: 'u1', via: 'session', sessionHandle: 'h', claims: { name: 'Zoë\r\nX-Admin: 1', org: { groups: ['a', 'b c'] } } }, upstreamHeaders: [] as string[] };
    void stage?.(ex as unknown as Exchange);
    expect(ex.upstreamHeaders).toEqual(['x-user', 'u1', 'x-name', 'Zo%C3%AB%0D%0AX-Admin%3A%201', 'x-groups', 'a,b c']);
  });
});
