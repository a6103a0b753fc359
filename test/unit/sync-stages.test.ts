// A cache-hit request goes through its stages without a promise (bench/README.md: each await is a
// microtask and a promise per request); anything that must wait still runs, in order, after it.
import { describe, expect, it } from 'vitest';
import { MemoryBus } from '../../src/adapters/memory/bus.js';
import { MemorySessionStore } from '../../src/adapters/memory/session-store.js';
import { GatewayError } from '../../src/errors.js';
import { runStages } from '../../src/http/resolve.js';
import { authenticateStage, type Authenticator } from '../../src/pipeline/authn/authenticator.js';
import { sessionCookieAuthenticator } from '../../src/pipeline/authn/session-cookie.js';
import type { CompiledRoute, Exchange, Stage } from '../../src/pipeline/exchange.js';
import type { Principal } from '../../src/pipeline/principal.js';
import { SessionService } from '../../src/sessions/service.js';

const noop = () => undefined;
const observer = { cache: noop, storeCall: noop, created: noop, revoked: noop, unreadable: noop };
const settings = { idleTimeoutMs: 3_600_000, absoluteTimeoutMs: 7_200_000, touchIntervalMs: 60_000, cacheMaxEntries: 100 };

function exchange(cookie?: string): Exchange {
  return { req: { headers: cookie ? { cookie } : {}, method: 'GET' }, principal: undefined, upstreamHeaders: [] } as unknown as Exchange;
}

function stageOf(authenticators: Authenticator[], outcomes: string[] = []): Stage {
  return authenticateStage(authenticators, {
    routeName: 'r',
    loginRedirect: undefined,
    challenge: 'Cookie',
    outcomes: { outcome: (_route, result, reason) => outcomes.push(`${result} ${reason}`) },
  });
}

const principal = (sub: string): Principal => ({ sub, claims: {}, via: 'session', sessionHandle: `h-${sub}` });

describe('the synchronous cache-hit path', () => {
  it('a cached session is resolved without a promise; a cache miss and a due touch are waited for', async () => {
    let now = 1_000_000;
    const clock = { now: () => now };
    const svc = new SessionService(new MemorySessionStore(clock), new MemoryBus(), clock, { ...settings, cacheTtlMs: 3_600_000 }, observer);
    const { id } = await svc.create({ sub: 'u', claims: {}, clientIp: '127.0.0.1', userAgent: 'test' });
    const first = svc.resolve(id);
    expect(first).toBeInstanceOf(Promise); // not cached yet: the store is read
    expect(await first).toMatchObject({ kind: 'active' });
    const hit = svc.resolve(id);
    expect(hit).not.toBeInstanceOf(Promise);
    expect(hit).toMatchObject({ kind: 'active', session: { sub: 'u' } });
    expect(svc.resolve('malformed')).toEqual({ kind: 'invalid', reason: 'malformed' });
    now += settings.touchIntervalMs; // a touch is due: a store write, waited for
    const touched = svc.resolve(id);
    expect(touched).toBeInstanceOf(Promise);
    expect(await touched).toMatchObject({ kind: 'active', session: { lastSeenAt: now } });
    now += settings.idleTimeoutMs; // idle too long: refused at once, from the cache
    expect(svc.resolve(id)).toEqual({ kind: 'invalid', reason: 'expired' });
  });

  it('the session route stage returns nothing on a cache hit and sets the principal', async () => {
    const clock = { now: () => 1_000_000 };
    const svc = new SessionService(new MemorySessionStore(clock), new MemoryBus(), clock, { ...settings, cacheTtlMs: 3_600_000 }, observer);
    const { id } = await svc.create({ sub: 'u', claims: {}, clientIp: '127.0.0.1', userAgent: 'test' });
    const stage = stageOf([sessionCookieAuthenticator(svc, 'gw', { secure: false, sameSite: 'lax', path: '/' })]);
    const miss = exchange(`gw=${id}`);
    await stage(miss); // the first request reads the store
    const ex = exchange(`gw=${id}`);
    expect(stage(ex)).toBeUndefined();
    expect(ex.principal?.sub).toBe('u');
  });

  it('runs every stage in order, synchronously until one waits, then the rest after it', async () => {
    const order: string[] = [];
    const sync = (name: string): Stage => () => void order.push(name);
    const later = (name: string): Stage => () => Promise.resolve().then(() => void order.push(name));
    const route = (stages: Stage[]) => ({ stages }) as unknown as CompiledRoute;
    expect(runStages(route([sync('a'), sync('b')]), exchange())).toBeUndefined();
    expect(order).toEqual(['a', 'b']);
    order.length = 0;
    const pending = runStages(route([sync('a'), later('b'), sync('c'), later('d'), sync('e')]), exchange());
    expect(order).toEqual(['a']);
    await pending;
    expect(order).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('mixed authenticators keep their order and contract: first answer wins, "not mine" passes on, "wrong" refuses', async () => {
    const sync = (id: string, answer: Principal | undefined): Authenticator => ({ id, authenticate: () => answer });
    const later = (id: string, answer: Principal | undefined): Authenticator => ({ id, authenticate: () => Promise.resolve(answer) });
    const failing = (id: string): Authenticator => ({
      id,
      authenticate: () => Promise.reject(new GatewayError('invalid_token')),
    });
    const cases: [Authenticator[], string | undefined, string][] = [
      [[later('a', undefined), sync('b', principal('b'))], 'b', 'authenticated b'],
      [[later('a', undefined), later('b', undefined), sync('c', principal('c'))], 'c', 'authenticated c'],
      [[sync('a', undefined), later('b', principal('b')), sync('c', principal('c'))], 'b', 'authenticated b'],
      [[later('a', principal('a')), sync('b', principal('b'))], 'a', 'authenticated a'],
      [[later('a', undefined), sync('b', undefined)], undefined, 'refused unauthenticated'],
      [[later('a', undefined), failing('b'), sync('c', principal('c'))], undefined, 'refused invalid_token'],
    ];
    for (const [authenticators, sub, outcome] of cases) {
      const outcomes: string[] = [];
      const ex = exchange();
      const run = async () => stageOf(authenticators, outcomes)(ex);
      if (sub) {
        await run();
        expect(ex.principal?.sub).toBe(sub);
      } else {
        const err = await run().then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(GatewayError);
        expect((err as GatewayError).status).toBe(401);
        expect(ex.principal).toBeUndefined();
      }
      expect(outcomes).toEqual([outcome]);
    }
  });

  it('a synchronous refusal is the same 401 as an asynchronous one', async () => {
    const wrong: Authenticator = {
      id: 'x',
      authenticate: () => {
        throw new GatewayError('invalid_token');
      },
    };
    const outcomes: string[] = [];
    const stage = stageOf([wrong], outcomes);
    expect(() => stage(exchange())).toThrow(GatewayError);
    expect(outcomes).toEqual(['refused invalid_token']);
  });
});
